package io.mtpf.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * NER files, plain or gzip, read into a {@link NerDataset} with IOB2 tags:
 *
 * <ul>
 *   <li>CoNLL columns ({@code .txt}, {@code .conll}, {@code .bio}, ...): one word per line, {@code token<TAB>label}
 *       or space-separated columns (first = word, last = label), a blank line between sentences, -DOCSTART- lines
 *       skipped. IOB1, IOB2 or IOBES labels; always IOB2 in memory.
 *   <li>CoNLL-2012 / OntoNotes 5 ({@code *_conll}, or a file starting with {@code #begin document}): whitespace
 *       columns doc id, part, word number, word, POS, parse, lemma, frame, sense, speaker, named entities, ...; the
 *       named-entity column's brackets ({@code (PERSON*}, {@code *}, {@code *)}, {@code (GPE)}) become B-/I-/O.
 *   <li>JSON lines ({@code .jsonl}): {"tokens": [...], "ner_tags" or "tags": [...]}, tags as strings, or as ints
 *       with the tag names given (e.g. Hugging Face's ClassLabel names).
 * </ul>
 *
 * A malformed line goes to {@link BadLines} as file:line and the reason; when skipping, the whole sentence it is in
 * is left out (its other words would be mislabelled without it). With a training split's label map given, a tag it
 * lacks is always an error naming file:line and the tag, never a silent drop.
 */
public final class NerReaders {
  private NerReaders() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  public enum Format { CONLL_COLUMNS, CONLL_2012, JSON_LINES }

  /** Reads a file with its own label map (O, then B-/I- per entity type, sorted). */
  public static NerDataset read(Path file, BadLines bad) {
    return read(file, null, null, bad);
  }

  /** Reads a file whose tags must all be in {@code trainLabels} (the training split's map); null = its own map. */
  public static NerDataset read(Path file, LabelMap trainLabels, BadLines bad) {
    return read(file, trainLabels, null, bad);
  }

  /**
   * Reads any supported file. {@code intTagNames} names integer tags in JSON lines (tag k = intTagNames.get(k));
   * null when tags are strings.
   */
  public static NerDataset read(Path file, LabelMap trainLabels, List<String> intTagNames, BadLines bad) {
    SentenceCollector sentences = new SentenceCollector(file, trainLabels, bad);
    switch (formatOf(file)) {
      case CONLL_COLUMNS -> readConllColumns(file, sentences);
      case CONLL_2012 -> readConll2012(file, sentences);
      case JSON_LINES -> readJsonLines(file, intTagNames, sentences);
    }
    return sentences.dataset(defaultName(file));
  }

  /** "conll2003/train" for .../conll2003/train.txt.gz. */
  private static String defaultName(Path file) {
    Path parent = file.toAbsolutePath().getParent();
    String base = DataFiles.baseName(file);
    return parent == null || parent.getFileName() == null ? base : parent.getFileName() + "/" + base;
  }

  /** The format by name (.jsonl / *_conll), else by content (a first line "#begin document" is CoNLL-2012). */
  public static Format formatOf(Path file) {
    String ext = DataFiles.format(file);
    if (ext.equals("jsonl") || ext.equals("json")) return Format.JSON_LINES;
    String name = file.getFileName().toString();
    if (name.endsWith(".gz")) name = name.substring(0, name.length() - 3);
    if (name.endsWith("_conll")) return Format.CONLL_2012;
    try (BufferedReader in = DataFiles.open(file)) {
      String line;
      for (int n = 0; n < 100 && (line = in.readLine()) != null; n++) {
        if (line.isBlank()) continue;
        return DataFiles.stripBom(line).startsWith("#begin document") ? Format.CONLL_2012 : Format.CONLL_COLUMNS;
      }
    } catch (IOException e) {
      // Unreadable here (e.g. bad UTF-8): the column reader reports it with its line.
    }
    return Format.CONLL_COLUMNS;
  }

  private static void readConllColumns(Path file, SentenceCollector sentences) {
    DataFiles.forEachLine(file, (lineNo, raw) -> {
      String line = lineNo == 1 ? DataFiles.stripBom(raw) : raw;
      if (line.isBlank()) {
        sentences.endSentence();
        return;
      }
      String[] cols = line.indexOf('\t') >= 0 ? line.split("\t") : line.strip().split("\\s+");
      String word = cols[0].strip();
      if (word.equals("-DOCSTART-")) {
        sentences.endSentence();
        return;
      }
      if (cols.length < 2) {
        sentences.reportBad(lineNo, "no label column in '" + line + "' (expected token<TAB>label)");
        return;
      }
      if (word.isEmpty()) {
        sentences.reportBad(lineNo, "empty word before the label");
        return;
      }
      sentences.add(word, cols[cols.length - 1].strip(), lineNo);
    });
    sentences.endSentence();
  }

  /** CoNLL-2012: column 11 (index 10) holds the named entities in bracket notation. */
  private static final int WORD_COLUMN = 3, NAMED_ENTITY_COLUMN = 10;

  private static void readConll2012(Path file, SentenceCollector sentences) {
    BracketSpans brackets = new BracketSpans();
    DataFiles.forEachLine(file, (lineNo, raw) -> {
      String line = (lineNo == 1 ? DataFiles.stripBom(raw) : raw).strip();
      if (line.isEmpty() || line.startsWith("#begin document") || line.startsWith("#end document")) {
        brackets.endSentence(sentences);
        sentences.endSentence();
        return;
      }
      String[] cols = line.split("\\s+");
      if (cols.length <= NAMED_ENTITY_COLUMN) {
        sentences.reportBad(lineNo, "expected at least 11 columns (doc id, part, word number, word, POS, parse, lemma, "
            + "frame, sense, speaker, named entities), got " + cols.length);
        return;
      }
      String tag = brackets.tag(cols[NAMED_ENTITY_COLUMN], lineNo, sentences);
      if (tag != null) sentences.add(cols[WORD_COLUMN], tag, lineNo);
    });
    brackets.endSentence(sentences);
    sentences.endSentence();
  }

  /** Turns the named-entity column's brackets into IOB2, one word at a time. */
  private static final class BracketSpans {
    private String openType;
    private long openLine;

    /** The word's tag, or null after reporting a malformed cell. */
    String tag(String cell, long lineNo, SentenceCollector sentences) {
      if (cell.equals("*")) return openType == null ? "O" : "I-" + openType;
      if (cell.equals("*)")) {
        if (openType == null) {
          sentences.reportBad(lineNo, "named entity '*)' closes an entity that was never opened");
          return null;
        }
        String tag = "I-" + openType;
        openType = null;
        return tag;
      }
      boolean closes = cell.endsWith(")");
      String type = cell.startsWith("(") ? cell.substring(1, closes ? cell.length() - 1 : cell.length()) : "";
      boolean star = type.endsWith("*");
      if (star) type = type.substring(0, type.length() - 1);
      if (type.isEmpty() || !(star || closes) || !type.matches("[^()*\\s]+")) {
        sentences.reportBad(lineNo, "named entity '" + cell + "' is not one of (TYPE*, (TYPE), (TYPE*), * or *)");
        return null;
      }
      if (openType != null) {
        sentences.reportBad(lineNo, "named entity '" + cell + "' opens inside '(" + openType + "*' of line " + openLine
            + " (nested entities are not supported)");
        return null;
      }
      if (!closes) {
        openType = type;
        openLine = lineNo;
      }
      return "B-" + type;
    }

    void endSentence(SentenceCollector sentences) {
      if (openType != null) {
        String type = openType;
        openType = null;
        sentences.reportBad(openLine, "named entity '(" + type + "*' is never closed before the sentence ends");
      }
    }
  }

  private static void readJsonLines(Path file, List<String> intTagNames, SentenceCollector sentences) {
    DataFiles.forEachJsonObject(file, (lineNo, node) -> {
      JsonNode tokens = node.get("tokens");
      JsonNode tags = node.has("ner_tags") ? node.get("ner_tags") : node.get("tags");
      if (tokens == null || !tokens.isArray() || tags == null || !tags.isArray()) {
        sentences.reportBad(lineNo, "expected arrays \"tokens\" and \"ner_tags\" (or \"tags\")");
        return;
      }
      if (tokens.size() != tags.size()) {
        sentences.reportBad(lineNo, tokens.size() + " tokens but " + tags.size() + " tags");
        return;
      }
      List<String> words = new ArrayList<>(tokens.size());
      List<String> names = new ArrayList<>(tags.size());
      for (int i = 0; i < tokens.size(); i++) {
        JsonNode word = tokens.get(i), tag = tags.get(i);
        if (!word.isTextual() || word.asText().isBlank()) {
          sentences.reportBad(lineNo, "token " + i + " is not a non-empty string: " + word);
          return;
        }
        words.add(word.asText());
        if (tag.isTextual()) {
          names.add(tag.asText().strip());
        } else if (tag.isIntegralNumber()) {
          if (intTagNames == null) {
            throw new MtpfException(sentences.file + ":" + lineNo + ": integer tags need the tag names (the label list of the dataset)");
          }
          int k = tag.asInt();
          if (k < 0 || k >= intTagNames.size()) {
            sentences.reportBad(lineNo, "tag id " + k + " is outside the " + intTagNames.size() + " tag names");
            return;
          }
          names.add(intTagNames.get(k));
        } else {
          sentences.reportBad(lineNo, "tag " + i + " is neither a string nor an integer: " + tag);
          return;
        }
      }
      for (int i = 0; i < words.size(); i++) sentences.add(words.get(i), names.get(i), lineNo);
      sentences.endSentence();
    }, sentences::reportBad);
  }

  /**
   * Gathers one sentence at a time (with the line of each word, for errors), converts it to IOB2 when it ends, and
   * builds the dataset. A sentence with a bad line (when skipping) is dropped whole.
   */
  private static final class SentenceCollector {
    final Path file;
    private final LabelMap trainLabels;
    private final BadLines bad;
    private final List<NerDataset.Sentence> sentences = new ArrayList<>();
    private final Set<String> types = new TreeSet<>();
    private BioTags.Scheme scheme = BioTags.Scheme.IOB2;
    private final List<String> words = new ArrayList<>();
    private final List<String> tags = new ArrayList<>();
    private long[] lines = new long[64];
    private boolean broken;

    SentenceCollector(Path file, LabelMap trainLabels, BadLines bad) {
      this.file = file;
      this.trainLabels = trainLabels;
      this.bad = bad;
    }

    void reportBad(long lineNo, String reason) {
      bad.report(file.toString(), lineNo, reason);
      broken = true;
    }

    void add(String word, String tag, long lineNo) {
      String why = BioTags.whyInvalid(tag);
      if (why != null) {
        reportBad(lineNo, why);
        return;
      }
      if (words.size() == lines.length) lines = Arrays.copyOf(lines, lines.length * 2);
      lines[words.size()] = lineNo;
      words.add(word);
      tags.add(tag);
    }

    void endSentence() {
      if (!broken && !words.isEmpty()) {
        scheme = BioTags.wider(scheme, BioTags.schemeOf(tags));
        List<String> iob2 = BioTags.toIob2(tags);
        for (int i = 0; i < iob2.size(); i++) {
          String tag = iob2.get(i);
          if (trainLabels != null && !trainLabels.contains(tag)) {
            throw new MtpfException(file + ":" + lines[i] + ": tag '" + tag + "' is not in the training split's label map "
                + trainLabels.preview());
          }
          if (tag.startsWith("B-")) types.add(tag.substring(2));
        }
        sentences.add(new NerDataset.Sentence(words, iob2));
      }
      words.clear();
      tags.clear();
      broken = false;
    }

    NerDataset dataset(String name) {
      LabelMap labels = trainLabels != null ? trainLabels : NerDataset.tagMap(types);
      return new NerDataset(name, sentences, labels, scheme);
    }
  }
}
