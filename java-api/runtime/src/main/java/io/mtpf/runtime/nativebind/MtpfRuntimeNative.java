package io.mtpf.runtime.nativebind;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.javacpp.annotation.StdString;

/**
 * JavaCPP mapping of native/runtime/include/mtpf/runtime.h: the libtorch-free runtime. It inherits the OpenBLAS
 * presets (the no-LAPACK variant: the runtime needs only CBLAS, and apps are spared a 22 MB JNI library) so
 * that Loader.load() brings bytedeco's libopenblas in before libmtpf_runtime (on Android too, where
 * nothing else would find it), and it has its own JNI library so that it never loads libtorch. C++ exceptions
 * arrive as RuntimeExceptions with their message; {@code io.mtpf.runtime} rethrows them as MtpfException.
 */
@Properties(
    inherit = org.bytedeco.openblas.presets.openblas_nolapack.class,
    value = @Platform(include = "mtpf/runtime.h", link = "mtpf_runtime", library = "jnimtpfruntime"))
@Namespace("mtpf::rt")
public final class MtpfRuntimeNative {
  static {
    Loader.load();
  }

  private MtpfRuntimeNative() {}

  /** mtpf::rt::Backbone: one model folder's weights plus its named adapters. Owned: close() deletes it. */
  @Name("Backbone")
  public static final class NativeBackbone extends Pointer {
    static {
      Loader.load();
    }

    public NativeBackbone(String modelDir, String weights) {
      allocate(modelDir, weights);
    }

    private native void allocate(@StdString String modelDir, @StdString String weights);

    public native @StdString String model_type();

    public native int hidden_size();

    public native int num_layers();

    public native int vocab_size();

    public native int max_sequence_length();

    public native int pad_token_id();

    public native void set_num_threads(int n);

    public native int num_threads();

    public native @Cast("long long") long weight_bytes();

    public native @Cast("long long") long adapter_bytes(@StdString String name);

    public native void load_adapter(@StdString String name, @StdString String dir, @StdString String headName);

    public native void unload_adapter(@StdString String name);

    public native int adapter_id(@StdString String name);

    public native @StdString String adapter_names();

    public native int head_classes(@StdString String name);

    public native @StdString String head_labels(@StdString String name);

    public native void last_hidden_state(
        @Cast("const int32_t*") int[] inputIds,
        @Cast("const int32_t*") int[] attentionMask,
        @Cast("const int32_t*") int[] tokenTypeIds,
        @Cast("const int32_t*") int[] adapterIds,
        int batch,
        int seq,
        float[] out);

    public native void embed(
        @Cast("const int32_t*") int[] inputIds,
        @Cast("const int32_t*") int[] attentionMask,
        @Cast("const int32_t*") int[] tokenTypeIds,
        @Cast("const int32_t*") int[] adapterIds,
        int batch,
        int seq,
        @StdString String pooling,
        @Cast("bool") boolean normalize,
        float[] out);

    public native void token_logits(
        @Cast("const int32_t*") int[] inputIds,
        @Cast("const int32_t*") int[] attentionMask,
        @Cast("const int32_t*") int[] tokenTypeIds,
        @Cast("const int32_t*") int[] adapterIds,
        int batch,
        int seq,
        int outClasses,
        float[] out);
  }

  public static native @StdString String runtime_version();
}
