package io.mtpf.tokenizer;

import io.mtpf.MtpfException;

/** A tokenizer file that is missing, malformed or of an unsupported kind; the message names the file and the reason. */
public final class TokenizerException extends MtpfException {
  public TokenizerException(String message) {
    super(message);
  }

  public TokenizerException(String message, Throwable cause) {
    super(message, cause);
  }
}
