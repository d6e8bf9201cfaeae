package io.mtpf;

import io.mtpf.tokenizer.Batch;

/**
 * One training step's input: TC pairs ({@code anchors} and {@code positives}, the same number of rows) and/or NER
 * rows ({@code ner}) with one label per token ({@code nerLabels}, row-major like ner's ids; -100: no label). Either
 * task may be absent (null). This checks what only these Java objects can get wrong; the native trainer checks the
 * values (ids inside the vocabulary, lengths, labels within the head's classes), once, naming the field.
 */
public record StepBatch(Batch anchors, Batch positives, Batch ner, long[] nerLabels) {
  public StepBatch {
    if ((anchors == null) != (positives == null))
      throw new MtpfException("step batch: TC needs both anchors and positives");
    if (anchors != null && anchors.batchSize() != positives.batchSize())
      throw new MtpfException("step batch: " + anchors.batchSize() + " anchors but " + positives.batchSize() + " positives");
    if ((ner == null) != (nerLabels == null))
      throw new MtpfException("step batch: an NER batch needs its labels, and labels their batch");
    if (ner != null && nerLabels.length != ner.inputIds().length)
      throw new MtpfException("step batch: " + nerLabels.length + " NER labels for " + ner.inputIds().length
          + " tokens (" + ner.batchSize() + " x " + ner.seqLen() + ")");
  }

  /** TC pairs alone. */
  public static StepBatch tc(Batch anchors, Batch positives) {
    return new StepBatch(anchors, positives, null, null);
  }

  /** NER rows alone. */
  public static StepBatch ner(Batch ner, long[] labels) {
    return new StepBatch(null, null, ner, labels);
  }
}
