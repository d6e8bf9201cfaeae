package io.mtpf.data;

import java.util.List;

/** One source of positive pairs; hierarchical sampling draws a dataset, then a whole batch from it. */
public record PairDataset(String name, List<TextPair> pairs) {
  public PairDataset {
    pairs = List.copyOf(pairs);
  }

  public int size() {
    return pairs.size();
  }
}
