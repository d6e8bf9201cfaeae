package io.mtpf.models;

import java.util.List;
import java.util.Map;

/** A NodeProto: one operator of the graph, wired to other nodes by tensor names. */
public record OnnxNode(
    String name, String opType, List<String> inputs, List<String> outputs, Map<String, Attribute> attributes) {

  /** The AttributeProto fields the importer uses; the others are skipped while reading. */
  public record Attribute(String name, OnnxTensor t, Long i, Float f, long[] ints, float[] floats) {}

  public String input(int index) {
    return index < inputs.size() ? inputs.get(index) : "";
  }

  public String output(int index) {
    return index < outputs.size() ? outputs.get(index) : "";
  }
}
