package io.mtpf;

import io.mtpf.nativebind.MtpfNative;
import java.util.function.Supplier;

/** Loads the native core once, sets libtorch's thread count, and turns native errors into MtpfException. */
public final class NativeCore {
  private static volatile boolean threadsSet;

  private NativeCore() {}

  /**
   * Sets libtorch's intra-op threads for the whole process. Called with the core count on first use unless
   * set before: leaving OpenMP's default spin-waiting in charge was seen to cost 20x on 2 cores.
   */
  public static void setThreads(int threads) {
    if (threads <= 0) throw new MtpfException("thread count must be positive, got " + threads);
    call("set_num_threads", () -> {
      MtpfNative.set_num_threads(threads);
      return null;
    });
    threadsSet = true;
  }

  public static int threads() {
    return call("num_threads", MtpfNative::num_threads);
  }

  public static String torchVersion() {
    return call("torch_version", MtpfNative::torch_version);
  }

  public static boolean cudaAvailable() {
    return call("cuda_available", MtpfNative::cuda_available);
  }

  /**
   * Sets the thread count unless it was set already: OMP_NUM_THREADS when set (torchrun sets it), else the cores
   * shared among this host's ranks (LOCAL_WORLD_SIZE, 1 outside a job).
   */
  public static void ensureThreads() {
    if (!threadsSet) {
      synchronized (NativeCore.class) {
        if (!threadsSet) setThreads(defaultThreads(System.getenv()));
      }
    }
  }

  static int defaultThreads(java.util.Map<String, String> env) {
    int cores = Runtime.getRuntime().availableProcessors();
    try {
      String omp = env.get("OMP_NUM_THREADS");
      if (omp != null && !omp.isBlank()) return Math.max(1, Integer.parseInt(omp.strip()));
      String local = env.get("LOCAL_WORLD_SIZE");
      if (local != null && !local.isBlank()) return Math.max(1, cores / Math.max(1, Integer.parseInt(local.strip())));
    } catch (NumberFormatException e) {
      throw new MtpfException("OMP_NUM_THREADS / LOCAL_WORLD_SIZE: not an integer (" + e.getMessage() + ")");
    }
    return cores;
  }

  /**
   * Runs a native call ({@link NativeCalls}: the JVM's exit waits for it); a C++ exception (already a RuntimeException
   * from JavaCPP) becomes an MtpfException.
   */
  public static <T> T call(String what, Supplier<T> body) {
    try {
      return NativeCalls.run(what, body);
    } catch (MtpfException e) {
      throw e;
    } catch (UnsatisfiedLinkError e) {
      throw new MtpfException("cannot load mtpf's native library (libmtpf / libtorch): " + e.getMessage(), e);
    } catch (RuntimeException e) {
      String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      throw new MtpfException(message, e);
    }
  }
}
