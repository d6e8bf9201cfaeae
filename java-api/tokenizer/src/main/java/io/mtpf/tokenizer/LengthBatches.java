package io.mtpf.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Inputs run in batches of similar length: sorted by token count, so that each padded batch wastes little, with
 * every row's index in the input list so that results go back in input order. One place for what the encoder,
 * the sentence embedder, the NER tagger and the probes all do.
 */
public final class LengthBatches {
  private LengthBatches() {}

  /** Receives one padded batch and, for each of its rows, the index of that row's input. */
  public interface Body {
    void accept(Batch batch, int[] rows);
  }

  /** Input indices ordered by token count (stable: equal lengths keep input order). */
  public static Integer[] byLength(List<Encoding> encodings) {
    Integer[] order = new Integer[encodings.size()];
    for (int i = 0; i < order.length; i++) order[i] = i;
    Arrays.sort(order, Comparator.comparingInt(i -> encodings.get(i).length()));
    return order;
  }

  /** Runs {@code body} on batches of at most {@code batchSize} inputs of similar length, padded with {@code padId}. */
  public static void forEach(List<Encoding> encodings, int batchSize, int padId, Body body) {
    if (batchSize < 1) throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
    Integer[] order = byLength(encodings);
    for (int start = 0; start < order.length; start += batchSize) {
      int end = Math.min(order.length, start + batchSize);
      int[] rows = new int[end - start];
      List<Encoding> part = new ArrayList<>(rows.length);
      for (int i = start; i < end; i++) {
        rows[i - start] = order[i];
        part.add(encodings.get(order[i]));
      }
      body.accept(Batch.pad(part, padId), rows);
    }
  }
}
