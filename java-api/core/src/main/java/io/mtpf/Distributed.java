package io.mtpf;

import io.mtpf.nativebind.MtpfNative.NativeDistributedGroup;
import io.mtpf.nativebind.MtpfNative;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;

/**
 * One rank's membership of a data-parallel job on torch.distributed's c10d (Gloo on the CPU, NCCL on CUDA), joined
 * from torchrun's environment. Give it to {@link Trainer#open(java.nio.file.Path, TrainerConfig, Distributed)}:
 * each step then takes this rank's share of the global batch, and losses, metrics and gradients are the global
 * batch's. Owns native memory and sockets: close it after the session.
 *
 * <pre>{@code
 * Distributed.Env env = Distributed.Env.fromEnvironment();   // RANK, WORLD_SIZE, MASTER_ADDR, ... (torchrun)
 * try (Distributed group = Distributed.join(env, "cpu");
 *      Trainer s = Trainer.open(model, config, group)) { ... }
 * }</pre>
 */
public final class Distributed implements AutoCloseable {
  /**
   * Where this rank stands: torchrun's variables. {@code agentStore}: TORCHELASTIC_USE_AGENT_STORE is "True", i.e.
   * torchrun's agent hosts the TCPStore and every rank is a client under /worker/attempt_{restartCount}.
   */
  public record Env(int rank, int worldSize, int localRank, int localWorldSize, String masterAddr, int masterPort,
      boolean agentStore, int restartCount, double timeoutSeconds, boolean overlap) {
    public Env {
      if (worldSize < 1) throw new MtpfException("WORLD_SIZE must be >= 1, got " + worldSize);
      if (rank < 0 || rank >= worldSize)
        throw new MtpfException("RANK must be in [0, " + worldSize + "), got " + rank);
      if (masterPort < 1 || masterPort > 65535) throw new MtpfException("MASTER_PORT out of range: " + masterPort);
    }

    /** One process, no job. */
    public static Env single() {
      return new Env(0, 1, 0, 1, "127.0.0.1", 29500, false, 0, 300, true);
    }

    /** From this process's environment (torchrun, a Kubernetes PyTorchJob, a Slurm wrapper, `--nproc`). */
    public static Env fromEnvironment() {
      return from(System.getenv());
    }

    /**
     * From the given variables; absent WORLD_SIZE means one process. MTPF_DIST_TIMEOUT: seconds (default 300);
     * MTPF_DIST_OVERLAP=0: gradients all-reduced after the backward instead of during it (default 1).
     */
    public static Env from(Map<String, String> env) {
      int world = integer(env, "WORLD_SIZE", 1);
      if (world == 1) return single();
      int rank = integer(env, "RANK", -1);
      if (rank < 0) throw new MtpfException("WORLD_SIZE is " + world + " but RANK is not set");
      String addr = env.get("MASTER_ADDR");
      if (addr == null || addr.isBlank()) throw new MtpfException("WORLD_SIZE is " + world + " but MASTER_ADDR is not set");
      int port = integer(env, "MASTER_PORT", -1);
      if (port < 0) throw new MtpfException("WORLD_SIZE is " + world + " but MASTER_PORT is not set");
      double timeout;
      try {
        timeout = Double.parseDouble(env.getOrDefault("MTPF_DIST_TIMEOUT", "300"));
      } catch (NumberFormatException e) {
        throw new MtpfException("MTPF_DIST_TIMEOUT: not a number of seconds: '" + env.get("MTPF_DIST_TIMEOUT") + "'");
      }
      return new Env(rank, world, integer(env, "LOCAL_RANK", rank), integer(env, "LOCAL_WORLD_SIZE", world), addr,
          port, "True".equalsIgnoreCase(env.getOrDefault("TORCHELASTIC_USE_AGENT_STORE", "")),
          integer(env, "TORCHELASTIC_RESTART_COUNT", 0), timeout, flag(env, "MTPF_DIST_OVERLAP", true));
    }

    private static int integer(Map<String, String> env, String name, int fallback) {
      String v = env.get(name);
      if (v == null || v.isBlank()) return fallback;
      try {
        return Integer.parseInt(v.strip());
      } catch (NumberFormatException e) {
        throw new MtpfException(name + ": not an integer: '" + v + "'");
      }
    }

    private static boolean flag(Map<String, String> env, String name, boolean fallback) {
      String v = env.get(name);
      if (v == null || v.isBlank()) return fallback;
      return switch (v.strip()) {
        case "1", "true", "True" -> true;
        case "0", "false", "False" -> false;
        default -> throw new MtpfException(name + ": expected 1 or 0, got '" + v + "'");
      };
    }

    public boolean distributed() {
      return worldSize > 1;
    }

    String json() {
      return String.format(java.util.Locale.ROOT,
          "{\"rank\":%d,\"world_size\":%d,\"master_addr\":\"%s\",\"master_port\":%d,\"agent_store\":%b,"
              + "\"restart_count\":%d,\"timeout_s\":%s,\"overlap\":%b}",
          rank, worldSize, masterAddr.replace("\\", "\\\\").replace("\"", "\\\""), masterPort, agentStore,
          restartCount, Double.toString(timeoutSeconds), overlap);
    }
  }

  private final Env env;
  private final NativeDistributedGroup group;
  private boolean closed;

  private Distributed(Env env, NativeDistributedGroup group) {
    this.env = env;
    this.group = group;
  }

  /** Joins the job (rank 0 hosts the rendezvous store unless torchrun's agent does); waits for every rank. */
  public static Distributed join(Env env, String device) {
    if (!env.distributed()) throw new MtpfException("Distributed.join: a job of one process needs no group");
    String why = unavailable(device);
    if (!why.isEmpty()) throw new MtpfException("distributed training on " + device + ": " + why);
    return new Distributed(env, NativeCore.call("rank " + env.rank() + " joining the job at " + env.masterAddr()
        + ":" + env.masterPort(), () -> new NativeDistributedGroup(env.json(), device)));
  }

  /** "" when this build can train data-parallel on the device, else the reason. */
  public static String unavailable(String device) {
    return NativeCore.call("distributed", () -> MtpfNative.distributed_unavailable(device));
  }

  public Env env() {
    return env;
  }

  public int rank() {
    return env.rank();
  }

  public int size() {
    return env.worldSize();
  }

  public String backend() {
    return live().backend();
  }

  public void barrier() {
    NativeCore.call("barrier", () -> {
      live().barrier();
      return null;
    });
  }

  /** Rank 0's text on every rank (others pass anything, e.g. ""). */
  public String broadcast(String value) {
    // Base64 keeps the bytes exact whatever the JVM's default charset (JavaCPP's std::string conversion uses it).
    String wire = rank() == 0 ? Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8)) : "";
    String got = NativeCore.call("broadcast", () -> live().broadcast_string(wire));
    return new String(Base64.getDecoder().decode(got), StandardCharsets.UTF_8);
  }

  /** Element-wise sum over ranks, in place. */
  public void allReduceSum(double[] values) {
    if (values == null || values.length == 0) throw new MtpfException("allReduceSum: no values");
    NativeCore.call("all-reduce", () -> {
      live().all_reduce_sum(values, values.length);
      return null;
    });
  }

  NativeDistributedGroup nativeGroup() {
    return live();
  }

  private synchronized NativeDistributedGroup live() {
    if (closed) throw new MtpfException("rank " + env.rank() + ": the process group is closed");
    return group;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      group.close();
    }
  }
}
