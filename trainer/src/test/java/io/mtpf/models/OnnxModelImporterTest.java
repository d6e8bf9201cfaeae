package io.mtpf.models;

import io.mtpf.formats.Fp32Tensor;
import java.io.ByteArrayInputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OnnxModelImporterTest {

  private static BertCheckpoint importBytes(byte[] onnx, OnnxModelImporter.Expected expected) {
    OnnxGraph graph = OnnxGraphReader.read(new ByteArrayInputStream(onnx), "synthetic.onnx");
    return OnnxModelImporter.importBert(graph, expected);
  }

  /** Every HF parameter is recovered under its name, with HF's layout (Linear weights transposed back). */
  private static void assertMatches(SyntheticBertOnnx model, BertCheckpoint ckpt) {
    List<String> names = ckpt.tensors().stream().map(Fp32Tensor::name).toList();
    assertEquals(List.copyOf(model.expected.keySet()).stream().sorted().toList(), names.stream().sorted().toList());
    assertEquals(OnnxModelImporter.parameterNames(model.layers, false), names, "module order");
    for (Fp32Tensor t : ckpt.tensors()) {
      assertArrayEquals(model.expectedShapes.get(t.name()), t.shape(), t.name());
      assertArrayEquals(model.expected.get(t.name()), t.data(), t.name());
    }
  }

  @Test
  void recoversNamesTranspositionAndConfig() {
    SyntheticBertOnnx model = new SyntheticBertOnnx();
    BertCheckpoint ckpt = importBytes(model.build(), null);
    assertMatches(model, ckpt);

    // query.weight is [out, in]: row o holds the weights of output o, i.e. column o of the stored MatMul matrix.
    Fp32Tensor q = ckpt.tensor("encoder.layer.0.attention.self.query.weight");
    assertArrayEquals(new long[] {8, 8}, q.shape());
    Fp32Tensor inter = ckpt.tensor("encoder.layer.1.intermediate.dense.weight");
    assertArrayEquals(new long[] {16, 8}, inter.shape());
    assertArrayEquals(new long[] {8, 16}, ckpt.tensor("encoder.layer.1.output.dense.weight").shape());

    assertEquals(new BertConfig(20, 8, 2, 2, 16, 16, 2, 1e-12), ckpt.config());
    long params = model.expected.values().stream().mapToLong(v -> v.length).sum();
    assertEquals(params, ckpt.parameterCount());
  }

  @Test
  void configJsonHasTheHfFields() {
    BertConfig c = importBytes(new SyntheticBertOnnx().build(), null).config();
    var json = c.toJson();
    assertEquals(List.of("BertModel"), json.get("architectures"));
    assertEquals("bert", json.get("model_type"));
    assertEquals(8, json.get("hidden_size"));
    assertEquals(2, json.get("num_attention_heads"));
    assertEquals(16, json.get("intermediate_size"));
    assertEquals(20, json.get("vocab_size"));
    assertEquals(1e-12, json.get("layer_norm_eps"));
    assertEquals("gelu", json.get("hidden_act"));
    assertEquals("absolute", json.get("position_embedding_type"));
  }

  @Test
  void weightsAsConstantNodesWithFloatData() {
    SyntheticBertOnnx model = new SyntheticBertOnnx();
    model.weightsAsConstants = true;
    model.floatData = true;
    assertMatches(model, importBytes(model.build(), null));
  }

  @Test
  void fp16TensorsAreWidenedToFp32() {
    SyntheticBertOnnx model = new SyntheticBertOnnx();
    model.fp16 = true;
    assertMatches(model, importBytes(model.build(), null));
  }

  @Test
  void halfToFloatCoversSpecialValues() {
    assertEquals(1.0f, OnnxGraphReader.halfToFloat(0x3c00));
    assertEquals(-2.0f, OnnxGraphReader.halfToFloat(0xc000));
    assertEquals(65504f, OnnxGraphReader.halfToFloat(0x7bff));
    assertEquals(0x1p-24f, OnnxGraphReader.halfToFloat(0x0001)); // smallest subnormal
    assertEquals(Float.POSITIVE_INFINITY, OnnxGraphReader.halfToFloat(0x7c00));
    assertTrue(Float.isNaN(OnnxGraphReader.halfToFloat(0x7e00)));
    assertEquals(-0.0f, OnnxGraphReader.halfToFloat(0x8000));
  }

  @Test
  void missingWeightIsNamed() {
    SyntheticBertOnnx model = new SyntheticBertOnnx();
    model.omit = Set.of("encoder.layer.1.attention.self.key.weight", "embeddings.LayerNorm.bias");
    ModelImportException e = assertThrows(ModelImportException.class, () -> importBytes(model.build(), null));
    assertTrue(e.getMessage().startsWith("synthetic.onnx: the graph does not yield a complete BertModel"),
        e.getMessage());
    assertTrue(e.getMessage().contains("missing 2 tensors: embeddings.LayerNorm.bias, "
        + "encoder.layer.1.attention.self.key.weight"), e.getMessage());
  }

  @Test
  void missingLayerIsFoundAgainstTheCatalog() {
    SyntheticBertOnnx model = new SyntheticBertOnnx();
    ModelImportException e = assertThrows(ModelImportException.class,
        () -> importBytes(model.build(), new OnnxModelImporter.Expected(3, 8, 2)));
    assertEquals("synthetic.onnx: graph has 2 layers of hidden size 8, the catalog expects 3 of 8", e.getMessage());
  }

  @Test
  void missingMiddleLayerIsNamed() {
    SyntheticBertOnnx model = new SyntheticBertOnnx();
    model.layers = 3;
    model.omit = Set.copyOf(OnnxModelImporter.parameterNames(3, false).stream()
        .filter(n -> n.startsWith("encoder.layer.1.")).toList());
    ModelImportException e = assertThrows(ModelImportException.class, () -> importBytes(model.build(), null));
    assertTrue(e.getMessage().contains("missing 16 tensors: encoder.layer.1.attention.self.query.weight, "),
        e.getMessage());
  }

  @Test
  void truncatedFileIsReportedAsSuch() {
    byte[] onnx = new SyntheticBertOnnx().build();
    for (int cut : new int[] {onnx.length / 2, onnx.length - 3, 20}) {
      byte[] truncated = Arrays.copyOf(onnx, cut);
      ModelImportException e = assertThrows(ModelImportException.class, () -> importBytes(truncated, null));
      assertTrue(e.getMessage().startsWith("synthetic.onnx: truncated or corrupt ONNX file"), e.getMessage());
      assertTrue(e.getMessage().contains("ended unexpectedly"), e.getMessage());
    }
  }

  @Test
  void notAnOnnxFile() {
    ModelImportException e = assertThrows(ModelImportException.class, () -> importBytes(new byte[0], null));
    assertEquals("synthetic.onnx: not an ONNX model (no graph in it)", e.getMessage());
  }

  @Test
  void headsComeFromTheGraphAndAreCheckedAgainstTheCatalog() {
    byte[] onnx = new SyntheticBertOnnx().build();
    assertEquals(2, importBytes(onnx, new OnnxModelImporter.Expected(2, 8, 2)).config().numAttentionHeads());
    ModelImportException e = assertThrows(ModelImportException.class,
        () -> importBytes(onnx, new OnnxModelImporter.Expected(2, 8, 4)));
    assertEquals("synthetic.onnx: the graph splits attention into 2 heads, the catalog says 4", e.getMessage());
  }

  @Test
  void headsFallBackToTheCatalogWhenTheGraphDoesNotSay() {
    SyntheticBertOnnx model = new SyntheticBertOnnx();
    model.heads = 0;
    byte[] onnx = model.build();
    assertEquals(4, importBytes(onnx, new OnnxModelImporter.Expected(2, 8, 4)).config().numAttentionHeads());
    ModelImportException e = assertThrows(ModelImportException.class, () -> importBytes(onnx, null));
    assertTrue(e.getMessage().contains("cannot tell the number of attention heads"), e.getMessage());
  }

  @Test
  void catalogSizeMismatchIsAnError() {
    ModelImportException e = assertThrows(ModelImportException.class,
        () -> importBytes(new SyntheticBertOnnx().build(), new OnnxModelImporter.Expected(2, 16, 2)));
    assertEquals("synthetic.onnx: graph has 2 layers of hidden size 8, the catalog expects 2 of 16", e.getMessage());
  }

  @Test
  void externalDataIsRefused() {
    byte[] tensor = SyntheticBertOnnx.message(out -> {
      out.writeInt64(1, 4);
      out.writeInt32(2, OnnxTensor.FLOAT);
      out.writeString(8, "embeddings.word_embeddings.weight");
      out.writeByteArray(13, SyntheticBertOnnx.message(kv -> {
        kv.writeString(1, "location");
        kv.writeString(2, "weights.bin");
      }));
      out.writeInt32(14, 1);
    });
    byte[] onnx = SyntheticBertOnnx.message(out -> out.writeByteArray(7,
        SyntheticBertOnnx.message(g -> g.writeByteArray(5, tensor))));
    ModelImportException e = assertThrows(ModelImportException.class, () -> importBytes(onnx, null));
    assertEquals("synthetic.onnx: tensor 'embeddings.word_embeddings.weight' keeps its data in an external file,"
        + " which a single ONNX file cannot carry", e.getMessage());
  }

  @Test
  void tensorWithTooFewValuesIsAnError() {
    SyntheticBertOnnx model = new SyntheticBertOnnx();
    byte[] tensor = model.tensor("x", OnnxTensor.FLOAT, new long[] {2, 3}, new float[5]);
    byte[] onnx = SyntheticBertOnnx.message(out -> out.writeByteArray(7,
        SyntheticBertOnnx.message(g -> g.writeByteArray(5, tensor))));
    ModelImportException e = assertThrows(ModelImportException.class, () -> importBytes(onnx, null));
    assertEquals("synthetic.onnx: tensor 'x' holds 5 values but its shape [2, 3] needs 6", e.getMessage());
  }
}
