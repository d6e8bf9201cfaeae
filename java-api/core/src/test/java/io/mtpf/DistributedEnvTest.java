package io.mtpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** torchrun's variables read as torchrun sets them, and the wrong ones refused naming the variable. */
class DistributedEnvTest {
  @Test
  void torchrunWithItsAgentStore() {
    Distributed.Env e = Distributed.Env.from(Map.of("RANK", "3", "LOCAL_RANK", "1", "WORLD_SIZE", "8",
        "LOCAL_WORLD_SIZE", "2", "MASTER_ADDR", "node0", "MASTER_PORT", "29400", "TORCHELASTIC_USE_AGENT_STORE", "True",
        "TORCHELASTIC_RESTART_COUNT", "2"));
    assertTrue(e.distributed());
    assertEquals(3, e.rank());
    assertEquals(1, e.localRank());
    assertEquals(2, e.localWorldSize());
    assertTrue(e.agentStore());
    assertEquals(2, e.restartCount());
    assertTrue(e.json().contains("\"master_addr\":\"node0\""), e.json());
    assertTrue(e.overlap());
    assertTrue(e.json().contains("\"overlap\":true"), e.json());
  }

  @Test
  void overlapCanBeTurnedOff() {
    Map<String, String> job = Map.of("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "h", "MASTER_PORT", "1",
        "MTPF_DIST_OVERLAP", "0");
    assertFalse(Distributed.Env.from(job).overlap());
    assertTrue(Distributed.Env.from(job).json().contains("\"overlap\":false"));
    var e = assertThrows(MtpfException.class, () -> Distributed.Env.from(Map.of("RANK", "0", "WORLD_SIZE", "2",
        "MASTER_ADDR", "h", "MASTER_PORT", "1", "MTPF_DIST_OVERLAP", "sometimes")));
    assertTrue(e.getMessage().contains("MTPF_DIST_OVERLAP"), e.getMessage());
  }

  @Test
  void noJobIsOneProcess() {
    assertFalse(Distributed.Env.from(Map.of()).distributed());
    assertFalse(Distributed.Env.from(Map.of("WORLD_SIZE", "1", "RANK", "0")).distributed());
  }

  @Test
  void missingOrBadVariablesAreNamed() {
    var e = assertThrows(MtpfException.class,
        () -> Distributed.Env.from(Map.of("WORLD_SIZE", "2", "RANK", "0", "MASTER_PORT", "1")));
    assertTrue(e.getMessage().contains("MASTER_ADDR"), e.getMessage());
    e = assertThrows(MtpfException.class, () -> Distributed.Env.from(Map.of("WORLD_SIZE", "two")));
    assertTrue(e.getMessage().contains("WORLD_SIZE"), e.getMessage());
    e = assertThrows(MtpfException.class, () -> Distributed.Env.from(Map.of("WORLD_SIZE", "2", "RANK", "2",
        "MASTER_ADDR", "h", "MASTER_PORT", "1")));
    assertTrue(e.getMessage().contains("RANK"), e.getMessage());
  }

  @Test
  void threadsAreSharedAmongLocalRanks() {
    int cores = Runtime.getRuntime().availableProcessors();
    assertEquals(Math.max(1, cores / 2), NativeCore.defaultThreads(Map.of("LOCAL_WORLD_SIZE", "2")));
    assertEquals(3, NativeCore.defaultThreads(Map.of("OMP_NUM_THREADS", "3", "LOCAL_WORLD_SIZE", "2")));
    assertEquals(cores, NativeCore.defaultThreads(Map.of()));
  }
}
