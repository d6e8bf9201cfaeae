package io.mtpf.runtime;

import io.mtpf.tokenizer.Encoding;
import java.util.Arrays;
import java.util.List;

/**
 * Encodings padded on the right to the longest one, as the runtime's int32 [batch, seq] arrays, with each row's
 * adapter slot; {@code rows} maps each batch row back to its input index.
 */
final class TokenBatch {
  final int[] inputIds;
  final int[] attentionMask;
  final int[] tokenTypeIds;
  final int[] adapterIds;
  final int[] rows;
  final int batch;
  final int seq;

  private TokenBatch(int[] inputIds, int[] attentionMask, int[] tokenTypeIds, int[] adapterIds, int[] rows, int seq) {
    this.inputIds = inputIds;
    this.attentionMask = attentionMask;
    this.tokenTypeIds = tokenTypeIds;
    this.adapterIds = adapterIds;
    this.rows = rows;
    this.batch = rows.length;
    this.seq = seq;
  }

  /** Input indices ordered by token count, so that consecutive batches pad little. */
  static Integer[] byLength(List<Encoding> encodings) {
    return io.mtpf.tokenizer.LengthBatches.byLength(encodings);
  }

  /** @param slots each input's adapter slot (-1: none), or null when no input has an adapter */
  static TokenBatch pad(List<Encoding> encodings, int[] rows, int[] slots, int padId) {
    int seq = 0;
    for (int r : rows) seq = Math.max(seq, encodings.get(r).length());
    int[] ids = new int[rows.length * seq], mask = new int[rows.length * seq], types = new int[rows.length * seq];
    int[] adapters = slots == null ? null : new int[rows.length];
    Arrays.fill(ids, padId);
    for (int i = 0; i < rows.length; i++) {
      Encoding e = encodings.get(rows[i]);
      int[] eIds = e.ids(), eTypes = e.typeIds();
      System.arraycopy(eIds, 0, ids, i * seq, eIds.length);
      System.arraycopy(eTypes, 0, types, i * seq, eTypes.length);
      Arrays.fill(mask, i * seq, i * seq + eIds.length, 1);
      if (adapters != null) adapters[i] = slots[rows[i]];
    }
    return new TokenBatch(ids, mask, types, adapters, rows, seq);
  }
}
