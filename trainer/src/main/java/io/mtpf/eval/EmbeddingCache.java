package io.mtpf.eval;

import io.mtpf.MtpfException;
import io.mtpf.files.AtomicFiles;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Pooled embeddings of a data file's rows, kept on disk between runs. One cache file per key: the model's and the
 * adapter's weight hashes, pooling, prefix, normalisation, token limit and the data file's hash ({@link #key}); it
 * holds the rows computed so far (row index -> vector), so a run that needs more rows embeds only the missing ones.
 * A cache file that cannot be read (cut by a crash, another version) is recomputed and replaced, with a note.
 */
public final class EmbeddingCache {
  private static final String MAGIC = "MTPFEMB1";
  private final Path dir;

  public EmbeddingCache(Path dir) {
    this.dir = dir;
  }

  public Path dir() {
    return dir;
  }

  /** The cache key of one data file under one embedding configuration. */
  public static String key(String modelSha, String adapterSha, SentenceEmbedder.Options o, int maxLength,
                           String dataFileSha) {
    String text = String.join("\n", MAGIC, modelSha, adapterSha == null ? "-" : adapterSha, o.pooling(), o.prefix(),
        Boolean.toString(o.normalize()), Integer.toString(maxLength), dataFileSha);
    return sha256(text.getBytes(StandardCharsets.UTF_8)).substring(0, 32);
  }

  /** What {@link #get} did: vectors in the order asked, and how many came from disk. */
  public record Lookup(float[][] vectors, int cached, int computed, double computeSeconds) {}

  /**
   * The vectors of {@code rows} (indices into the data file's rows, texts given by {@code text}): from the cache
   * where present, the rest computed by {@code embed} (one call, all missing rows) and added to the cache.
   */
  public Lookup get(String key, int[] rows, Function<Integer, String> text, Function<List<String>, float[][]> embed) {
    Path file = dir.resolve("emb-" + key + ".bin");
    Map<Integer, float[]> stored = load(file);
    java.util.LinkedHashSet<Integer> wanted = new java.util.LinkedHashSet<>();
    for (int r : rows) if (!stored.containsKey(r)) wanted.add(r);
    List<Integer> missing = new ArrayList<>(wanted);
    double seconds = 0;
    if (!missing.isEmpty()) {
      List<String> texts = new ArrayList<>(missing.size());
      for (int r : missing) texts.add(text.apply(r));
      long t0 = System.nanoTime();
      float[][] computed = embed.apply(texts);
      seconds = (System.nanoTime() - t0) / 1e9;
      for (int i = 0; i < missing.size(); i++) stored.put(missing.get(i), computed[i]);
      save(file, stored);
    }
    float[][] out = new float[rows.length][];
    for (int i = 0; i < rows.length; i++) out[i] = stored.get(rows[i]);
    int cached = 0;
    for (int r : rows) if (!wanted.contains(r)) cached++;
    return new Lookup(out, cached, missing.size(), seconds);
  }

  private static Map<Integer, float[]> load(Path file) {
    Map<Integer, float[]> rows = new TreeMap<>();
    if (!Files.isRegularFile(file)) return rows;
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
      byte[] magic = new byte[MAGIC.length()];
      in.readFully(magic);
      if (!MAGIC.equals(new String(magic, StandardCharsets.US_ASCII))) throw new IOException("not an mtpf embedding cache");
      int dim = in.readInt(), count = in.readInt();
      if (dim <= 0 || count < 0) throw new IOException("bad header (dim " + dim + ", rows " + count + ")");
      for (int i = 0; i < count; i++) {
        int row = in.readInt();
        float[] v = new float[dim];
        for (int j = 0; j < dim; j++) v[j] = in.readFloat();
        rows.put(row, v);
      }
      return rows;
    } catch (EOFException e) {
      System.err.println("embedding cache: " + file + " is cut short; recomputing it");
    } catch (IOException e) {
      System.err.println("embedding cache: " + file + " unreadable (" + e.getMessage() + "); recomputing it");
    }
    return new TreeMap<>();
  }

  private static void save(Path file, Map<Integer, float[]> rows) {
    AtomicFiles.write(file, "the embedding cache", tmp -> {
      try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16))) {
        out.write(MAGIC.getBytes(StandardCharsets.US_ASCII));
        int dim = rows.values().iterator().next().length;
        out.writeInt(dim);
        out.writeInt(rows.size());
        for (Map.Entry<Integer, float[]> e : rows.entrySet()) {
          out.writeInt(e.getKey());
          for (float x : e.getValue()) out.writeFloat(x);
        }
      }
    });
  }

  /** Hex sha256 of a file's bytes (as {@code sha256sum} prints it). */
  public static String sha256(Path file) {
    try (var in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 20];
      for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      throw new MtpfException(file + ": cannot read to hash it (" + e.getMessage() + ")", e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
