package io.mtpf.pretrain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.MtpfException;
import io.mtpf.data.DataFiles;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;

/**
 * The output of `mtpf pseudo-label`: a corpus whose every word carries a cluster id of its teacher embedding.
 * A folder with meta.json (format version, the cache key and what it was made from) and labels.jsonl.gz (one
 * sentence a line: {"words": [...], "labels": [...]}, label -100 for a word the teacher tokenizer gave no token).
 * One labelled corpus serves many runs; the cache key says when it must be made again.
 */
public final class PseudoLabels {
  public static final String FORMAT = "mtpf-pseudo-labels-1";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One labelled sentence. */
  public record Sentence(List<String> words, int[] labels) {}

  private final List<Sentence> sentences;
  private final int clusters;
  private final ObjectNode meta;

  public PseudoLabels(List<Sentence> sentences, int clusters, ObjectNode meta) {
    this.sentences = List.copyOf(sentences);
    this.clusters = clusters;
    this.meta = meta;
  }

  public List<Sentence> sentences() {
    return sentences;
  }

  public int clusters() {
    return clusters;
  }

  public ObjectNode meta() {
    return meta;
  }

  public String cacheKey() {
    return meta.path("cache_key").asText("");
  }

  /** Writes DIR atomically (DIR.tmp, then rename). */
  public void write(Path dir) {
    Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
    try {
      deleteTree(tmp);
      Files.createDirectories(tmp);
      try (BufferedWriter out = new BufferedWriter(new OutputStreamWriter(
          new GZIPOutputStream(Files.newOutputStream(tmp.resolve("labels.jsonl.gz")), 1 << 16), StandardCharsets.UTF_8))) {
        for (Sentence s : sentences) {
          out.write(JSON.writeValueAsString(lineOf(s, JSON.createObjectNode())));
          out.write('\n');
        }
      }
      Files.writeString(tmp.resolve("meta.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(meta));
      deleteTree(dir);
      Files.createDirectories(dir.toAbsolutePath().getParent());
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new MtpfException(dir + ": cannot write pseudo-labels (" + e.getMessage() + ")", e);
    }
  }

  /** The labels as one JSON text ({@link #fromJson}): how rank 0 sends them to the other ranks of a job. */
  public String toJson() {
    ObjectNode root = JSON.createObjectNode();
    root.set("meta", meta);
    ArrayNode lines = root.putArray("sentences");
    for (Sentence s : sentences) lineOf(s, lines.addObject());
    return root.toString();
  }

  /** Parses {@link #toJson}'s text, checked as {@link #read} checks a folder; {@code what} names it in errors. */
  public static PseudoLabels fromJson(String json, String what) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new MtpfException(what + ": malformed JSON (" + e.getMessage() + ")", e);
    }
    if (root == null || !root.path("meta").isObject() || !root.path("sentences").isArray())
      throw new MtpfException(what + ": needs 'meta' and 'sentences'");
    ObjectNode meta = (ObjectNode) root.get("meta");
    int k = meta.path("clusters").asInt(0);
    if (k < 2) throw new MtpfException(what + ": no valid 'clusters'");
    List<Sentence> sentences = new ArrayList<>();
    int i = 0;
    for (JsonNode n : root.get("sentences")) sentences.add(sentenceOf(n, k, what + ": sentence " + i++));
    return new PseudoLabels(sentences, k, meta);
  }

  /** One sentence as {"words": [...], "labels": [...]}, into {@code line}. */
  private static ObjectNode lineOf(Sentence s, ObjectNode line) {
    ArrayNode w = line.putArray("words");
    s.words().forEach(w::add);
    ArrayNode l = line.putArray("labels");
    for (int x : s.labels()) l.add(x);
    return line;
  }

  /** The sentence of {@link #lineOf}'s object, checked (labels -100 or in [0, k)); {@code where} names it in errors. */
  private static Sentence sentenceOf(JsonNode n, int k, String where) {
    JsonNode w = n == null ? null : n.get("words"), l = n == null ? null : n.get("labels");
    if (w == null || l == null || !w.isArray() || !l.isArray() || w.size() != l.size())
      throw new MtpfException(where + ": needs arrays 'words' and 'labels' of equal length");
    List<String> words = new ArrayList<>(w.size());
    int[] labels = new int[l.size()];
    for (int i = 0; i < labels.length; i++) {
      words.add(w.get(i).asText());
      labels[i] = l.get(i).asInt();
      if (labels[i] != -100 && (labels[i] < 0 || labels[i] >= k))
        throw new MtpfException(where + ": label " + labels[i] + " outside [0, " + k + ")");
    }
    return new Sentence(words, labels);
  }

  /** Reads a folder written by {@link #write}; every line is checked. */
  public static PseudoLabels read(Path dir) {
    Path metaFile = dir.resolve("meta.json");
    if (!Files.isRegularFile(metaFile)) throw new MtpfException(dir + ": not a pseudo-label folder (no meta.json)");
    ObjectNode meta;
    try {
      meta = (ObjectNode) JSON.readTree(metaFile.toFile());
    } catch (IOException | ClassCastException e) {
      throw new MtpfException(metaFile + ": malformed (" + e.getMessage() + ")", e);
    }
    if (!FORMAT.equals(meta.path("format").asText()))
      throw new MtpfException(metaFile + ": format '" + meta.path("format").asText() + "' is not " + FORMAT);
    int k = meta.path("clusters").asInt(0);
    if (k < 2) throw new MtpfException(metaFile + ": no valid 'clusters'");
    List<Sentence> sentences = new ArrayList<>();
    Path file = dir.resolve("labels.jsonl.gz");
    DataFiles.forEachLine(file, (lineNo, line) -> {
      try {
        sentences.add(sentenceOf(JSON.readTree(line), k, file + ":" + lineNo));
      } catch (IOException e) {
        throw new MtpfException(file + ":" + lineNo + ": malformed JSON", e);
      }
    });
    return new PseudoLabels(sentences, k, meta);
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) return;
    try (var s = Files.walk(p)) {
      for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(x);
    }
  }
}
