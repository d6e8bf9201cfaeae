package io.mtpf.pretrain;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.KMeans;
import io.mtpf.MtpfException;
import io.mtpf.TokenEmbeddings;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * NER pseudo-labels by distillation (paper §4, Appendix B): the teacher embeds an unlabelled corpus; each word's
 * embedding is the mean of its sub-token embeddings (optionally several layers concatenated, e.g. NuNER's -1 and
 * -7); mini-batch k-means with k clusters assigns every word its cluster id.
 */
public final class PseudoLabeler {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a labelling is made from; equal settings give equal cache keys. */
  public record Settings(Path teacher, List<Integer> layers, int clusters, long seed, int maxLength, String device,
      int kmeansBatch, int kmeansMaxIter) {}

  private PseudoLabeler() {}

  /** The cache key: teacher weights, corpus content and every setting that changes the labels. */
  public static String cacheKey(Settings s, List<List<String>> corpus) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update((PseudoLabels.FORMAT + "|" + s.layers() + "|" + s.clusters() + "|" + s.seed() + "|" + s.maxLength()
          + "|" + s.kmeansBatch() + "|" + s.kmeansMaxIter()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      md.update(fileDigest(s.teacher().resolve("model.safetensors")));
      for (List<String> sentence : corpus) {
        for (String w : sentence) {
          md.update(w.getBytes(java.nio.charset.StandardCharsets.UTF_8));
          md.update((byte) 0);
        }
        md.update((byte) 1);
      }
      return HexFormat.of().formatHex(md.digest()).substring(0, 16);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reuses {@code dir} when it holds this exact labelling, else labels the corpus and writes it there. */
  public static PseudoLabels labelCached(Settings s, List<List<String>> corpus, Path dir, Consumer<String> log) {
    String key = cacheKey(s, corpus);
    if (Files.isRegularFile(dir.resolve("meta.json"))) {
      PseudoLabels cached = PseudoLabels.read(dir);
      if (key.equals(cached.cacheKey())) {
        log.accept("pseudo-labels: reusing " + dir + " (cache key " + key + ")");
        return cached;
      }
      log.accept("pseudo-labels: " + dir + " was made from other inputs; labelling again");
    }
    PseudoLabels labels = label(s, corpus, key, log);
    labels.write(dir);
    return labels;
  }

  public static PseudoLabels label(Settings s, List<List<String>> corpus, String key, Consumer<String> log) {
    if (corpus.isEmpty()) throw new MtpfException("pseudo-label: the corpus is empty");
    long t0 = System.nanoTime();
    int[] layers = s.layers().stream().mapToInt(Integer::intValue).toArray();
    List<int[]> wordRows = new ArrayList<>();  // per sentence: the row of each word in the matrix, -1 without tokens
    FloatMatrix matrix = new FloatMatrix();
    try (Encoder teacher = Encoder.load(s.teacher(),
        EncoderOptions.defaults().withDevice(s.device()).withMaxLength(s.maxLength()).withBatchSize(32))) {
      final int chunk = 256;
      for (int start = 0; start < corpus.size(); start += chunk) {
        List<List<String>> part = corpus.subList(start, Math.min(corpus.size(), start + chunk));
        List<TokenEmbeddings> embedded = teacher.wordTokenEmbeddings(part, layers);
        for (TokenEmbeddings te : embedded) {
          float[][] means = te.wordMeans();
          int[] rows = new int[means.length];
          for (int w = 0; w < means.length; w++) rows[w] = means[w] == null ? -1 : matrix.add(means[w]);
          wordRows.add(rows);
        }
        log.accept(String.format("pseudo-labels: embedded %d/%d sentences (%d words)", Math.min(corpus.size(),
            start + chunk), corpus.size(), matrix.rows()));
      }
    }
    if (matrix.rows() < s.clusters())
      throw new MtpfException("pseudo-label: " + matrix.rows() + " words cannot make " + s.clusters() + " clusters");
    long t1 = System.nanoTime();
    KMeans.Result km = KMeans.fit(matrix.toArray(), matrix.dim(), s.clusters(), s.kmeansBatch(), s.kmeansMaxIter(),
        s.seed(), s.device());
    log.accept(String.format("pseudo-labels: k-means k=%d over %d words x %d dims: %d steps, inertia %.4g (%.1f s)",
        s.clusters(), matrix.rows(), matrix.dim(), km.steps(), km.inertia(), (System.nanoTime() - t1) / 1e9));
    List<PseudoLabels.Sentence> sentences = new ArrayList<>(corpus.size());
    int[] used = new int[s.clusters()];
    for (int i = 0; i < corpus.size(); i++) {
      int[] rows = wordRows.get(i);
      int[] labels = new int[rows.length];
      for (int w = 0; w < rows.length; w++) {
        labels[w] = rows[w] < 0 ? -100 : km.labels()[rows[w]];
        if (labels[w] >= 0) used[labels[w]]++;
      }
      sentences.add(new PseudoLabels.Sentence(corpus.get(i), labels));
    }
    int nonEmpty = 0;
    for (int u : used) if (u > 0) nonEmpty++;
    ObjectNode meta = JSON.createObjectNode();
    meta.put("format", PseudoLabels.FORMAT);
    meta.put("cache_key", key);
    meta.put("teacher", s.teacher().toString());
    meta.putPOJO("teacher_layers", s.layers());
    meta.put("clusters", s.clusters());
    meta.put("clusters_used", nonEmpty);
    meta.put("seed", s.seed());
    meta.put("sentences", corpus.size());
    meta.put("words", matrix.rows());
    meta.put("dim", matrix.dim());
    meta.put("inertia", km.inertia());
    meta.put("kmeans_steps", km.steps());
    meta.put("seconds", (System.nanoTime() - t0) / 1e9);
    return new PseudoLabels(sentences, s.clusters(), meta);
  }

  private static byte[] fileDigest(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 20];
      for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
      return md.digest();
    } catch (IOException e) {
      throw new MtpfException(file + ": cannot read the teacher weights (" + e.getMessage() + ")", e);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A growable row-major float matrix. */
  private static final class FloatMatrix {
    private float[] data = new float[1 << 16];
    private int rows;
    private int dim = -1;

    int add(float[] row) {
      if (dim < 0) dim = row.length;
      if ((long) (rows + 1) * dim > Integer.MAX_VALUE - 8)
        throw new MtpfException("pseudo-label: too many words for one k-means matrix; use ner.max_sentences");
      if ((rows + 1) * dim > data.length) data = java.util.Arrays.copyOf(data, Math.max(data.length * 2, (rows + 1) * dim));
      System.arraycopy(row, 0, data, rows * dim, dim);
      return rows++;
    }

    int rows() {
      return rows;
    }

    int dim() {
      return dim;
    }

    float[] toArray() {
      return java.util.Arrays.copyOf(data, rows * dim);
    }
  }
}
