package io.mtpf;

import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.WordPieceTokenizer;

/**
 * Anything that turns a padded batch into last-layer token states: a training session mid-run, or a loaded
 * encoder. The interference probes of the paper's §5 run on it.
 */
public interface TokenStateSource {
  /** Row-major [batch, seq, hidden] token states, in eval mode, with {@code adapter} active ("" = base only). */
  float[] tokenStates(Batch batch, String adapter);

  int hiddenSize();

  WordPieceTokenizer tokenizer();
}
