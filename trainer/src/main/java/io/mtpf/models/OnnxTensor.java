package io.mtpf.models;

import java.util.Arrays;

/**
 * A TensorProto read from an ONNX file: an initializer or the value of a Constant node. Floating types (float,
 * float16, bfloat16, double) are widened or narrowed to fp32 in {@code floats}; integer types land in {@code longs}.
 * Other types keep only their shape.
 */
public record OnnxTensor(String name, int dataType, long[] dims, float[] floats, long[] longs) {
  // onnx.TensorProto.DataType values we read.
  public static final int FLOAT = 1;
  public static final int UINT8 = 2;
  public static final int INT8 = 3;
  public static final int INT32 = 6;
  public static final int INT64 = 7;
  public static final int FLOAT16 = 10;
  public static final int DOUBLE = 11;
  public static final int BFLOAT16 = 16;

  public long numel() {
    long n = 1;
    for (long d : dims) n *= d;
    return n;
  }

  public boolean hasFloats() {
    return floats != null;
  }

  public boolean hasLongs() {
    return longs != null;
  }

  public String shapeString() {
    return Arrays.toString(dims);
  }

  /** A copy carrying another name (a Constant node's value takes the name of the node's output). */
  public OnnxTensor withName(String newName) {
    return new OnnxTensor(newName, dataType, dims, floats, longs);
  }

  @Override
  public String toString() {
    return name + " (type " + dataType + ", shape " + shapeString() + ")";
  }
}
