package io.mtpf.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedding cache: only missing rows are computed, keys separate configurations, a broken file is rebuilt. */
class EmbeddingCacheTest {
  @TempDir Path tmp;

  /** A fake embedder: the vector of text "row k" is {k, 2k}; records what it was asked. */
  final List<String> asked = new ArrayList<>();

  float[][] embed(List<String> texts) {
    asked.addAll(texts);
    float[][] out = new float[texts.size()][];
    for (int i = 0; i < out.length; i++) {
      float k = Float.parseFloat(texts.get(i).substring(4));
      out[i] = new float[] {k, 2 * k};
    }
    return out;
  }

  @Test
  void computesOnlyMissingRowsAndSurvivesABrokenFile() throws Exception {
    EmbeddingCache cache = new EmbeddingCache(tmp.resolve("cache"));
    var o = SentenceEmbedder.Options.paper();
    String key = EmbeddingCache.key("m", null, o, 128, "d");
    var first = cache.get(key, new int[] {3, 1, 3}, r -> "row " + r, this::embed);
    assertEquals(List.of("row 3", "row 1"), asked, "each missing row once");
    assertEquals(0, first.cached());
    assertArrayEquals(new float[] {3, 6}, first.vectors()[2]);
    asked.clear();
    var second = cache.get(key, new int[] {1, 5}, r -> "row " + r, this::embed);
    assertEquals(List.of("row 5"), asked);
    assertEquals(1, second.cached());
    assertEquals(1, second.computed());
    assertArrayEquals(new float[] {1, 2}, second.vectors()[0]);
    // Another prefix, another adapter: another key.
    assertNotEquals(key, EmbeddingCache.key("m", null, new SentenceEmbedder.Options("mean", "query: ", false, 0, 64,
        "cpu"), 128, "d"));
    assertNotEquals(key, EmbeddingCache.key("m", "a", o, 128, "d"));
    // A cut file is recomputed, not trusted.
    Path file = tmp.resolve("cache/emb-" + key + ".bin");
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 3));
    asked.clear();
    var third = cache.get(key, new int[] {1}, r -> "row " + r, this::embed);
    assertEquals(List.of("row 1"), asked);
    assertArrayEquals(new float[] {1, 2}, third.vectors()[0]);
  }
}
