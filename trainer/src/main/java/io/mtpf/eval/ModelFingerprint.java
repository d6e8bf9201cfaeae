package io.mtpf.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What identifies a model or adapter folder in results: the sha256 of its safetensors weights (of the one file, as
 * {@code sha256sum} prints it; of the files' hashes in name order when there are several), and for an adapter the
 * transformer layers its LoRA tensors sit on.
 */
public final class ModelFingerprint {
  private ModelFingerprint() {}

  private static final Pattern LAYER = Pattern.compile("\\.layers?\\.(\\d+)\\.");

  /** The weights' sha256; an error naming the folder when it holds no .safetensors file. */
  public static String sha256(Path dir) {
    List<Path> files = safetensors(dir);
    if (files.size() == 1) return EmbeddingCache.sha256(files.get(0));
    StringBuilder all = new StringBuilder();
    for (Path f : files) all.append(f.getFileName()).append(' ').append(EmbeddingCache.sha256(f)).append('\n');
    return EmbeddingCache.sha256(all.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** The layer indices named in an adapter's tensor keys ({@code ...encoder.layer.4.attention...}). */
  public static TreeSet<Integer> loraLayers(Path adapterDir) {
    TreeSet<Integer> layers = new TreeSet<>();
    for (Path f : safetensors(adapterDir)) {
      if (f.getFileName().toString().startsWith("head_")) continue;  // the NER head beside its adapter
      Iterator<String> keys = header(f).fieldNames();
      while (keys.hasNext()) {
        String key = keys.next();
        Matcher m = LAYER.matcher(key);
        if (key.contains("lora_") && m.find()) layers.add(Integer.parseInt(m.group(1)));
      }
    }
    return layers;
  }

  private static List<Path> safetensors(Path dir) {
    if (!Files.isDirectory(dir)) throw new MtpfException(dir + ": folder not found");
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
      if (files.isEmpty()) throw new MtpfException(dir + ": no .safetensors weights in the folder");
      return files;
    } catch (IOException e) {
      throw new MtpfException(dir + ": cannot list (" + e.getMessage() + ")", e);
    }
  }

  /** The JSON header of a safetensors file (8-byte little-endian length, then JSON). */
  static JsonNode header(Path file) {
    try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
      long n = Long.reverseBytes(in.readLong());
      if (n <= 0 || n > 100_000_000) throw new IOException("header length " + n);
      byte[] json = new byte[(int) n];
      in.readFully(json);
      return new ObjectMapper().readTree(json);
    } catch (IOException e) {
      throw new MtpfException(file + ": not a safetensors file (" + e.getMessage() + ")", e);
    }
  }
}
