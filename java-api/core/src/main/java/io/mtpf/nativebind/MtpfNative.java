package io.mtpf.nativebind;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.ByRef;
import org.bytedeco.javacpp.annotation.ByVal;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.MemberGetter;
import org.bytedeco.javacpp.annotation.MemberSetter;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.StdString;

/**
 * JavaCPP mapping of native/include/mtpf/api.h (our own API; it does not inherit the torch presets, so only
 * one libtorch is ever loaded). Every C++ exception thrown behind these methods arrives as a
 * {@link RuntimeException} carrying its message; the public API in {@code io.mtpf} rethrows it typed.
 */
@Platform(include = "mtpf/api.h", link = "mtpf")
@Namespace("mtpf")
public final class MtpfNative {
  static {
    Loader.load();
  }

  private MtpfNative() {}

  /** mtpf::DistributedGroup: one rank's membership of a c10d process group. Owned: close() leaves it. */
  @Name("DistributedGroup")
  public static final class NativeDistributedGroup extends Pointer {
    static {
      Loader.load();
    }

    public NativeDistributedGroup(String configJson, String device) {
      allocate(configJson, device);
    }

    private native void allocate(@StdString String configJson, @StdString String device);

    public native int rank();

    public native int size();

    public native @StdString String backend();

    public native void barrier();

    public native @StdString String broadcast_string(@StdString String value);

    public native void all_reduce_sum(double[] values, int n);
  }

  /** "" when this build can train data-parallel on the device, else why not and what to install. */
  public static native @StdString String distributed_unavailable(@StdString String device);

  /** The native trainer config's defaults as JSON (its schema; io.mtpf.TrainerConfig mirrors it). */
  public static native @StdString String trainer_config_defaults();

  /** mtpf::Encoder: one loaded HF encoder on one device. Owned: close() deletes the native object. */
  @Name("Encoder")
  public static final class NativeEncoder extends Pointer {
    static {
      Loader.load();
    }

    public NativeEncoder(String modelDir, String device, String precision) {
      allocate(modelDir, device, precision);
    }

    private native void allocate(@StdString String modelDir, @StdString String device, @StdString String precision);

    public native @StdString String model_type();

    public native @StdString String device();

    public native int hidden_size();

    public native int num_layers();

    public native int vocab_size();

    public native int type_vocab_size();

    public native int pad_token_id();

    public native int max_sequence_length();

    public native void last_hidden_state(
        @Cast("const int64_t*") long[] inputIds,
        @Cast("const int64_t*") long[] attentionMask,
        @Cast("const int64_t*") long[] tokenTypeIds,
        int batch,
        int seq,
        float[] out);

    public native void hidden_states(
        @Cast("const int64_t*") long[] inputIds,
        @Cast("const int64_t*") long[] attentionMask,
        @Cast("const int64_t*") long[] tokenTypeIds,
        int batch,
        int seq,
        @Cast("const int*") int[] layers,
        int numSelected,
        float[] out);

    public native void pooled(
        @Cast("const int64_t*") long[] inputIds,
        @Cast("const int64_t*") long[] attentionMask,
        @Cast("const int64_t*") long[] tokenTypeIds,
        int batch,
        int seq,
        @StdString String pooling,
        @Cast("bool") boolean normalize,
        float[] out);

    public native void save(@StdString String dir);

    public native void load_adapter(@StdString String name, @StdString String dir, @StdString String headName);

    public native void unload_adapter(@StdString String name);

    public native int head_classes(@StdString String name);

    public native void last_hidden_state(
        @Cast("const int64_t*") long[] inputIds,
        @Cast("const int64_t*") long[] attentionMask,
        @Cast("const int64_t*") long[] tokenTypeIds,
        int batch,
        int seq,
        float[] out,
        @StdString String adapter);

    public native void pooled(
        @Cast("const int64_t*") long[] inputIds,
        @Cast("const int64_t*") long[] attentionMask,
        @Cast("const int64_t*") long[] tokenTypeIds,
        int batch,
        int seq,
        @StdString String pooling,
        @Cast("bool") boolean normalize,
        float[] out,
        @StdString String adapter);

    public native void token_logits(
        @Cast("const int64_t*") long[] inputIds,
        @Cast("const int64_t*") long[] attentionMask,
        @Cast("const int64_t*") long[] tokenTypeIds,
        int batch,
        int seq,
        @StdString String adapter,
        float[] out);
  }

  /** mtpf::StepBatch: one training step's input, host memory (api.h says every field's meaning). */
  @Name("StepBatch")
  public static final class NativeStepBatch extends Pointer {
    static {
      Loader.load();
    }

    public NativeStepBatch() {
      allocate();
    }

    private native void allocate();

    @MemberSetter public native NativeStepBatch tc_anchor_ids(@Cast("const int64_t*") LongPointer ids);

    @MemberSetter public native NativeStepBatch tc_anchor_mask(@Cast("const int64_t*") LongPointer mask);

    @MemberSetter public native NativeStepBatch tc_anchor_len(int len);

    @MemberSetter public native NativeStepBatch tc_positive_ids(@Cast("const int64_t*") LongPointer ids);

    @MemberSetter public native NativeStepBatch tc_positive_mask(@Cast("const int64_t*") LongPointer mask);

    @MemberSetter public native NativeStepBatch tc_positive_len(int len);

    @MemberSetter public native NativeStepBatch tc_rows(int rows);

    @MemberSetter public native NativeStepBatch ner_ids(@Cast("const int64_t*") LongPointer ids);

    @MemberSetter public native NativeStepBatch ner_mask(@Cast("const int64_t*") LongPointer mask);

    @MemberSetter public native NativeStepBatch ner_labels(@Cast("const int64_t*") LongPointer labels);

    @MemberSetter public native NativeStepBatch ner_rows(int rows);

    @MemberSetter public native NativeStepBatch ner_len(int len);

    @MemberSetter public native NativeStepBatch measure(@Cast("bool") boolean measure);

    @MemberSetter public native NativeStepBatch read(@Cast("bool") boolean read);
  }

  /** mtpf::StepResult: what a step reports. */
  @Name("StepResult")
  public static final class NativeStepResult extends Pointer {
    static {
      Loader.load();
    }

    public NativeStepResult(Pointer p) {
      super(p);
    }

    @MemberGetter public native double tc_loss();

    @MemberGetter public native double ner_loss();

    @MemberGetter public native double lr();

    @MemberGetter public native double grad_cosine();

    @MemberGetter public native double grad_norm();

    @MemberGetter public native @Cast("bool") boolean optimizer_stepped();

    @MemberGetter public native @Cast("bool") boolean read();
  }

  /** mtpf::Trainer: one pre-finetuning run; step() is one native call per training step. */
  @Name("Trainer")
  public static final class NativeTrainer extends Pointer {
    static {
      Loader.load();
    }

    public NativeTrainer(String modelDir, String configJson) {
      allocate(modelDir, configJson);
    }

    /** One rank of a data-parallel job; {@code group} must stay open while this trainer lives. */
    public NativeTrainer(String modelDir, String configJson, NativeDistributedGroup group) {
      allocate(modelDir, configJson, group);
    }

    private native void allocate(@StdString String modelDir, @StdString String configJson);

    private native void allocate(@StdString String modelDir, @StdString String configJson,
        NativeDistributedGroup group);

    public native @ByVal NativeStepResult step(@Const @ByRef NativeStepBatch batch);

    public native long optimizer_steps();

    public native long micro_steps();

    public native int hidden_size();

    public native int max_sequence_length();

    public native @StdString String precision();

    public native void save_checkpoint(@StdString String dir, @StdString String extraJson);

    public native @StdString String load_checkpoint(@StdString String dir);

    public native void export_backbone(@StdString String dir);

    public native void export_adapter(@StdString String name, @StdString String dir);

    public native void export_head(@StdString String dir);

    public native void set_stage(int stage, double lr, long totalSteps, long warmupSteps);

    public native void ner_logits(
        @Cast("const int64_t*") long[] inputIds,
        @Cast("const int64_t*") long[] attentionMask,
        int batch,
        int seq,
        float[] out);

    public native void token_states(
        @Cast("const int64_t*") long[] inputIds,
        @Cast("const int64_t*") long[] attentionMask,
        int batch,
        int seq,
        @StdString String adapter,
        float[] out);
  }

  public static native void kmeans_fit(float[] x, long n, int d, int k, int batchSize, int maxIter, long seed,
      @StdString String device, float[] centers, int[] labels, double[] stats);

  public static native void kmeans_assign(float[] x, long n, int d, float[] centers, int k, int[] labels);

  /** scikit-learn's LogisticRegression(C, max_iter) fitted and applied; probabilities and stats may be null. */
  public static native void logistic_regression_fit_predict(@Cast("const float*") float[] xTrain, long nTrain, int d,
      @Cast("const int*") int[] yTrain, int classes, @Cast("const float*") float[] xTest, long nTest, double c,
      int maxIter, int[] predictions, float[] probabilities, double[] stats);

  public static native void model_init_random(@StdString String configPath, @StdString String outDir, long seed);

  public static native void set_num_threads(int n);

  public static native int num_threads();

  public static native @StdString String torch_version();

  public static native @Cast("bool") boolean cuda_available();
}
