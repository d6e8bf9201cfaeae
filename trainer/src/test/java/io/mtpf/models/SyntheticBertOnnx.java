package io.mtpf.models;

import com.google.protobuf.CodedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Writes a small BERT ONNX graph in the layout torch.onnx gives the real ones: parameters under HF names, except
 * each Linear weight, stored transposed as {@code onnx::MatMul_N} and wired MatMul -> Add(X.bias, .). The graph is
 * not runnable (LayerNorm, attention and GELU nodes are left out); it has what the importer walks. {@link #expected}
 * holds every parameter in HF layout.
 */
final class SyntheticBertOnnx {
  int layers = 2;
  int hidden = 8;
  int heads = 2; // 0: no Reshape node stating the head count
  int intermediate = 16;
  int vocab = 20;
  int maxPositions = 16;
  int typeVocab = 2;
  float layerNormEps = 1e-12f;
  /** Linear weights as Constant nodes instead of initializers. */
  boolean weightsAsConstants;
  /** float_data instead of raw_data. */
  boolean floatData;
  /** All float tensors as FLOAT16 (values are multiples of 1/64, exact in half precision). */
  boolean fp16;
  /** HF parameter names to leave out of the file. */
  Set<String> omit = Set.of();

  final Map<String, float[]> expected = new LinkedHashMap<>();
  final Map<String, long[]> expectedShapes = new LinkedHashMap<>();

  private final List<byte[]> nodes = new ArrayList<>();
  private final List<byte[]> initializers = new ArrayList<>();
  private final Random random = new Random(42);
  private int matmulId = 1000;

  byte[] build() {
    expected.clear();
    expectedShapes.clear();
    nodes.clear();
    initializers.clear();
    param("embeddings.word_embeddings.weight", vocab, hidden);
    param("embeddings.position_embeddings.weight", maxPositions, hidden);
    param("embeddings.token_type_embeddings.weight", typeVocab, hidden);
    param("embeddings.LayerNorm.weight", hidden);
    param("embeddings.LayerNorm.bias", hidden);
    // The LayerNorm epsilon, as torch exports it: Sqrt(Add(variance, eps)).
    constantNode("/embeddings/LayerNorm/Constant_1", "eps", tensor("", 1, new long[0], new float[] {layerNormEps}));
    node("Add", "/embeddings/LayerNorm/Add", List.of("/embeddings/LayerNorm/ReduceMean_1_output_0", "eps"),
        List.of("/embeddings/LayerNorm/Add_output_0"));
    node("Sqrt", "/embeddings/LayerNorm/Sqrt", List.of("/embeddings/LayerNorm/Add_output_0"),
        List.of("/embeddings/LayerNorm/Sqrt_output_0"));
    String x = "/embeddings/LayerNorm/Add_1_output_0";
    for (int i = 0; i < layers; i++) {
      String p = "encoder.layer." + i + ".";
      String q = linear(p + "attention.self.query", x, hidden, hidden);
      String k = linear(p + "attention.self.key", x, hidden, hidden);
      linear(p + "attention.self.value", x, hidden, hidden);
      if (heads > 0) reshapeToHeads(p, k);
      String attn = linear(p + "attention.output.dense", q, hidden, hidden);
      param(p + "attention.output.LayerNorm.weight", hidden);
      param(p + "attention.output.LayerNorm.bias", hidden);
      String inter = linear(p + "intermediate.dense", attn, hidden, intermediate);
      x = linear(p + "output.dense", inter, intermediate, hidden);
      param(p + "output.LayerNorm.weight", hidden);
      param(p + "output.LayerNorm.bias", hidden);
    }
    byte[] graph = message(out -> {
      for (byte[] n : nodes) out.writeByteArray(1, n);
      out.writeString(2, "main_graph");
      for (byte[] t : initializers) out.writeByteArray(5, t);
      out.writeByteArray(11, message(v -> v.writeString(1, "input_ids")));
      out.writeByteArray(12, message(v -> v.writeString(1, "last_hidden_state")));
    });
    return message(out -> {
      out.writeInt64(1, 6); // ir_version
      out.writeString(2, "pytorch");
      out.writeString(3, "2.0.1");
      out.writeByteArray(7, graph);
      out.writeByteArray(8, message(o -> o.writeInt64(2, 14))); // opset_import
    });
  }

  /** A named parameter stored as is (embeddings, LayerNorms, biases). */
  private float[] param(String name, long... shape) {
    float[] values = values(shape);
    expected.put(name, values);
    expectedShapes.put(name, shape);
    if (!omit.contains(name)) initializers.add(tensor(name, floatType(), shape, values));
    return values;
  }

  /** x @ W^T + b with W stored transposed under a generated name; returns the output name. */
  private String linear(String name, String input, int in, int out) {
    float[] w = values(new long[] {out, in});
    expected.put(name + ".weight", w);
    expectedShapes.put(name + ".weight", new long[] {out, in});
    float[] wt = new float[w.length];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) wt[i * out + o] = w[o * in + i];
    }
    String wName = "onnx::MatMul_" + (matmulId++);
    if (!omit.contains(name + ".weight")) {
      byte[] t = tensor(weightsAsConstants ? "" : wName, floatType(), new long[] {in, out}, wt);
      if (weightsAsConstants) {
        constantNode("Constant_" + wName, wName, t);
      } else {
        initializers.add(t);
      }
    }
    param(name + ".bias", out);
    String path = "/" + name.replace('.', '/').replace("/layer/", "/layer.");
    String mm = path + "/MatMul_output_0";
    node("MatMul", path + "/MatMul", List.of(input, wName), List.of(mm));
    String add = path + "/Add_output_0";
    node("Add", path + "/Add", List.of(name + ".bias", mm), List.of(add)); // bias first, as torch writes it
    return add;
  }

  /** The attention's view to [batch, seq, heads, head_dim]: Reshape(x, Concat(batch, seq, heads, head_dim)). */
  private void reshapeToHeads(String prefix, String x) {
    String p = "/" + prefix.replace('.', '/').replace("/layer/", "/layer.") + "attention/self/";
    constantNode(p + "Constant_2", p + "Constant_2_output_0",
        tensor("", OnnxTensor.INT64, new long[] {1}, new long[] {heads}));
    constantNode(p + "Constant_3", p + "Constant_3_output_0",
        tensor("", OnnxTensor.INT64, new long[] {1}, new long[] {hidden / heads}));
    node("Concat", p + "Concat", List.of(p + "Unsqueeze_output_0", p + "Unsqueeze_1_output_0",
        p + "Constant_2_output_0", p + "Constant_3_output_0"), List.of(p + "Concat_output_0"));
    node("Reshape", p + "Reshape", List.of(x, p + "Concat_output_0"), List.of(p + "Reshape_output_0"));
  }

  private int floatType() {
    return fp16 ? OnnxTensor.FLOAT16 : OnnxTensor.FLOAT;
  }

  private float[] values(long[] shape) {
    long n = 1;
    for (long d : shape) n *= d;
    float[] v = new float[(int) n];
    for (int i = 0; i < v.length; i++) v[i] = (random.nextInt(257) - 128) / 64f; // exact in fp16 too
    return v;
  }

  private void node(String op, String name, List<String> inputs, List<String> outputs) {
    nodes.add(message(out -> {
      for (String in : inputs) out.writeString(1, in);
      for (String o : outputs) out.writeString(2, o);
      out.writeString(3, name);
      out.writeString(4, op);
    }));
  }

  private void constantNode(String name, String output, byte[] value) {
    nodes.add(message(out -> {
      out.writeString(2, output);
      out.writeString(3, name);
      out.writeString(4, "Constant");
      out.writeByteArray(5, message(a -> {
        a.writeString(1, "value");
        a.writeByteArray(5, value);
        a.writeInt32(20, 4); // AttributeType TENSOR
      }));
    }));
  }

  /** A TensorProto: dims unpacked (as torch writes them), values as raw_data or the typed repeated field. */
  byte[] tensor(String name, int dataType, long[] dims, Object values) {
    return message(out -> {
      for (long d : dims) out.writeInt64(1, d);
      out.writeInt32(2, dataType);
      if (!name.isEmpty()) out.writeString(8, name);
      if (values instanceof float[] f && dataType == OnnxTensor.FLOAT16) {
        ByteBuffer b = ByteBuffer.allocate(2 * f.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : f) b.putShort(floatToHalf(v));
        out.writeByteArray(9, b.array());
      } else if (values instanceof float[] f && floatData) {
        out.writeTag(4, 2);
        out.writeUInt32NoTag(4 * f.length);
        for (float v : f) out.writeFloatNoTag(v);
      } else if (values instanceof float[] f) {
        ByteBuffer b = ByteBuffer.allocate(4 * f.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(f);
        out.writeByteArray(9, b.array());
      } else if (values instanceof long[] l) {
        ByteBuffer b = ByteBuffer.allocate(8 * l.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(l);
        out.writeByteArray(9, b.array());
      }
    });
  }

  /** fp32 -> fp16 for the values this class makes (normal numbers and zero, no rounding needed). */
  static short floatToHalf(float v) {
    int bits = Float.floatToIntBits(v);
    int sign = (bits >>> 16) & 0x8000;
    if ((bits & 0x7fffffff) == 0) return (short) sign;
    int exp = ((bits >>> 23) & 0xff) - 127 + 15;
    int mant = (bits >>> 13) & 0x3ff;
    return (short) (sign | (exp << 10) | mant);
  }

  interface Writer {
    void write(CodedOutputStream out) throws IOException;
  }

  static byte[] message(Writer w) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      w.write(out);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
