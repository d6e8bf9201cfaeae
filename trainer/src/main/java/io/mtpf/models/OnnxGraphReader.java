package io.mtpf.models;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the graph of an ONNX ModelProto with protobuf's CodedInputStream, by field number (onnx/onnx.proto), so no
 * generated ONNX classes are needed. It streams: each tensor's bytes are read once and turned into fp32 or int64
 * values; ValueInfos, doc strings, metadata and subgraphs are skipped unread.
 */
public final class OnnxGraphReader {
  private OnnxGraphReader() {}

  // ModelProto
  private static final int MODEL_GRAPH = 7;
  // GraphProto
  private static final int GRAPH_NODE = 1;
  private static final int GRAPH_INITIALIZER = 5;
  // NodeProto
  private static final int NODE_INPUT = 1;
  private static final int NODE_OUTPUT = 2;
  private static final int NODE_NAME = 3;
  private static final int NODE_OP_TYPE = 4;
  private static final int NODE_ATTRIBUTE = 5;
  // AttributeProto
  private static final int ATTR_NAME = 1;
  private static final int ATTR_F = 2;
  private static final int ATTR_I = 3;
  private static final int ATTR_T = 5;
  private static final int ATTR_FLOATS = 7;
  private static final int ATTR_INTS = 8;
  // TensorProto
  private static final int TENSOR_DIMS = 1;
  private static final int TENSOR_DATA_TYPE = 2;
  private static final int TENSOR_FLOAT_DATA = 4;
  private static final int TENSOR_INT32_DATA = 5;
  private static final int TENSOR_INT64_DATA = 7;
  private static final int TENSOR_NAME = 8;
  private static final int TENSOR_RAW_DATA = 9;
  private static final int TENSOR_DOUBLE_DATA = 10;
  private static final int TENSOR_UINT64_DATA = 11;
  private static final int TENSOR_EXTERNAL_DATA = 13;
  private static final int TENSOR_DATA_LOCATION = 14;
  private static final int DATA_LOCATION_EXTERNAL = 1;

  /** Reads a whole ONNX model from {@code in}; {@code source} names it in error messages. */
  public static OnnxGraph read(InputStream in, String source) {
    CodedInputStream cis = CodedInputStream.newInstance(in, 1 << 16);
    cis.setSizeLimit(Integer.MAX_VALUE); // the default 64 MB limit is below a 33M-parameter model
    try {
      OnnxGraph graph = null;
      for (int tag = cis.readTag(); tag != 0; tag = cis.readTag()) {
        if (field(tag) == MODEL_GRAPH && isMessage(tag)) {
          graph = readGraph(cis, source);
        } else {
          cis.skipField(tag);
        }
      }
      if (graph == null) throw new ModelImportException(source + ": not an ONNX model (no graph in it)");
      return graph;
    } catch (InvalidProtocolBufferException e) {
      throw new ModelImportException(source + ": truncated or corrupt ONNX file (" + firstSentence(e) + ")", e);
    } catch (IOException e) {
      throw new ModelImportException(source + ": cannot read the ONNX file (" + e.getMessage() + ")", e);
    }
  }

  private static OnnxGraph readGraph(CodedInputStream cis, String source) throws IOException {
    List<OnnxNode> nodes = new ArrayList<>();
    List<OnnxTensor> initializers = new ArrayList<>();
    int limit = cis.pushLimit(cis.readRawVarint32());
    for (int tag = cis.readTag(); tag != 0; tag = cis.readTag()) {
      if (field(tag) == GRAPH_NODE && isMessage(tag)) {
        nodes.add(readNode(cis, source));
      } else if (field(tag) == GRAPH_INITIALIZER && isMessage(tag)) {
        initializers.add(readTensor(cis, source));
      } else {
        cis.skipField(tag); // inputs, outputs, value_info, doc strings
      }
    }
    cis.popLimit(limit);
    return new OnnxGraph(source, initializers, nodes);
  }

  private static OnnxNode readNode(CodedInputStream cis, String source) throws IOException {
    List<String> inputs = new ArrayList<>();
    List<String> outputs = new ArrayList<>();
    String name = "";
    String opType = "";
    Map<String, OnnxNode.Attribute> attributes = new LinkedHashMap<>();
    int limit = cis.pushLimit(cis.readRawVarint32());
    for (int tag = cis.readTag(); tag != 0; tag = cis.readTag()) {
      switch (field(tag)) {
        case NODE_INPUT -> inputs.add(cis.readStringRequireUtf8());
        case NODE_OUTPUT -> outputs.add(cis.readStringRequireUtf8());
        case NODE_NAME -> name = cis.readStringRequireUtf8();
        case NODE_OP_TYPE -> opType = cis.readStringRequireUtf8();
        case NODE_ATTRIBUTE -> {
          OnnxNode.Attribute a = readAttribute(cis, source);
          attributes.put(a.name(), a);
        }
        default -> cis.skipField(tag);
      }
    }
    cis.popLimit(limit);
    return new OnnxNode(name, opType, inputs, outputs, attributes);
  }

  private static OnnxNode.Attribute readAttribute(CodedInputStream cis, String source) throws IOException {
    String name = "";
    OnnxTensor t = null;
    Long i = null;
    Float f = null;
    LongBuf ints = null;
    FloatBuf floats = null;
    int limit = cis.pushLimit(cis.readRawVarint32());
    for (int tag = cis.readTag(); tag != 0; tag = cis.readTag()) {
      switch (field(tag)) {
        case ATTR_NAME -> name = cis.readStringRequireUtf8();
        case ATTR_F -> f = cis.readFloat();
        case ATTR_I -> i = cis.readInt64();
        case ATTR_T -> t = readTensor(cis, source);
        case ATTR_FLOATS -> floats = readFloats(cis, tag, floats == null ? new FloatBuf() : floats);
        case ATTR_INTS -> ints = readInt64s(cis, tag, ints == null ? new LongBuf() : ints);
        default -> cis.skipField(tag); // strings, graphs, sparse tensors, type
      }
    }
    cis.popLimit(limit);
    return new OnnxNode.Attribute(name, t, i, f, ints == null ? null : ints.toArray(),
        floats == null ? null : floats.toArray());
  }

  private static OnnxTensor readTensor(CodedInputStream cis, String source) throws IOException {
    String name = "";
    int dataType = 0;
    LongBuf dims = new LongBuf();
    byte[] raw = null;
    FloatBuf floatData = new FloatBuf();
    LongBuf int32Data = new LongBuf();
    LongBuf int64Data = new LongBuf();
    boolean external = false;
    int limit = cis.pushLimit(cis.readRawVarint32());
    for (int tag = cis.readTag(); tag != 0; tag = cis.readTag()) {
      switch (field(tag)) {
        case TENSOR_DIMS -> readInt64s(cis, tag, dims);
        case TENSOR_DATA_TYPE -> dataType = cis.readInt32();
        case TENSOR_FLOAT_DATA -> readFloats(cis, tag, floatData);
        case TENSOR_INT32_DATA -> readInt32s(cis, tag, int32Data);
        case TENSOR_INT64_DATA, TENSOR_UINT64_DATA -> readInt64s(cis, tag, int64Data);
        case TENSOR_DOUBLE_DATA -> readDoubles(cis, tag, floatData);
        case TENSOR_NAME -> name = cis.readStringRequireUtf8();
        case TENSOR_RAW_DATA -> raw = cis.readRawBytes(cis.readRawVarint32());
        case TENSOR_EXTERNAL_DATA -> {
          external = true;
          cis.skipField(tag);
        }
        case TENSOR_DATA_LOCATION -> external |= cis.readInt32() == DATA_LOCATION_EXTERNAL;
        default -> cis.skipField(tag);
      }
    }
    cis.popLimit(limit);
    if (external) {
      throw new ModelImportException(source + ": tensor '" + name
          + "' keeps its data in an external file, which a single ONNX file cannot carry");
    }
    return decode(source, name, dataType, dims.toArray(), raw, floatData, int32Data, int64Data);
  }

  /** Turns the stored form (raw little-endian bytes, or the typed repeated fields) into fp32 or int64 values. */
  private static OnnxTensor decode(String source, String name, int dataType, long[] dims, byte[] raw,
      FloatBuf floatData, LongBuf int32Data, LongBuf int64Data) {
    float[] floats = null;
    long[] longs = null;
    ByteBuffer bytes = raw == null ? null : ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    switch (dataType) {
      case OnnxTensor.FLOAT -> {
        if (bytes != null) {
          floats = new float[raw.length / 4];
          bytes.asFloatBuffer().get(floats);
        } else {
          floats = floatData.toArray();
        }
      }
      case OnnxTensor.DOUBLE -> {
        if (bytes != null) {
          floats = new float[raw.length / 8];
          for (int k = 0; k < floats.length; k++) floats[k] = (float) bytes.getDouble();
        } else {
          floats = floatData.toArray();
        }
      }
      case OnnxTensor.FLOAT16, OnnxTensor.BFLOAT16 -> {
        // 16-bit floats: two raw bytes each, or one per int32_data entry.
        int n = bytes != null ? raw.length / 2 : int32Data.size;
        floats = new float[n];
        for (int k = 0; k < n; k++) {
          int bits = bytes != null ? bytes.getShort() & 0xffff : (int) int32Data.values[k] & 0xffff;
          floats[k] = dataType == OnnxTensor.FLOAT16 ? halfToFloat(bits) : Float.intBitsToFloat(bits << 16);
        }
      }
      case OnnxTensor.INT64 -> {
        if (bytes != null) {
          longs = new long[raw.length / 8];
          bytes.asLongBuffer().get(longs);
        } else {
          longs = int64Data.toArray();
        }
      }
      case OnnxTensor.INT32 -> {
        if (bytes != null) {
          longs = new long[raw.length / 4];
          for (int k = 0; k < longs.length; k++) longs[k] = bytes.getInt();
        } else {
          longs = int32Data.toArray();
        }
      }
      default -> {} // strings, bools, small ints: the importer needs their shape at most
    }
    OnnxTensor t = new OnnxTensor(name, dataType, dims, floats, longs);
    int count = floats != null ? floats.length : longs != null ? longs.length : -1;
    if (count >= 0 && count != t.numel()) {
      throw new ModelImportException(source + ": tensor '" + name + "' holds " + count + " values but its shape "
          + t.shapeString() + " needs " + t.numel());
    }
    return t;
  }

  /** IEEE 754 half precision to single precision, subnormals, infinities and NaN included. */
  static float halfToFloat(int h) {
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) {
      float v = mant * 0x1p-24f; // subnormal (or zero): mant * 2^-24
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  // Repeated scalar fields arrive packed (one length-delimited run) or one value per tag; proto3 writers pack.

  private static LongBuf readInt64s(CodedInputStream cis, int tag, LongBuf out) throws IOException {
    if (isMessage(tag)) {
      int limit = cis.pushLimit(cis.readRawVarint32());
      while (cis.getBytesUntilLimit() > 0) out.add(cis.readInt64());
      cis.popLimit(limit);
    } else {
      out.add(cis.readInt64());
    }
    return out;
  }

  private static LongBuf readInt32s(CodedInputStream cis, int tag, LongBuf out) throws IOException {
    if (isMessage(tag)) {
      int limit = cis.pushLimit(cis.readRawVarint32());
      while (cis.getBytesUntilLimit() > 0) out.add(cis.readInt32());
      cis.popLimit(limit);
    } else {
      out.add(cis.readInt32());
    }
    return out;
  }

  private static FloatBuf readFloats(CodedInputStream cis, int tag, FloatBuf out) throws IOException {
    if (isMessage(tag)) {
      int length = cis.readRawVarint32();
      out.reserve(length / 4);
      int limit = cis.pushLimit(length);
      while (cis.getBytesUntilLimit() > 0) out.add(cis.readFloat());
      cis.popLimit(limit);
    } else {
      out.add(cis.readFloat());
    }
    return out;
  }

  private static void readDoubles(CodedInputStream cis, int tag, FloatBuf out) throws IOException {
    if (isMessage(tag)) {
      int length = cis.readRawVarint32();
      out.reserve(length / 8);
      int limit = cis.pushLimit(length);
      while (cis.getBytesUntilLimit() > 0) out.add((float) cis.readDouble());
      cis.popLimit(limit);
    } else {
      out.add((float) cis.readDouble());
    }
  }

  private static int field(int tag) {
    return WireFormat.getTagFieldNumber(tag);
  }

  private static boolean isMessage(int tag) {
    return WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
  }

  private static String firstSentence(Exception e) {
    String m = String.valueOf(e.getMessage());
    int dot = m.indexOf(". ");
    return dot > 0 ? m.substring(0, dot) : m;
  }

  private static final class LongBuf {
    long[] values = new long[8];
    int size;

    void add(long v) {
      if (size == values.length) values = Arrays.copyOf(values, size * 2);
      values[size++] = v;
    }

    long[] toArray() {
      return Arrays.copyOf(values, size);
    }
  }

  private static final class FloatBuf {
    float[] values = new float[8];
    int size;

    void reserve(int more) {
      if (size + more > values.length) values = Arrays.copyOf(values, size + more);
    }

    void add(float v) {
      if (size == values.length) values = Arrays.copyOf(values, size * 2);
      values[size++] = v;
    }

    float[] toArray() {
      return size == values.length ? values : Arrays.copyOf(values, size);
    }
  }
}
