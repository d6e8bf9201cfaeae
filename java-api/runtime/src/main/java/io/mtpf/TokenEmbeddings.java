package io.mtpf;

import io.mtpf.tokenizer.Encoding;

/**
 * Per-token vectors of one input with its tokenization (tokens, word ids, character offsets).
 *
 * @param encoding the tokenization, specials included
 * @param vectors one vector per token of {@code encoding}
 */
public record TokenEmbeddings(Encoding encoding, float[][] vectors) {

  /**
   * Word-level embeddings: the mean of each word's sub-token vectors (the paper's NER distillation input).
   * Row w is word w; a word that produced no token (only control characters, or cut by truncation) gets a
   * null row.
   */
  public float[][] wordMeans() {
    int[] wordIds = encoding.wordIds();
    int words = encoding.wordCount();
    int width = vectors.length == 0 ? 0 : vectors[0].length;
    float[][] sums = new float[words][];
    int[] counts = new int[words];
    for (int t = 0; t < wordIds.length; t++) {
      int w = wordIds[t];
      if (w < 0) continue;
      if (sums[w] == null) sums[w] = new float[width];
      for (int j = 0; j < width; j++) sums[w][j] += vectors[t][j];
      counts[w]++;
    }
    for (int w = 0; w < words; w++)
      if (sums[w] != null) for (int j = 0; j < width; j++) sums[w][j] /= counts[w];
    return sums;
  }
}
