package io.mtpf;

import io.mtpf.nativebind.MtpfNative.NativeTrainer;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.nio.file.Path;

/**
 * One pre-finetuning run held by the native core (strategies pf-tc, pf-ner, mtpf, mtpf-tpl, pf-l; PCGrad;
 * task-primary LoRAs). {@link #step} is one native call doing both forwards, losses, backward passes, PCGrad and
 * the AdamW update. Owns native memory: close it. Not for concurrent use.
 */
public final class PretrainSession implements AutoCloseable, TokenStateSource {
  private final NativeTrainer trainer;
  private final Path modelDir;
  private final WordPieceTokenizer tokenizer;
  private final int hiddenSize;
  private boolean closed;

  private PretrainSession(NativeTrainer trainer, Path modelDir, WordPieceTokenizer tokenizer) {
    this.trainer = trainer;
    this.modelDir = modelDir;
    this.tokenizer = tokenizer;
    this.hiddenSize = trainer.hidden_size();
  }

  public static PretrainSession open(Path modelDir, TrainerConfig config) {
    return open(modelDir, config, null);
  }

  /**
   * One rank of a data-parallel job ({@code group} null: one process). Every step then takes this rank's share of
   * the global batch (the same number of rows on every rank), and all ranks call {@link #step} with the same flags.
   * The group must stay open until this session is closed.
   */
  public static PretrainSession open(Path modelDir, TrainerConfig config, Distributed group) {
    String configJson = config.toJson();
    WordPieceTokenizer tokenizer = WordPieceTokenizer.fromFolder(modelDir);
    NativeCore.ensureThreads();
    return new PretrainSession(NativeCore.call("trainer", () -> group == null
        ? new NativeTrainer(modelDir.toString(), configJson)
        : new NativeTrainer(modelDir.toString(), configJson, group.nativeGroup())), modelDir, tokenizer);
  }

  /**
   * One step that reads its losses (see {@link #step(Batch, Batch, Batch, long[], boolean, boolean)}). Either side
   * may be null: {@code anchors}/{@code positives} (same batch size) for the TC loss, {@code ner} with
   * {@code nerLabels} (row-major like ner's ids; -100 = no label) for the NER loss.
   */
  public StepMetrics step(Batch anchors, Batch positives, Batch ner, long[] nerLabels, boolean measure) {
    return step(anchors, positives, ner, nerLabels, measure, true);
  }

  /**
   * One step. {@code read}: copy this step's losses and gradient norm from the device (a synchronisation; on a GPU,
   * read every N steps only). Without it they are NaN in the result, and a non-finite loss is reported by the next
   * step that reads, by {@link #saveCheckpoint} and by the exports: an {@link MtpfException} naming the step it
   * happened at, so a run still stops on it and never checkpoints its weights. {@code measure} (the two tasks'
   * gradient cosine) implies {@code read}.
   */
  public StepMetrics step(Batch anchors, Batch positives, Batch ner, long[] nerLabels, boolean measure,
      boolean read) {
    if ((anchors == null) != (positives == null))
      throw new MtpfException("step: TC needs both anchors and positives");
    if (anchors != null && anchors.batchSize() != positives.batchSize())
      throw new MtpfException("step: " + anchors.batchSize() + " anchors but " + positives.batchSize() + " positives");
    if (ner != null && (nerLabels == null || nerLabels.length != ner.inputIds().length))
      throw new MtpfException("step: NER labels must match the NER batch (" + (ner.inputIds().length) + " values)");
    double[] m = new double[6];
    call(t -> {
      t.step(anchors == null ? null : anchors.inputIds(), anchors == null ? null : anchors.attentionMask(),
          anchors == null ? 0 : anchors.seqLen(), positives == null ? null : positives.inputIds(),
          positives == null ? null : positives.attentionMask(), positives == null ? 0 : positives.seqLen(),
          anchors == null ? 0 : anchors.batchSize(), ner == null ? null : ner.inputIds(),
          ner == null ? null : ner.attentionMask(), ner == null ? null : nerLabels, ner == null ? 0 : ner.batchSize(),
          ner == null ? 0 : ner.seqLen(), measure, m, read);
      return null;
    });
    return new StepMetrics(m[0], m[1], m[2], m[3], m[4], m[5] != 0, read || measure);
  }

  public long optimizerSteps() {
    return call(NativeTrainer::optimizer_steps);
  }

  public long microSteps() {
    return call(NativeTrainer::micro_steps);
  }

  @Override
  public int hiddenSize() {
    return hiddenSize;
  }

  /** Tokens a sequence may have (config.json's positions; RoBERTa: less its offset), as the native model reads it. */
  public int maxSequenceLength() {
    return call(NativeTrainer::max_sequence_length);
  }

  /** The precision the steps compute in, "fp32" or "bf16": the config's, with "auto" resolved for the device. */
  public String precision() {
    return call(NativeTrainer::precision);
  }

  /** The student's tokenizer (from its model folder). */
  @Override
  public WordPieceTokenizer tokenizer() {
    return tokenizer;
  }

  /** Atomic checkpoint: every parameter, optimiser state, step counters, and {@code extraJson} (caller state). */
  public void saveCheckpoint(Path dir, String extraJson) {
    call(t -> {
      t.save_checkpoint(dir.toString(), extraJson);
      return null;
    });
  }

  /** Restores a checkpoint of the same configuration; returns the caller state saved with it. */
  public String loadCheckpoint(Path dir) {
    return call(t -> t.load_checkpoint(dir.toString()));
  }

  /** The backbone as an HF model folder (config, weights without adapters, tokenizer files). */
  public void exportBackbone(Path dir) {
    call(t -> {
      t.export_backbone(dir.toString());
      return null;
    });
  }

  /** A task-primary LoRA ("tc" or "ner") as a PEFT adapter folder; the NER head is written beside its adapter. */
  public void exportAdapter(String name, Path dir) {
    call(t -> {
      t.export_adapter(name, dir.toString());
      return null;
    });
  }

  /** The NER head alone ({@code head_ner.safetensors} + json), for strategies without task adapters. */
  public void exportHead(String name, Path dir) {
    if (!"ner".equals(name)) throw new MtpfException("exportHead: only the 'ner' head exists, not '" + name + "'");
    call(t -> {
      t.export_head(dir.toString());
      return null;
    });
  }

  /** ner-adapt: stage 1 (head only) or 2 (LoRA + head), each with a fresh AdamW and schedule. */
  public void setStage(int stage, double lr, long totalSteps, long warmupSteps) {
    call(t -> {
      t.set_stage(stage, lr, totalSteps, warmupSteps);
      return null;
    });
  }

  /** NER head logits, row-major [batch, seq, classes], in eval mode. */
  public float[] nerLogits(Batch batch, int classes) {
    float[] out = new float[batch.batchSize() * batch.seqLen() * classes];
    call(t -> {
      t.ner_logits(batch.inputIds(), batch.attentionMask(), batch.batchSize(), batch.seqLen(), out);
      return null;
    });
    return out;
  }

  /** Last hidden state [batch][seq][hidden] in eval mode with {@code adapter} active ("" = base only). */
  @Override
  public float[] tokenStates(Batch batch, String adapter) {
    float[] out = new float[batch.batchSize() * batch.seqLen() * hiddenSize()];
    call(t -> {
      t.token_states(batch.inputIds(), batch.attentionMask(), batch.batchSize(), batch.seqLen(), adapter, out);
      return null;
    });
    return out;
  }

  public Path modelDir() {
    return modelDir;
  }

  private <T> T call(java.util.function.Function<NativeTrainer, T> f) {
    if (closed) throw new MtpfException("pre-finetuning session is closed");
    return NativeCore.call("trainer", () -> f.apply(trainer));
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      trainer.close();
    }
  }
}
