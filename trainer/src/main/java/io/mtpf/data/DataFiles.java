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
      InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
      in.mark(2);
      int b0 = in.read(), b1 = in.read();
      in.reset();
      if (b0 == 0x1f && b1 == 0x8b) in = new GZIPInputStream(in, 1 << 16);
      // Malformed UTF-8 is an error, not a silent U+FFFD.
      var decoder = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT);
      return new BufferedReader(new InputStreamReader(in, decoder), 1 << 16);
    } catch (IOException e) {
      throw new MtpfException(file + ": cannot open (" + e.getMessage() + ")", e);
    }
  }

  /** Reads every line, calling {@code body} with the 1-based line number; IO errors name file and line. */
  public static void forEachLine(Path file, LineBody body) {
    long lineNo = 0;
    try (BufferedReader in = open(file)) {
      for (String line; (line = in.readLine()) != null; ) body.accept(++lineNo, line);
    } catch (CharacterCodingException e) {
      throw new MtpfException(file + ":" + (lineNo + 1) + ": not valid UTF-8", e);
    } catch (java.io.EOFException e) {
      throw new MtpfException(file + ": truncated (gzip stream ends early after line " + lineNo + ")", e);
    } catch (IOException e) {
      throw new MtpfException(file + ":" + (lineNo + 1) + ": read failed (" + e.getMessage() + ")", e);
    }
  }

  public interface LineBody {
    void accept(long lineNo, String line);
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
