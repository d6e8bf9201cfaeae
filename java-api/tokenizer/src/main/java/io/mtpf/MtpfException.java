package io.mtpf;

/**
 * An error from mtpf: bad input (a missing file, a malformed checkpoint, a wrong shape) or a failure in the
 * native core. The message names the input and the reason; native (C++) errors arrive here with theirs.
 */
public class MtpfException extends RuntimeException {
  public MtpfException(String message) {
    super(message);
  }

  public MtpfException(String message, Throwable cause) {
    super(message, cause);
  }
}
