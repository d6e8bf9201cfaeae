package io.mtpf.pretrain;

import io.mtpf.MtpfException;
import io.mtpf.NativeCalls;
import io.mtpf.files.AtomicFiles;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code mtpf pretrain --nproc N} on a host without Python (no torchrun): starts N ranks of the run as child JVMs
 * with torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each with
 * the cores divided among them, and waits. When a rank fails, the others are stopped and the error names it (its
 * own message is above, on the shared console).
 */
final class LocalLauncher {
  private LocalLauncher() {}

  static Pretrainer.Result run(RunConfig c, Pretrainer.Options o) {
    long t0 = System.nanoTime();
    int n = o.nproc();
    Path out = Path.of(c.out);
    Path config = out.resolve("launch").resolve("run.yaml");
    try {
      Files.createDirectories(config.getParent());
    } catch (IOException e) {
      throw new MtpfException(out + ": cannot create the run folder (" + e.getMessage() + ")", e);
    }
    AtomicFiles.write(config, "the ranks' run config", tmp -> Files.writeString(tmp, c.toYaml()));
    int port = freePort();
    o.console().printf("distributed: starting %d local ranks (Gloo on 127.0.0.1:%d), %d threads each%n", n, port,
        Math.max(1, Runtime.getRuntime().availableProcessors() / n));
    List<Process> ranks = new ArrayList<>();
    // Ctrl-C or a kill of the launcher is passed on to its ranks as SIGTERM: they agree on a step, rank 0 checkpoints
    // it, and the launcher exits after them (within the grace of NativeCalls; a kill -9 cannot run this: the ranks
    // watch the launcher).
    Thread stopRanks = new Thread(() -> stopRanks(ranks), "mtpf-stop-ranks");
    Runtime.getRuntime().addShutdownHook(stopRanks);
    try {
      for (int r = 0; r < n; r++) ranks.add(start(r, n, port, config, o));
      waitAll(ranks);
    } finally {
      for (Process p : ranks) p.destroyForcibly();
      try {
        Runtime.getRuntime().removeShutdownHook(stopRanks);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs anyway
      }
    }
    return MetricsLog.summary(out, (System.nanoTime() - t0) / 1e9);
  }

  private static Process start(int rank, int n, int port, Path config, Pretrainer.Options o) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
      if (!a.startsWith("-agentlib:jdwp")) cmd.add(a);  // heap size, system properties: as this JVM's
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.mtpf.cli.Main", "pretrain", "--config",
        config.toString(), "--models-dir", o.modelsDir().toString()));
    if (o.resume()) cmd.add("--resume");
    if (o.offline()) cmd.add("--offline");
    ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
    Map<String, String> env = pb.environment();
    env.put("RANK", Integer.toString(rank));
    env.put("LOCAL_RANK", Integer.toString(rank));
    env.put("WORLD_SIZE", Integer.toString(n));
    env.put("LOCAL_WORLD_SIZE", Integer.toString(n));
    env.put("MASTER_ADDR", "127.0.0.1");
    env.put("MASTER_PORT", Integer.toString(port));
    env.remove("TORCHELASTIC_USE_AGENT_STORE");
    env.put("MTPF_LAUNCHED", "1");  // the launcher reports the run, not rank 0
    env.put("MTPF_LAUNCHER_PID", Long.toString(ProcessHandle.current().pid()));
    try {
      return pb.start();
    } catch (IOException e) {
      throw new MtpfException("cannot start rank " + rank + " (" + cmd.get(0) + "): " + e.getMessage(), e);
    }
  }

  private static volatile boolean stopping;

  private static void stopRanks(List<Process> ranks) {
    stopping = true;
    ranks.forEach(Process::destroy);  // SIGTERM
    long until = System.nanoTime() + NativeCalls.shutdownGraceMillis() * 1_000_000L;
    for (Process p : ranks) {
      try {
        p.waitFor(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      p.destroyForcibly();
    }
  }

  /** Waits for every rank; the first that fails stops the others (after a moment to print their own errors). */
  private static void waitAll(List<Process> ranks) {
    while (true) {
      boolean running = false;
      for (int r = 0; r < ranks.size(); r++) {
        Process p = ranks.get(r);
        if (p.isAlive()) {
          running = true;
          continue;
        }
        int code = p.exitValue();
        if (code != 0 && !stopping) {
          for (Process other : ranks) {
            try {
              other.waitFor(10, TimeUnit.SECONDS);  // the others fail at their next collective; let them say so
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            other.destroyForcibly();
          }
          throw new MtpfException("rank " + r + " of " + ranks.size() + " (pid " + p.pid() + ") exited with code " + code
              + (code > 128 ? " (killed by signal " + (code - 128) + ")" : "") + "; the other ranks were stopped");
        }
      }
      if (!running) return;
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MtpfException("interrupted while waiting for the ranks");
      }
    }
  }

  /**
   * In a rank started by a launcher (MTPF_LAUNCHER_PID): a daemon thread that stops this process when the launcher
   * is gone (killed), instead of training on as an orphan beside a restarted job.
   */
  static void watchLauncher(int rank) {
    String pid = System.getenv("MTPF_LAUNCHER_PID");
    if (pid == null || pid.isBlank()) return;
    var launcher = ProcessHandle.of(Long.parseLong(pid.strip()));
    if (launcher.isEmpty()) return;
    Thread watch = new Thread(() -> {
      while (launcher.get().isAlive()) {
        try {
          Thread.sleep(500);
        } catch (InterruptedException e) {
          return;
        }
      }
      System.err.println("rank " + rank + ": the launcher (pid " + pid.strip() + ") has gone; stopping");
      Runtime.getRuntime().halt(1);
    }, "mtpf-watch-launcher");
    watch.setDaemon(true);
    watch.start();
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new MtpfException("no free port on 127.0.0.1 for the rendezvous: " + e.getMessage(), e);
    }
  }
}
