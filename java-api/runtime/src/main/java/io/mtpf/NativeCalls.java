package io.mtpf;

import java.util.function.Supplier;

/**
 * Keeps the JVM's exit (SIGTERM, Ctrl-C, System.exit) from tearing native libraries down under a running native call:
 * the exit runs C++ static destructors and unloads OpenMP's pool while a step is still inside libtorch, and the JVM
 * dies in hs_err. A shutdown hook first tells long jobs to stop ({@link #stopRequested}) and waits for those that
 * {@link #hold} the shutdown (a training loop writing its last checkpoint), then refuses new native calls and waits
 * for the running ones — all within {@code MTPF_SHUTDOWN_GRACE_S} seconds (default 60), after which the exit goes on.
 */
public final class NativeCalls {
  private static final Object LOCK = new Object();
  private static int holders;
  /** What each running call is, for the exit's messages; its size is the count the exit waits for. */
  private static final java.util.List<String> running = new java.util.ArrayList<>();
  private static volatile boolean stopRequested;
  private static boolean refusing;

  static {
    try {
      Runtime.getRuntime().addShutdownHook(new Thread(NativeCalls::drain, "mtpf-native-drain"));
    } catch (IllegalStateException alreadyExiting) {
      refusing = true;
    }
  }

  private NativeCalls() {}

  /** Runs {@code body} as one native call: refused (MtpfException) once the JVM is exiting, awaited by the exit. */
  public static <T> T run(String what, Supplier<T> body) {
    synchronized (LOCK) {
      if (refusing) throw new MtpfException(what + ": not started, the JVM is shutting down");
      running.add(what);
    }
    try {
      return body.get();
    } finally {
      synchronized (LOCK) {
        running.remove(what);
        LOCK.notifyAll();
      }
    }
  }

  /** True once the JVM has begun to exit: a long job should stop at its next safe point. */
  public static boolean stopRequested() {
    return stopRequested;
  }

  /** Held by a job that wants to end cleanly on exit (checkpoint, then return); the exit waits for its close. */
  public static Hold hold() {
    synchronized (LOCK) {
      holders++;
    }
    return new Hold();
  }

  /** See {@link #hold()}; closing it a second time does nothing. */
  public static final class Hold implements AutoCloseable {
    private boolean held = true;

    private Hold() {}

    @Override
    public void close() {
      synchronized (LOCK) {
        if (!held) return;
        held = false;
        holders--;
        LOCK.notifyAll();
      }
    }
  }

  /** How long the exit waits for a job to stop (MTPF_SHUTDOWN_GRACE_S, default 60 s); a launcher waits as long. */
  public static long shutdownGraceMillis() {
    return graceMillis(System.getenv("MTPF_SHUTDOWN_GRACE_S"));
  }

  static long graceMillis(String value) {
    if (value == null || value.isBlank()) return 60_000;
    try {
      return Math.max(0, Long.parseLong(value.strip())) * 1000;
    } catch (NumberFormatException e) {
      System.err.println("mtpf: MTPF_SHUTDOWN_GRACE_S=" + value + " is not a whole number of seconds; using 60");
      return 60_000;
    }
  }

  private static void drain() {
    long deadline = System.currentTimeMillis() + shutdownGraceMillis();
    stopRequested = true;
    synchronized (LOCK) {
      if (holders > 0) System.err.println("mtpf: exiting: letting the running job stop at its next step");
      await(deadline, () -> holders == 0);
      refusing = true;
      if (!running.isEmpty()) System.err.println("mtpf: exiting: waiting for the running native call (" + running + ")");
      await(deadline, running::isEmpty);
      if (!running.isEmpty()) System.err.println("mtpf: exiting with native calls still running: " + running);
    }
  }

  private static void await(long deadline, java.util.function.BooleanSupplier done) {
    for (long left; !done.getAsBoolean() && (left = deadline - System.currentTimeMillis()) > 0; ) {
      try {
        LOCK.wait(left);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
