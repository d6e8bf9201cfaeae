package io.mtpf.eval;

import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.MtpfException;
import java.nio.file.Path;
import java.util.List;

/**
 * Sentence embeddings for the classification protocol: the backbone alone, or the backbone with a task-primary tc
 * adapter active and fixed (the paper's §6: "for text classification, task-primary LoRAs remain fixed, and only the
 * linear classifier is updated"), both on an {@link Encoder} (the adapter loaded by name). Texts are sorted by token
 * count before batching, so a batch carries little padding. Pooling ("mean" over the attention mask, as the paper,
 * or "cls"), a text prefix (e5's "query: ") and L2 normalisation follow {@link Options}.
 */
public final class SentenceEmbedder implements AutoCloseable {

  /** How texts become vectors. {@code maxLength} 0: the model's limit. */
  public record Options(String pooling, String prefix, boolean normalize, int maxLength, int batchSize, String device) {
    public Options {
      if (!"mean".equals(pooling) && !"cls".equals(pooling))
        throw new MtpfException("--pooling must be mean or cls, got '" + pooling + "'");
      if (prefix == null) prefix = "";
      if (maxLength < 0) throw new MtpfException("--max-length must be >= 0, got " + maxLength);
      if (batchSize < 1) throw new MtpfException("embedding batch size must be positive, got " + batchSize);
    }

    public static Options paper() {
      return new Options("mean", "", false, 0, 64, "cpu");
    }
  }

  private static final String ADAPTER = "tc";

  private final Encoder encoder;
  private final String adapter;  // "" = the backbone alone

  private SentenceEmbedder(Encoder encoder, String adapter) {
    this.encoder = encoder;
    this.adapter = adapter;
  }

  /** {@code tcAdapter} (a PEFT folder) may be null: the backbone alone. */
  public static SentenceEmbedder open(Path model, Path tcAdapter, Options o) {
    Encoder enc = Encoder.load(model, EncoderOptions.defaults().withDevice(o.device()).withPooling(o.pooling())
        .withNormalize(o.normalize()).withTextPrefix(o.prefix()).withBatchSize(o.batchSize())
        .withMaxLength(o.maxLength()));
    if (tcAdapter == null) return new SentenceEmbedder(enc, "");
    try {
      enc.loadAdapter(ADAPTER, tcAdapter, "");
    } catch (RuntimeException e) {
      enc.close();
      throw e;
    }
    return new SentenceEmbedder(enc, ADAPTER);
  }

  /** Token limit applied to each text. */
  public int maxLength() {
    return encoder.maxLength();
  }

  /** One vector per text, in input order. */
  public float[][] embed(List<String> texts) {
    if (texts.isEmpty()) return new float[0][];
    return encoder.encode(texts, adapter);
  }

  @Override
  public void close() {
    encoder.close();
  }
}
