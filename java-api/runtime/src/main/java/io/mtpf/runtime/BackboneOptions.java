package io.mtpf.runtime;

import io.mtpf.MtpfException;

/**
 * How a {@link Backbone} runs. Immutable; the {@code with...} methods return changed copies.
 *
 * <ul>
 *   <li>threads: threads of this backbone's forwards (0: the native default, all cores)
 *   <li>int8: linear weights quantised to int8 per output row (embeddings and norms stay fp32); smaller and
 *       usually faster, at a small accuracy cost
 *   <li>batchSize: texts per forward; texts are sorted by length first so that batches carry little padding
 *   <li>maxLength: inputs are truncated to this many tokens (0: the model's limit)
 * </ul>
 */
public final class BackboneOptions {
  private final int threads;
  private final boolean int8;
  private final int batchSize;
  private final int maxLength;

  private BackboneOptions(int threads, boolean int8, int batchSize, int maxLength) {
    if (threads < 0) throw new MtpfException("BackboneOptions: threads must be >= 0, got " + threads);
    if (batchSize <= 0) throw new MtpfException("BackboneOptions: batchSize must be positive, got " + batchSize);
    if (maxLength < 0) throw new MtpfException("BackboneOptions: maxLength must be >= 0, got " + maxLength);
    this.threads = threads;
    this.int8 = int8;
    this.batchSize = batchSize;
    this.maxLength = maxLength;
  }

  public static BackboneOptions defaults() {
    return new BackboneOptions(0, false, 32, 0);
  }

  public BackboneOptions withThreads(int v) {
    return new BackboneOptions(v, int8, batchSize, maxLength);
  }

  public BackboneOptions withInt8(boolean v) {
    return new BackboneOptions(threads, v, batchSize, maxLength);
  }

  public BackboneOptions withBatchSize(int v) {
    return new BackboneOptions(threads, int8, v, maxLength);
  }

  public BackboneOptions withMaxLength(int v) {
    return new BackboneOptions(threads, int8, batchSize, v);
  }

  public int threads() {
    return threads;
  }

  public boolean int8() {
    return int8;
  }

  public int batchSize() {
    return batchSize;
  }

  public int maxLength() {
    return maxLength;
  }

  /** The runtime's name for the weight format: "fp32" or "int8". */
  String weights() {
    return int8 ? "int8" : "fp32";
  }

  @Override
  public String toString() {
    return "BackboneOptions{threads=" + threads + ", int8=" + int8 + ", batchSize=" + batchSize + ", maxLength="
        + maxLength + "}";
  }
}
