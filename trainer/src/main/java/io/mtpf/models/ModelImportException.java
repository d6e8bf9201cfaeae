package io.mtpf.models;

/**
 * A model cannot be imported: unknown name, artifact not to be had, malformed or incomplete ONNX graph. The message
 * names the input and the reason in one line, so the CLI can print it as is.
 */
public class ModelImportException extends io.mtpf.MtpfException {
  public ModelImportException(String message) {
    super(message);
  }

  public ModelImportException(String message, Throwable cause) {
    super(message, cause);
  }
}
