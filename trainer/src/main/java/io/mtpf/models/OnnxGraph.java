package io.mtpf.models;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The graph of an ONNX model, indexed for walking: constant tensors by name (initializers, and the values of
 * Constant nodes under their output names, since exporters put weights in either), the node producing each tensor,
 * and the nodes consuming it.
 */
public final class OnnxGraph {
  private final String source;
  private final List<OnnxNode> nodes;
  private final Map<String, OnnxTensor> constants = new LinkedHashMap<>();
  private final Map<String, OnnxNode> producers = new HashMap<>();
  private final Map<String, List<OnnxNode>> consumers = new HashMap<>();

  public OnnxGraph(String source, List<OnnxTensor> initializers, List<OnnxNode> nodes) {
    this.source = source;
    this.nodes = List.copyOf(nodes);
    for (OnnxTensor t : initializers) constants.put(t.name(), t);
    for (OnnxNode n : nodes) {
      for (String out : n.outputs()) producers.put(out, n);
      for (String in : n.inputs()) {
        if (!in.isEmpty()) consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
      }
      if (n.opType().equals("Constant") && !n.outputs().isEmpty()) {
        OnnxTensor value = constantValue(n);
        if (value != null) constants.put(n.output(0), value);
      }
    }
  }

  /** Where the graph came from, for error messages. */
  public String source() {
    return source;
  }

  public List<OnnxNode> nodes() {
    return nodes;
  }

  /** Initializers and Constant-node values, keyed by the tensor name the nodes use. */
  public Map<String, OnnxTensor> constants() {
    return constants;
  }

  public Optional<OnnxTensor> constant(String name) {
    return Optional.ofNullable(constants.get(name));
  }

  public Optional<OnnxNode> producer(String tensorName) {
    return Optional.ofNullable(producers.get(tensorName));
  }

  public List<OnnxNode> consumers(String tensorName) {
    return consumers.getOrDefault(tensorName, List.of());
  }

  private static OnnxTensor constantValue(OnnxNode n) {
    String out = n.output(0);
    for (OnnxNode.Attribute a : n.attributes().values()) {
      switch (a.name()) {
        case "value":
          if (a.t() != null) return a.t().withName(out);
          break;
        case "value_float":
          if (a.f() != null) return new OnnxTensor(out, OnnxTensor.FLOAT, new long[0], new float[] {a.f()}, null);
          break;
        case "value_floats":
          if (a.floats() != null) {
            return new OnnxTensor(out, OnnxTensor.FLOAT, new long[] {a.floats().length}, a.floats(), null);
          }
          break;
        case "value_int":
          if (a.i() != null) return new OnnxTensor(out, OnnxTensor.INT64, new long[0], null, new long[] {a.i()});
          break;
        case "value_ints":
          if (a.ints() != null) {
            return new OnnxTensor(out, OnnxTensor.INT64, new long[] {a.ints().length}, null, a.ints());
          }
          break;
        default:
          break;
      }
    }
    return null;
  }
}
