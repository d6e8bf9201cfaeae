package io.mtpf.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Positive-pair files for contrastive pre-finetuning. TSV: a header naming the two columns (anchor/positive,
 * text1/text2, query/positive, sentence1/sentence2, or Debian's short/long description), else the first two
 * columns. JSON lines: the same field names; a "label" other than 1 marks a negative pair, which is left out.
 * A WordNet synsets table (synset, pos, lemmas, definition, examples) yields three pair datasets.
 */
public final class PairReaders {
  private PairReaders() {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[][] FIELD_PAIRS = {
    {"anchor", "positive"}, {"text1", "text2"}, {"query", "positive"}, {"sentence1", "sentence2"},
    {"short_description", "long_description_first_paragraph"}, {"query", "pos"}
  };

  /** Reads one file into one or more datasets named after {@code name}. */
  public static List<PairDataset> read(Path file, String name, BadLines bad) {
    String format = DataFiles.format(file);
    return switch (format) {
      case "tsv" -> readTsv(file, name, bad);
      case "jsonl", "json" -> List.of(readJsonl(file, name, bad));
      default -> throw new MtpfException(file + ": unknown pair file format '" + format + "' (use .tsv or .jsonl, optionally .gz)");
    };
  }

  /** Every pair file in a folder (and in its pairs_* sub-folders), each folder one dataset family. */
  public static List<PairDataset> readFolder(Path dir, BadLines bad) {
    if (!Files.isDirectory(dir)) throw new MtpfException(dir + ": pair data folder not found");
    List<PairDataset> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.sorted().toList()) {
        String n = p.getFileName().toString();
        if (Files.isDirectory(p) && n.startsWith("pairs_")) {
          try (Stream<Path> files = Files.list(p)) {
            List<Path> dataFiles = files.filter(PairReaders::isPairFile).sorted().toList();
            // A folder with train/test splits contributes its train split only.
            List<Path> train = dataFiles.stream().filter(f -> DataFiles.baseName(f).equals("train")).toList();
            for (Path f : train.isEmpty() ? dataFiles : train) out.addAll(read(f, n.substring("pairs_".length()), bad));
          }
        } else if (Files.isRegularFile(p) && isPairFile(p)) {
          out.addAll(read(p, DataFiles.baseName(p), bad));
        }
      }
    } catch (java.io.IOException e) {
      throw new MtpfException(dir + ": cannot list (" + e.getMessage() + ")", e);
    }
    out.removeIf(d -> d.size() == 0);
    if (out.isEmpty()) throw new MtpfException(dir + ": no pair data (.tsv / .jsonl files or pairs_* folders)");
    return out;
  }

  private static boolean isPairFile(Path p) {
    String f = DataFiles.format(p);
    return f.equals("tsv") || f.equals("jsonl");
  }

  static List<PairDataset> readTsv(Path file, String name, BadLines bad) {
    List<TextPair> pairs = new ArrayList<>();
    List<WordNetSynset> synsets = new ArrayList<>();
    int[] cols = {0, 1};
    boolean[] wordnet = {false};
    String source = file.toString();
    DataFiles.forEachLine(file, (lineNo, line) -> {
      String[] f = line.split("\t", -1);
      if (lineNo == 1) {
        if (f.length >= 5 && f[0].equals("synset") && f[2].equals("lemmas") && f[3].equals("definition")) {
          wordnet[0] = true;
          return;
        }
        int[] named = namedColumns(f);
        if (named != null) {
          cols[0] = named[0];
          cols[1] = named[1];
          return;
        }
      }
      if (line.isBlank()) return;
      if (wordnet[0]) {
        if (f.length < 5) {
          bad.report(source, lineNo, "expected 5 tab-separated fields (synset, pos, lemmas, definition, examples), got " + f.length);
          return;
        }
        synsets.add(WordNetSynset.of(f[2].split("\\|"), f[3], f[4].isEmpty() ? new String[0] : f[4].split(" \\|\\|\\| ")));
        return;
      }
      if (f.length <= Math.max(cols[0], cols[1])) {
        bad.report(source, lineNo, "expected at least " + (Math.max(cols[0], cols[1]) + 1) + " tab-separated fields, got " + f.length);
        return;
      }
      String a = f[cols[0]].strip(), b = f[cols[1]].strip();
      if (a.isEmpty() || b.isEmpty()) {
        bad.report(source, lineNo, "empty text in a pair");
        return;
      }
      pairs.add(new TextPair(a, b));
    });
    return wordnet[0] ? WordNetSynset.pairDatasets(name, synsets) : List.of(new PairDataset(name, pairs));
  }

  static PairDataset readJsonl(Path file, String name, BadLines bad) {
    List<TextPair> pairs = new ArrayList<>();
    String source = file.toString();
    DataFiles.forEachLine(file, (lineNo, line) -> {
      if (line.isBlank()) return;
      JsonNode node;
      try {
        node = JSON.readTree(line);
      } catch (java.io.IOException e) {
        bad.report(source, lineNo, "malformed JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        return;
      }
      if (node == null || !node.isObject()) {
        bad.report(source, lineNo, "not a JSON object");
        return;
      }
      if (node.has("label") && node.get("label").asInt(-1) != 1) return;  // a negative pair: not a positive
      for (String[] fields : FIELD_PAIRS) {
        if (node.hasNonNull(fields[0]) && node.hasNonNull(fields[1])) {
          String a = node.get(fields[0]).asText().strip(), b = node.get(fields[1]).asText().strip();
          if (a.isEmpty() || b.isEmpty()) bad.report(source, lineNo, "empty text in a pair");
          else pairs.add(new TextPair(a, b));
          return;
        }
      }
      bad.report(source, lineNo, "no pair fields (anchor/positive, text1/text2, query/positive, sentence1/sentence2)");
    });
    return new PairDataset(name, pairs);
  }

  private static int[] namedColumns(String[] header) {
    for (String[] fields : FIELD_PAIRS) {
      int a = -1, b = -1;
      for (int i = 0; i < header.length; i++) {
        if (header[i].equals(fields[0])) a = i;
        if (header[i].equals(fields[1])) b = i;
      }
      if (a >= 0 && b >= 0) return new int[] {a, b};
    }
    return null;
  }
}
