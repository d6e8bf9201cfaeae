package io.mtpf.data;

import io.mtpf.MtpfException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Unlabelled sentences as word lists, the input of NER distillation: word embeddings are the mean of each
 * word's sub-tokens, so words must be fixed before tokenization. CoNLL files give their words (labels ignored);
 * plain text is split on whitespace with punctuation as separate words, as BERT's pre-tokenizer does.
 */
public final class WordCorpus {
  private WordCorpus() {}

  /** Reads a corpus file: CoNLL columns (.txt/.conll with tab- or space-separated token and label), or
   * text lines (.txt with --format text, .jsonl with a "text" field). */
  public static List<List<String>> read(Path file, String format, BadLines bad) {
    return switch (format) {
      case "conll" -> readConll(file, bad);
      case "text" -> readText(file);
      case "jsonl" -> readJsonlText(file, bad);
      default -> throw new MtpfException(file + ": unknown corpus format '" + format + "' (conll, text or jsonl)");
    };
  }

  /**
   * Guesses the format: .jsonl is jsonl; a file whose first non-blank line has a tab, or is CoNLL-2003's
   * space-separated "-DOCSTART- -X- -X- O", is CoNLL; else text.
   */
  public static String detectFormat(Path file) {
    if (DataFiles.format(file).equals("jsonl")) return "jsonl";
    String[] first = {null};
    try (var in = DataFiles.open(file)) {
      for (String line; (line = in.readLine()) != null; ) {
        if (!line.isBlank()) {
          first[0] = line;
          break;
        }
      }
    } catch (java.io.IOException e) {
      throw new MtpfException(file + ": cannot read (" + e.getMessage() + ")", e);
    }
    return first[0] != null && (first[0].contains("\t") || first[0].startsWith("-DOCSTART-")) ? "conll" : "text";
  }

  static List<List<String>> readConll(Path file, BadLines bad) {
    List<List<String>> out = new ArrayList<>();
    List<String> words = new ArrayList<>();
    DataFiles.forEachLine(file, (lineNo, line) -> {
      if (line.isBlank()) {
        if (!words.isEmpty()) out.add(List.copyOf(words));
        words.clear();
        return;
      }
      String word = line.split("[\t ]", 2)[0];
      if (word.equals("-DOCSTART-")) return;
      if (word.isEmpty()) {
        bad.report(file.toString(), lineNo, "empty token column");
        return;
      }
      words.add(word);
    });
    if (!words.isEmpty()) out.add(List.copyOf(words));
    return out;
  }

  static List<List<String>> readText(Path file) {
    List<List<String>> out = new ArrayList<>();
    DataFiles.forEachLine(file, (lineNo, line) -> {
      List<String> w = splitWords(line);
      if (!w.isEmpty()) out.add(w);
    });
    return out;
  }

  static List<List<String>> readJsonlText(Path file, BadLines bad) {
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    List<List<String>> out = new ArrayList<>();
    DataFiles.forEachLine(file, (lineNo, line) -> {
      if (line.isBlank()) return;
      try {
        var node = json.readTree(line);
        if (node == null || !node.hasNonNull("text")) {
          bad.report(file.toString(), lineNo, "no \"text\" field");
          return;
        }
        List<String> w = splitWords(node.get("text").asText());
        if (!w.isEmpty()) out.add(w);
      } catch (java.io.IOException e) {
        bad.report(file.toString(), lineNo, "malformed JSON");
      }
    });
    return out;
  }

  /** Whitespace split, punctuation as words of its own (BERT's pre-tokenizer rule). */
  public static List<String> splitWords(String text) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    text.codePoints().forEach(cp -> {
      if (Character.isWhitespace(cp) || Character.isISOControl(cp)) {
        flush(cur, out);
      } else if (isPunctuation(cp)) {
        flush(cur, out);
        out.add(new String(Character.toChars(cp)));
      } else {
        cur.appendCodePoint(cp);
      }
    });
    flush(cur, out);
    return out;
  }

  private static void flush(StringBuilder cur, List<String> out) {
    if (cur.length() > 0) {
      out.add(cur.toString());
      cur.setLength(0);
    }
  }

  static boolean isPunctuation(int cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
    int t = Character.getType(cp);
    return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION || t == Character.START_PUNCTUATION
        || t == Character.END_PUNCTUATION || t == Character.INITIAL_QUOTE_PUNCTUATION
        || t == Character.FINAL_QUOTE_PUNCTUATION || t == Character.OTHER_PUNCTUATION;
  }

  /**
   * The unlabelled corpus of NER pre-finetuning: the given files; else the CoNLL train splits under {@code dataDir};
   * else WordNet 3.1's example sentences from Maven Central. At most {@code maxSentences} (0 = all), a seeded sample.
   */
  public static List<List<String>> forPretraining(List<String> files, String dataDir, int maxSentences, long seed,
      io.mtpf.models.MavenArtifacts maven, BadLines bad) {
    List<List<String>> corpus = new ArrayList<>();
    if (files != null && !files.isEmpty()) {
      for (String f : files) {
        Path p = Path.of(f);
        corpus.addAll(read(p, detectFormat(p), bad));
      }
    } else if (dataDir != null && !dataDir.isEmpty()) {
      for (Path p : conllTrainFiles(Path.of(dataDir))) corpus.addAll(read(p, "conll", bad));
      if (corpus.isEmpty()) throw new MtpfException(dataDir + ": no NER corpus (no */train.txt.gz CoNLL files)");
    } else {
      for (String s : WordNetSynset.exampleSentences(WordNetJar.load(maven))) {
        List<String> words = splitWords(s);
        if (!words.isEmpty()) corpus.add(words);
      }
    }
    if (maxSentences > 0 && corpus.size() > maxSentences) {
      java.util.Collections.shuffle(corpus, new java.util.Random(seed));
      corpus = new ArrayList<>(corpus.subList(0, maxSentences));
    }
    return corpus;
  }

  /** All corpus files under a folder: CoNLL train splits of NER folders (labels unused). */
  public static List<Path> conllTrainFiles(Path dataDir) {
    List<Path> out = new ArrayList<>();
    try (var s = Files.list(dataDir)) {
      for (Path d : s.sorted().toList()) {
        Path train = d.resolve("train.txt.gz");
        if (Files.isRegularFile(train)) out.add(train);
      }
    } catch (java.io.IOException e) {
      throw new MtpfException(dataDir + ": cannot list (" + e.getMessage() + ")", e);
    }
    return out;
  }
}
