package io.mtpf.runtime;

import io.mtpf.MtpfException;

/** A LoRA adapter folder that cannot be used: missing or truncated files, a bad config, shapes that do not fit. */
public class AdapterException extends MtpfException {
  public AdapterException(String message) {
    super(message);
  }

  public AdapterException(String message, Throwable cause) {
    super(message, cause);
  }
}
