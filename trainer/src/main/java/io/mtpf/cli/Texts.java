package io.mtpf.cli;

import io.mtpf.MtpfException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** TEXT arguments of a command: given inline, or "-" for one text per line of standard input. */
final class Texts {
  private Texts() {}

  static List<String> resolve(List<String> args) {
    if (args == null || args.isEmpty()) throw new MtpfException("no TEXT given (pass texts, or - to read lines from stdin)");
    if (args.size() == 1 && args.get(0).equals("-")) {
      List<String> lines = new ArrayList<>();
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) if (!line.isEmpty()) lines.add(line);
      } catch (IOException e) {
        throw new MtpfException("stdin: " + e.getMessage(), e);
      }
      if (lines.isEmpty()) throw new MtpfException("stdin: no text lines");
      return lines;
    }
    return args;
  }
}
