package io.mtpf.eval;

import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.MtpfException;
import io.mtpf.PretrainSession;
import io.mtpf.TrainerConfig;
import io.mtpf.formats.PeftConfig;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.LengthBatches;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Sentence embeddings for the classification protocol: the backbone alone (an {@link Encoder}), or the backbone
 * with a task-primary tc adapter active and fixed (the paper's §6: "for text classification, task-primary LoRAs
 * remain fixed, and only the linear classifier is updated"). Texts are sorted by token count before batching, so a
 * batch carries little padding. Pooling ("mean" over the attention mask, as the paper, or "cls"), a text prefix
 * (e5's "query: ") and L2 normalisation follow {@link Options}.
 *
 * <p>The adapter runs in a native session that loads it as a PEFT adapter onto the backbone in eval mode (no
 * dropout, no gradient); the only other LoRA the session holds is one zero-initialised module (PEFT's B = 0), which
 * changes nothing.
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

  private final Encoder encoder;
  private final PretrainSession session;
  private final Options options;
  private final int maxLength;

  private SentenceEmbedder(Encoder encoder, PretrainSession session, Options options, int maxLength) {
    this.encoder = encoder;
    this.session = session;
    this.options = options;
    this.maxLength = maxLength;
  }

  /** {@code tcAdapter} (a PEFT folder) may be null: the backbone alone. */
  public static SentenceEmbedder open(Path model, Path tcAdapter, Options o) {
    if (tcAdapter == null) {
      Encoder enc = Encoder.load(model, EncoderOptions.defaults().withDevice(o.device()).withPooling(o.pooling())
          .withNormalize(o.normalize()).withTextPrefix(o.prefix()).withBatchSize(o.batchSize())
          .withMaxLength(o.maxLength()));
      return new SentenceEmbedder(enc, null, o, enc.maxLength());
    }
    PeftConfig adapterConfig = PeftConfig.read(tcAdapter);
    // ner-adapt is the session kind that loads a PEFT adapter as a LoRA group (its 2-class head is never used).
    TrainerConfig config = TrainerConfig.nerAdapt(2, adapterConfig.r(), adapterConfig.loraAlpha());
    config.lora.lastLayers = 1;
    config.lora.targets = List.of("query");
    config.optimizer.totalSteps = 1;
    config.device = o.device();
    config.adapt.init = tcAdapter.toString();
    PretrainSession s = PretrainSession.open(model, config);
    int limit = Math.min(s.maxSequenceLength(), 512);
    return new SentenceEmbedder(null, s, o, o.maxLength() == 0 ? limit : Math.min(o.maxLength(), limit));
  }

  /** Token limit applied to each text. */
  public int maxLength() {
    return maxLength;
  }

  /** One vector per text, in input order. */
  public float[][] embed(List<String> texts) {
    if (texts.isEmpty()) return new float[0][];
    if (encoder != null) return encoder.encode(texts);
    List<Encoding> encodings = new ArrayList<>(texts.size());
    for (String t : texts) encodings.add(session.tokenizer().encode(options.prefix() + t, maxLength));
    int hidden = session.hiddenSize();
    float[][] out = new float[texts.size()][];
    LengthBatches.forEach(encodings, options.batchSize(), session.tokenizer().padId(), (b, rows) -> {
      float[] states = session.tokenStates(b, "ner");  // the tc adapter, loaded under the session's LoRA name
      for (int r = 0; r < rows.length; r++) out[rows[r]] = pool(states, b, r, hidden);
    });
    return out;
  }

  /** Mean over the attention mask or the first token, optionally L2-normalised (as the native Encoder pools). */
  private float[] pool(float[] states, Batch b, int row, int hidden) {
    float[] v = new float[hidden];
    int seq = b.seqLen();
    if (options.pooling().equals("cls")) {
      System.arraycopy(states, row * seq * hidden, v, 0, hidden);
    } else {
      double[] sum = new double[hidden];
      int n = 0;
      for (int t = 0; t < seq; t++) {
        if (b.attentionMask()[row * seq + t] == 0) continue;
        n++;
        int base = (row * seq + t) * hidden;
        for (int j = 0; j < hidden; j++) sum[j] += states[base + j];
      }
      for (int j = 0; j < hidden; j++) v[j] = (float) (sum[j] / Math.max(1, n));
    }
    if (options.normalize()) {
      double norm = 0;
      for (float x : v) norm += (double) x * x;
      norm = Math.max(Math.sqrt(norm), 1e-12);
      for (int j = 0; j < hidden; j++) v[j] = (float) (v[j] / norm);
    }
    return v;
  }

  @Override
  public void close() {
    if (encoder != null) encoder.close();
    if (session != null) session.close();
  }
}
