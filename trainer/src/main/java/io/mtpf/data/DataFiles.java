package io.mtpf.data;

import io.mtpf.MtpfException;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** Opening data files: plain or gzip (by magic bytes, not by name), strict UTF-8, clear errors. */
public final class DataFiles {
  private DataFiles() {}

  public static BufferedReader open(Path file) {
    if (!Files.isRegularFile(file)) throw new MtpfException(file + ": data file not found");
    try {
      return new BufferedReader(new InputStreamReader(openBytes(file), strictUtf8()), 1 << 16);
    } catch (IOException e) {
      throw new MtpfException(file + ": cannot open (" + e.getMessage() + ")", e);
    }
  }

  private static InputStream openBytes(Path file) throws IOException {
    InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    in.mark(2);
    int b0 = in.read(), b1 = in.read();
    in.reset();
    if (b0 == 0x1f && b1 == 0x8b) in = new GZIPInputStream(in, 1 << 16);
    return in;
  }

  /** Malformed UTF-8 is an error, not a silent U+FFFD. */
  private static java.nio.charset.CharsetDecoder strictUtf8() {
    return StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
  }

  /**
   * The 1-based line holding the first malformed UTF-8 sequence, or {@code fallback}: the reader decodes a whole
   * buffer ahead of the line it returns, so its position does not say which line was bad.
   */
  private static long firstBadUtf8Line(Path file, long fallback) {
    try (InputStream in = openBytes(file)) {
      java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
      long lineNo = 1;
      while (true) {
        int b = in.read();
        if (b == '\n' || b < 0) {
          try {
            strictUtf8().decode(java.nio.ByteBuffer.wrap(line.toByteArray()));
          } catch (CharacterCodingException e) {
            return lineNo;
          }
          if (b < 0) return fallback;
          line.reset();
          lineNo++;
        } else {
          line.write(b);
        }
      }
    } catch (IOException e) {
      return fallback;
    }
  }

  /** Reads every line, calling {@code body} with the 1-based line number; IO errors name file and line. */
  public static void forEachLine(Path file, LineBody body) {
    long lineNo = 0;
    try (BufferedReader in = open(file)) {
      for (String line; (line = in.readLine()) != null; ) body.accept(++lineNo, line);
    } catch (CharacterCodingException e) {
      throw new MtpfException(file + ":" + firstBadUtf8Line(file, lineNo + 1) + ": not valid UTF-8", e);
    } catch (java.io.EOFException e) {
      throw new MtpfException(file + ": truncated (gzip stream ends early after line " + lineNo + ")", e);
    } catch (IOException e) {
      throw new MtpfException(file + ":" + (lineNo + 1) + ": read failed (" + e.getMessage() + ")", e);
    }
  }

  public interface LineBody {
    void accept(long lineNo, String line);
  }

  /** A byte-order mark at the start of a file's first line is not text. */
  public static String stripBom(String line) {
    return line.startsWith("\uFEFF") ? line.substring(1) : line;
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  /**
   * Each non-blank line of a JSON-lines file as a JSON object; a line that is malformed JSON or not an object goes to
   * {@code bad} with the reason (which fails or skips it, as the caller's policy says).
   */
  public static void forEachJsonObject(Path file, JsonBody body, BadLine bad) {
    forEachLine(file, (lineNo, raw) -> {
      String line = lineNo == 1 ? stripBom(raw) : raw;
      if (line.isBlank()) return;
      com.fasterxml.jackson.databind.JsonNode node;
      try {
        node = JSON.readTree(line);
      } catch (IOException e) {
        bad.report(lineNo, "malformed JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        return;
      }
      if (node == null || !node.isObject()) {
        bad.report(lineNo, "not a JSON object");
        return;
      }
      body.accept(lineNo, node);
    });
  }

  public interface JsonBody {
    void accept(long lineNo, com.fasterxml.jackson.databind.JsonNode node);
  }

  public interface BadLine {
    void report(long lineNo, String reason);
  }

  /** The file name without compression and format suffixes ("pairs.tsv.gz" -> "pairs"). */
  public static String baseName(Path file) {
    String n = file.getFileName().toString();
    if (n.endsWith(".gz")) n = n.substring(0, n.length() - 3);
    int dot = n.lastIndexOf('.');
    return dot > 0 ? n.substring(0, dot) : n;
  }

  /** "tsv", "jsonl", "txt", ... from the name, ignoring ".gz". */
  public static String format(Path file) {
    String n = file.getFileName().toString().toLowerCase();
    if (n.endsWith(".gz")) n = n.substring(0, n.length() - 3);
    int dot = n.lastIndexOf('.');
    return dot > 0 ? n.substring(dot + 1) : "";
  }
}
