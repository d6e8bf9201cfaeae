package io.mtpf.files;

import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Files written whole or not at all: into a temporary file beside the target, then renamed over it, so a reader (or
 * a run killed half-way) never sees half a file.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** Writes the content to the path it is given (the temporary file). */
  @FunctionalInterface
  public interface Content {
    void writeTo(Path tmp) throws IOException;
  }

  /**
   * Writes {@code file} through {@code content}. On failure the old file stays as it was, no temporary file is left,
   * and the exception names the file and {@code what} ("the label map", ...).
   */
  public static void write(Path file, String what, Content content) {
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
      try {
        content.writeTo(tmp);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new MtpfException(file + ": cannot write " + what + " (" + e.getMessage() + ")", e);
    }
  }
}
