package io.mtpf;

import io.mtpf.nativebind.MtpfNative.NativeStepBatch;
import io.mtpf.nativebind.MtpfNative.NativeStepResult;
import io.mtpf.nativebind.MtpfNative.NativeTrainer;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.nio.file.Path;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * One training session held by the native core (api.h's {@code mtpf::Trainer}, over its libtorch
 * {@code TrainSession}): a pre-finetuning run (strategies pf-tc, pf-ner, mtpf, mtpf-tpl, pf-l; PCGrad; task-primary
 * LoRAs) or a downstream NER adaptation (ner-adapt). {@link #step} is one native call doing both forwards, losses,
 * backward passes, PCGrad and the AdamW update. Owns native memory: close it. Not for concurrent use.
 */
public final class Trainer implements AutoCloseable, TokenStateSource {
  private final NativeTrainer trainer;
  private final WordPieceTokenizer tokenizer;
  private final int hiddenSize;
  private boolean closed;

  private Trainer(NativeTrainer trainer, WordPieceTokenizer tokenizer) {
    this.trainer = trainer;
    this.tokenizer = tokenizer;
    this.hiddenSize = trainer.hidden_size();
  }

  public static Trainer open(Path modelDir, TrainerConfig config) {
    return open(modelDir, config, null);
  }

  /**
   * One rank of a data-parallel job ({@code group} null: one process). Every step then takes this rank's share of
   * the global batch (the same number of rows on every rank), and all ranks call {@link #step} with the same flags.
   * The group must stay open until this session is closed.
   */
  public static Trainer open(Path modelDir, TrainerConfig config, Distributed group) {
    String configJson = config.toJson();
    WordPieceTokenizer tokenizer = WordPieceTokenizer.fromFolder(modelDir);
    NativeCore.ensureThreads();
    return new Trainer(NativeCore.call("trainer", () -> group == null
        ? new NativeTrainer(modelDir.toString(), configJson)
        : new NativeTrainer(modelDir.toString(), configJson, group.nativeGroup())), tokenizer);
  }

  /** One step that reads its losses (see {@link #step(StepBatch, boolean, boolean)}). */
  public StepMetrics step(StepBatch batch, boolean measure) {
    return step(batch, measure, true);
  }

  /**
   * One step: both forwards, losses, backward passes, PCGrad, clipping and (every accumulation steps) the AdamW
   * update, in one native call. {@code read}: copy this step's losses and gradient norm from the device (a
   * synchronisation; on a GPU, read every N steps only). Without it they are NaN in the result, and a non-finite
   * loss is reported by the next step that reads, by {@link #saveCheckpoint} and by the exports: an
   * {@link MtpfException} naming the step it happened at, so a run still stops on it and never checkpoints its
   * weights. {@code measure} (the two tasks' gradient cosine) implies {@code read}.
   */
  public StepMetrics step(StepBatch batch, boolean measure, boolean read) {
    // The arrays go to native memory for the call (the struct holds pointers); the scope frees them after it.
    try (PointerScope scope = new PointerScope()) {
      NativeStepBatch b = new NativeStepBatch();
      b.measure(measure).read(read);
      if (batch.anchors() != null) {
        Batch a = batch.anchors(), p = batch.positives();
        b.tc_rows(a.batchSize())
            .tc_anchor_ids(new LongPointer(a.inputIds())).tc_anchor_mask(new LongPointer(a.attentionMask()))
            .tc_anchor_len(a.seqLen())
            .tc_positive_ids(new LongPointer(p.inputIds())).tc_positive_mask(new LongPointer(p.attentionMask()))
            .tc_positive_len(p.seqLen());
      }
      if (batch.ner() != null) {
        Batch n = batch.ner();
        b.ner_rows(n.batchSize()).ner_len(n.seqLen())
            .ner_ids(new LongPointer(n.inputIds())).ner_mask(new LongPointer(n.attentionMask()))
            .ner_labels(new LongPointer(batch.nerLabels()));
      }
      NativeStepResult r = call(t -> t.step(b));
      return new StepMetrics(r.tc_loss(), r.ner_loss(), r.lr(), r.grad_cosine(), r.grad_norm(), r.optimizer_stepped(),
          r.read());
    }
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
