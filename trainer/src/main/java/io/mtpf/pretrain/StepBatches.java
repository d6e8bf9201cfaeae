package io.mtpf.pretrain;

import io.mtpf.StepBatch;
import io.mtpf.tokenizer.Batch;

/**
 * The inputs of one training step, ready for the native call: a TC batch (anchors and positives, padded
 * separately) and an NER batch with token labels (-100 where a token carries none). Either may be null.
 *
 * @param tokens real (non-pad) tokens in the step's global batch (all ranks'), for tokens/s
 */
public record StepBatches(long step, String tcDataset, Batch anchors, Batch positives, Batch ner, long[] nerLabels,
    long tokens) {
  /** The native step's input. */
  public StepBatch batch() {
    return new StepBatch(anchors, positives, ner, nerLabels);
  }
}
