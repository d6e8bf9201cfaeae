package io.mtpf.models;

import io.mtpf.formats.Fp32Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Recovers a HF BertModel state dict from an ONNX graph exported by torch.onnx.
 *
 * <p>The exporter keeps parameter names for tensors it uses as they are (embeddings, LayerNorms, biases), but
 * each Linear weight is consumed as {@code x @ W^T}, so it is stored pre-transposed under a generated name such
 * as {@code onnx::MatMul_1525}. Its HF name is found by wiring: the MatMul's output feeds an Add whose other input
 * is the Linear's named bias {@code X.bias}, so the MatMul initializer is {@code X.weight} transposed. Shapes give
 * the config; the head count comes from the attention's Reshape to [batch, seq, heads, head_dim].
 */
public final class OnnxModelImporter {
  private OnnxModelImporter() {}

  /** Written into mtpf-import.json; bump when the output of an import changes. */
  public static final String VERSION = "1";

  /** Architecture facts known from elsewhere (the catalog), cross-checked against the graph. */
  public record Expected(int numHiddenLayers, int hiddenSize, int numAttentionHeads) {
    public static Expected of(ModelCatalog.Entry e) {
      return new Expected(e.numHiddenLayers(), e.hiddenSize(), e.numAttentionHeads());
    }
  }

  // Parameter names of a BertModel; some exports prefix them with the wrapper's attribute name "bert.".
  private static final Pattern BERT_PARAM = Pattern.compile("^(?:bert\\.)?((?:embeddings|encoder|pooler)\\..*\\.(?:weight|bias))$");
  private static final Pattern LAYER_INDEX = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");
  private static final int MAX_LISTED = 30;

  /**
   * The BertModel parameters in {@code graph}, under HF names and in module order.
   *
   * @param expected catalog facts to check the graph against, and the head count if the graph does not state
   *     it; null for none
   */
  public static BertCheckpoint importBert(OnnxGraph graph, Expected expected) {
    String source = graph.source();
    Map<String, Fp32Tensor> found = new HashMap<>();
    Map<String, String> linearOutputs = new HashMap<>(); // Linear name (X) -> the Add output computing X(x)

    // 1. Tensors the exporter left under their parameter names.
    for (OnnxTensor t : graph.constants().values()) {
      Matcher m = BERT_PARAM.matcher(t.name());
      if (m.matches() && t.hasFloats()) found.put(m.group(1), new Fp32Tensor(m.group(1), t.dims(), t.floats()));
    }

    // 2. Linear weights: MatMul(x, W) -> Add(X.bias, .), so X.weight = W^T.
    Map<String, String> weightSources = new HashMap<>();
    for (OnnxNode mm : graph.nodes()) {
      if (!mm.opType().equals("MatMul")) continue;
      OnnxTensor w = graph.constant(mm.input(1)).orElse(null);
      if (w == null || !w.hasFloats() || w.dims().length != 2) continue;
      for (OnnxNode add : graph.consumers(mm.output(0))) {
        if (!add.opType().equals("Add")) continue;
        String bias = add.input(0).equals(mm.output(0)) ? add.input(1) : add.input(0);
        Matcher m = BERT_PARAM.matcher(bias);
        if (!m.matches() || !m.group(1).endsWith(".bias") || graph.constant(bias).isEmpty()) continue;
        String linear = m.group(1).substring(0, m.group(1).length() - ".bias".length());
        String weight = linear + ".weight";
        String previous = weightSources.put(weight, w.name());
        if (previous != null && !previous.equals(w.name())) {
          throw new ModelImportException(source + ": two MatMul weights (" + previous + ", " + w.name()
              + ") both feed the Linear " + linear);
        }
        if (previous == null) found.put(weight, Fp32Tensor.transpose2d(weight, w.dims(), w.floats()));
        linearOutputs.put(linear, add.output(0));
      }
    }

    // 3. The set of names a complete BertModel has, given the layer count seen.
    int layers = 0;
    for (String name : found.keySet()) {
      Matcher m = LAYER_INDEX.matcher(name);
      if (m.find()) layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
    }
    boolean pooler = found.containsKey("pooler.dense.weight") || found.containsKey("pooler.dense.bias");
    List<String> names = parameterNames(layers, pooler);
    List<String> missing = names.stream().filter(n -> !found.containsKey(n)).toList();
    if (layers == 0 || !missing.isEmpty()) {
      throw new ModelImportException(source + ": the graph does not yield a complete BertModel; missing "
          + (layers == 0 ? "all encoder layers" : missing.size() + " tensors: " + list(missing)));
    }
    List<String> unexpected = found.keySet().stream().filter(n -> !names.contains(n)).sorted().toList();
    if (!unexpected.isEmpty()) {
      throw new ModelImportException(source + ": not a plain BertModel; unexpected tensors: " + list(unexpected));
    }

    // 4. Config from shapes, checked against every tensor.
    long[] word = found.get("embeddings.word_embeddings.weight").shape();
    long[] intermediate = found.get("encoder.layer.0.intermediate.dense.weight").shape();
    if (word.length != 2 || intermediate.length != 2) {
      throw new ModelImportException(source + ": embeddings.word_embeddings.weight and "
          + "encoder.layer.0.intermediate.dense.weight must be matrices");
    }
    int hidden = (int) word[1];
    if (expected != null && (expected.numHiddenLayers() != layers || expected.hiddenSize() != hidden)) {
      throw new ModelImportException(source + ": graph has " + layers + " layers of hidden size " + hidden
          + ", the catalog expects " + expected.numHiddenLayers() + " of " + expected.hiddenSize());
    }
    int heads = heads(graph, linearOutputs, hidden, expected);
    BertConfig config = new BertConfig((int) word[0], hidden, layers, heads, (int) intermediate[0],
        (int) found.get("embeddings.position_embeddings.weight").shape()[0],
        (int) found.get("embeddings.token_type_embeddings.weight").shape()[0],
        layerNormEps(graph).orElse(1e-12));
    checkShapes(source, config, found, names);

    List<Fp32Tensor> tensors = new ArrayList<>(names.size());
    for (String n : names) tensors.add(found.get(n));
    return new BertCheckpoint(config, tensors);
  }

  /** Every parameter of a HF BertModel with {@code layers} layers, in module order. */
  public static List<String> parameterNames(int layers, boolean pooler) {
    List<String> names = new ArrayList<>();
    for (String e : List.of("word_embeddings", "position_embeddings", "token_type_embeddings")) {
      names.add("embeddings." + e + ".weight");
    }
    names.add("embeddings.LayerNorm.weight");
    names.add("embeddings.LayerNorm.bias");
    for (int i = 0; i < layers; i++) {
      String p = "encoder.layer." + i + ".";
      for (String m : List.of("attention.self.query", "attention.self.key", "attention.self.value",
          "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense",
          "output.LayerNorm")) {
        names.add(p + m + ".weight");
        names.add(p + m + ".bias");
      }
    }
    if (pooler) {
      names.add("pooler.dense.weight");
      names.add("pooler.dense.bias");
    }
    return names;
  }

  /** The shape each parameter must have under {@code c}. */
  public static long[] expectedShape(String name, BertConfig c) {
    long h = c.hiddenSize();
    if (name.equals("embeddings.word_embeddings.weight")) return new long[] {c.vocabSize(), h};
    if (name.equals("embeddings.position_embeddings.weight")) return new long[] {c.maxPositionEmbeddings(), h};
    if (name.equals("embeddings.token_type_embeddings.weight")) return new long[] {c.typeVocabSize(), h};
    if (name.contains("LayerNorm")) return new long[] {h};
    long out = name.contains("intermediate.dense") ? c.intermediateSize() : h;
    long in = name.contains(".output.dense") && !name.contains("attention") ? c.intermediateSize() : h;
    return name.endsWith(".weight") ? new long[] {out, in} : new long[] {out};
  }

  private static void checkShapes(String source, BertConfig c, Map<String, Fp32Tensor> found, List<String> names) {
    List<String> wrong = new ArrayList<>();
    for (String n : names) {
      long[] want = expectedShape(n, c);
      if (!Arrays.equals(want, found.get(n).shape())) {
        wrong.add(n + " " + found.get(n).shapeString() + " (want " + Arrays.toString(want) + ")");
      }
    }
    if (!wrong.isEmpty()) throw new ModelImportException(source + ": tensors of unexpected shape: " + list(wrong));
  }

  /**
   * Heads from the graph, where the attention reshapes the query/key/value projections to [batch, seq, heads,
   * head_dim]; the catalog's value when the graph does not say; an error when the two disagree.
   */
  private static int heads(OnnxGraph graph, Map<String, String> linearOutputs, int hidden, Expected expected) {
    OptionalInt fromGraph = OptionalInt.empty();
    for (String proj : List.of("query", "key", "value")) {
      String out = linearOutputs.get("encoder.layer.0.attention.self." + proj);
      if (out == null) continue;
      for (OnnxNode reshape : graph.consumers(out)) {
        if (!reshape.opType().equals("Reshape")) continue;
        long[] shape = constantInts(graph, reshape.input(1));
        if (shape != null && shape.length == 4 && shape[2] > 0 && shape[3] > 0 && shape[2] * shape[3] == hidden) {
          fromGraph = OptionalInt.of((int) shape[2]);
        }
      }
      if (fromGraph.isPresent()) break;
    }
    String source = graph.source();
    if (fromGraph.isPresent() && expected != null && fromGraph.getAsInt() != expected.numAttentionHeads()) {
      throw new ModelImportException(source + ": the graph splits attention into " + fromGraph.getAsInt()
          + " heads, the catalog says " + expected.numAttentionHeads());
    }
    int heads = fromGraph.isPresent() ? fromGraph.getAsInt() : expected != null ? expected.numAttentionHeads() : 0;
    if (heads <= 0) {
      throw new ModelImportException(source + ": cannot tell the number of attention heads from the graph");
    }
    if (hidden % heads != 0) {
      throw new ModelImportException(source + ": hidden size " + hidden + " is not divisible by " + heads + " heads");
    }
    return heads;
  }

  /**
   * A shape tensor's values where known: a constant, or a Concat of pieces of which the dynamic ones (batch and
   * sequence length, gathered from Shape) are single unknown entries, given as -1.
   */
  private static long[] constantInts(OnnxGraph graph, String name) {
    OnnxTensor t = graph.constant(name).orElse(null);
    if (t != null) return t.hasLongs() ? t.longs() : null;
    OnnxNode concat = graph.producer(name).orElse(null);
    if (concat == null || !concat.opType().equals("Concat")) return null;
    List<Long> values = new ArrayList<>();
    for (String in : concat.inputs()) {
      OnnxTensor piece = graph.constant(in).orElse(null);
      if (piece != null && piece.hasLongs()) {
        for (long v : piece.longs()) values.add(v);
      } else {
        values.add(-1L);
      }
    }
    return values.stream().mapToLong(Long::longValue).toArray();
  }

  /**
   * The LayerNorm epsilon, from the decomposed LayerNorm torch exports at opset < 17: Sqrt(Add(variance, eps)).
   * Rounded through float, the precision it is stored in, so 1e-12 reads back as 1e-12.
   */
  private static OptionalDouble layerNormEps(OnnxGraph graph) {
    for (OnnxNode sqrt : graph.nodes()) {
      if (!sqrt.opType().equals("Sqrt")) continue;
      OnnxNode add = graph.producer(sqrt.input(0)).orElse(null);
      if (add == null || !add.opType().equals("Add")) continue;
      for (String in : add.inputs()) {
        OnnxTensor c = graph.constant(in).orElse(null);
        if (c != null && c.hasFloats() && c.numel() == 1 && c.floats()[0] > 0 && c.floats()[0] < 1e-3) {
          return OptionalDouble.of(Double.parseDouble(Float.toString(c.floats()[0])));
        }
      }
    }
    // Opset 17+ exports a LayerNormalization node carrying epsilon as an attribute.
    for (OnnxNode n : graph.nodes()) {
      OnnxNode.Attribute eps = n.attributes().get("epsilon");
      if (n.opType().equals("LayerNormalization") && eps != null && eps.f() != null) {
        return OptionalDouble.of(Double.parseDouble(Float.toString(eps.f())));
      }
    }
    return OptionalDouble.empty();
  }

  private static String list(List<String> items) {
    if (items.size() <= MAX_LISTED) return String.join(", ", items);
    return String.join(", ", items.subList(0, MAX_LISTED)) + " ... and " + (items.size() - MAX_LISTED) + " more";
  }
}
