package io.mtpf.runtime;

import io.mtpf.MtpfException;
import io.mtpf.NativeCalls;
import java.util.function.Supplier;

/**
 * Runs a call into the native runtime ({@link NativeCalls}: the JVM's exit waits for it): a C++ exception or a missing
 * library becomes an MtpfException.
 */
final class RuntimeNative {
  private RuntimeNative() {}

  /** @param what the object and operation, e.g. "backbone models/bge: embed"; it starts the message */
  static <T> T call(String what, Supplier<T> body) {
    try {
      return NativeCalls.run(what, body);
    } catch (MtpfException e) {
      throw e;
    } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
      // NoClassDefFoundError: a second use after the first failed to load the library.
      throw new MtpfException(what + ": cannot load the mtpf runtime's native library (libjnimtpfruntime, "
          + "libmtpf_runtime, OpenBLAS): " + e, e);
    } catch (RuntimeException e) {
      String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      throw new MtpfException(what + ": " + message, e);
    }
  }
}
