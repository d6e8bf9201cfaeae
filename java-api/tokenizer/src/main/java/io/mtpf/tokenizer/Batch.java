package io.mtpf.tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * Encodings padded to the longest one, flattened row-major as int64 [batchSize, seqLen]: the input of the native
 * encoder. The arrays are the batch's own (not copied on access); treat them as read-only.
 */
public final class Batch {
  private final long[] inputIds;
  private final long[] attentionMask;
  private final long[] tokenTypeIds;
  private final int batchSize;
  private final int seqLen;

  private Batch(long[] inputIds, long[] attentionMask, long[] tokenTypeIds, int batchSize, int seqLen) {
    this.inputIds = inputIds;
    this.attentionMask = attentionMask;
    this.tokenTypeIds = tokenTypeIds;
    this.batchSize = batchSize;
    this.seqLen = seqLen;
  }

  /** Pads on the right with padId (attention 0, token type 0) to the longest encoding. */
  public static Batch pad(List<Encoding> encodings, int padId) {
    int rows = encodings.size();
    int seqLen = 0;
    for (Encoding e : encodings) seqLen = Math.max(seqLen, e.length());
    long[] ids = new long[rows * seqLen];
    long[] mask = new long[rows * seqLen];
    long[] types = new long[rows * seqLen];
    Arrays.fill(ids, padId);
    for (int r = 0; r < rows; r++) {
      Encoding e = encodings.get(r);
      int[] eIds = e.rawIds();
      int[] eTypes = e.rawTypeIds();
      int base = r * seqLen;
      for (int t = 0; t < eIds.length; t++) {
        ids[base + t] = eIds[t];
        mask[base + t] = 1;
        types[base + t] = eTypes[t];
      }
    }
    return new Batch(ids, mask, types, rows, seqLen);
  }

  /**
   * Per-token labels of this batch's rows ({@link Encoding#tokenLabels}), laid out like {@link #inputIds()}: -100
   * (no label, as HF's run_ner) on padding and wherever a row's labels end.
   */
  public long[] padLabels(List<int[]> tokenLabels) {
    if (tokenLabels.size() != batchSize) {
      throw new IllegalArgumentException(tokenLabels.size() + " label rows for a batch of " + batchSize);
    }
    long[] y = new long[batchSize * seqLen];
    Arrays.fill(y, -100);
    for (int i = 0; i < batchSize; i++) {
      int[] l = tokenLabels.get(i);
      for (int t = 0; t < l.length; t++) y[i * seqLen + t] = l[t];
    }
    return y;
  }

  public long[] inputIds() {
    return inputIds;
  }

  public long[] attentionMask() {
    return attentionMask;
  }

  public long[] tokenTypeIds() {
    return tokenTypeIds;
  }

  public int batchSize() {
    return batchSize;
  }

  public int seqLen() {
    return seqLen;
  }
}
