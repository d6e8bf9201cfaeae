package io.mtpf;

/**
 * How an {@link Encoder} runs: device, precision, threads, and the sentence-embedding conventions.
 *
 * @param device "cpu", "cuda" or "cuda:N"
 * @param precision "fp32", or "bf16" (autocast; on a CPU it runs, but pays only with bf16 matrix units)
 * @param threads libtorch intra-op threads for the process; 0 keeps the current setting (default: all cores)
 * @param pooling "mean" (the paper's choice) or "cls"
 * @param normalize L2-normalise pooled embeddings
 * @param batchSize texts per forward pass; texts are sorted by length first so batches carry little padding
 * @param maxLength truncate inputs to this many tokens (0: the model's limit)
 * @param textPrefix prepended to every text (e5 expects "query: " or "passage: ")
 */
public record EncoderOptions(
    String device, String precision, int threads, String pooling, boolean normalize, int batchSize, int maxLength,
    String textPrefix) {

  public EncoderOptions {
    if (device == null || device.isBlank()) throw new MtpfException("EncoderOptions: device must be given");
    if (!"fp32".equals(precision) && !"bf16".equals(precision))
      throw new MtpfException("EncoderOptions: precision must be fp32 or bf16, got '" + precision + "'");
    if (threads < 0) throw new MtpfException("EncoderOptions: threads must be >= 0, got " + threads);
    if (!"mean".equals(pooling) && !"cls".equals(pooling))
      throw new MtpfException("EncoderOptions: pooling must be mean or cls, got '" + pooling + "'");
    if (batchSize <= 0) throw new MtpfException("EncoderOptions: batchSize must be positive, got " + batchSize);
    if (maxLength < 0) throw new MtpfException("EncoderOptions: maxLength must be >= 0, got " + maxLength);
    if (textPrefix == null) textPrefix = "";
  }

  public static EncoderOptions defaults() {
    return new EncoderOptions("cpu", "fp32", 0, "mean", false, 32, 0, "");
  }

  public EncoderOptions withDevice(String v) {
    return new EncoderOptions(v, precision, threads, pooling, normalize, batchSize, maxLength, textPrefix);
  }

  public EncoderOptions withPrecision(String v) {
    return new EncoderOptions(device, v, threads, pooling, normalize, batchSize, maxLength, textPrefix);
  }

  public EncoderOptions withThreads(int v) {
    return new EncoderOptions(device, precision, v, pooling, normalize, batchSize, maxLength, textPrefix);
  }

  public EncoderOptions withPooling(String v) {
    return new EncoderOptions(device, precision, threads, v, normalize, batchSize, maxLength, textPrefix);
  }

  public EncoderOptions withNormalize(boolean v) {
    return new EncoderOptions(device, precision, threads, pooling, v, batchSize, maxLength, textPrefix);
  }

  public EncoderOptions withBatchSize(int v) {
    return new EncoderOptions(device, precision, threads, pooling, normalize, v, maxLength, textPrefix);
  }

  public EncoderOptions withMaxLength(int v) {
    return new EncoderOptions(device, precision, threads, pooling, normalize, batchSize, v, textPrefix);
  }

  public EncoderOptions withTextPrefix(String v) {
    return new EncoderOptions(device, precision, threads, pooling, normalize, batchSize, maxLength, v);
  }
}
