package io.mtpf.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The header of a .safetensors file (8-byte little-endian length, then JSON), read without the tensor data, and
 * checked against the file's size: a truncated download or copy is caught here, naming the file, before the
 * native side maps it.
 */
final class SafetensorsHeader {
  /** dtype, shape and byte range of one tensor. */
  static final class TensorInfo {
    final String dtype;
    final long[] shape;
    final long begin;
    final long end;

    TensorInfo(String dtype, long[] shape, long begin, long end) {
      this.dtype = dtype;
      this.shape = shape;
      this.begin = begin;
      this.end = end;
    }

    String shapeString() {
      StringBuilder b = new StringBuilder("[");
      for (int i = 0; i < shape.length; i++) b.append(i == 0 ? "" : ", ").append(shape[i]);
      return b.append(']').toString();
    }
  }

  private static final long MAX_HEADER = 100L << 20;  // the format's own limit

  final Map<String, TensorInfo> tensors;

  private SafetensorsHeader(Map<String, TensorInfo> tensors) {
    this.tensors = tensors;
  }

  static SafetensorsHeader read(File file, ObjectMapper json) {
    if (!file.isFile()) throw new AdapterException(file + ": file not found");
    long size = file.length();
    JsonNode root;
    long n = 0;
    try (RandomAccessFile in = new RandomAccessFile(file, "r")) {
      if (size < 8) throw new AdapterException(file + ": truncated safetensors file (" + size + " bytes)");
      byte[] len = new byte[8];
      in.readFully(len);
      for (int i = 7; i >= 0; i--) n = (n << 8) | (len[i] & 0xff);
      if (n <= 0 || n > MAX_HEADER) throw new AdapterException(file + ": not a safetensors file (header length " + n + ")");
      if (8 + n > size)
        throw new AdapterException(file + ": truncated safetensors file (" + size + " bytes, header alone needs " + (8 + n) + ")");
      byte[] header = new byte[(int) n];
      in.readFully(header);
      root = json.readTree(header);
    } catch (IOException e) {
      throw new AdapterException(file + ": unreadable safetensors header (" + e.getMessage() + ")", e);
    }
    if (root == null || !root.isObject()) throw new AdapterException(file + ": safetensors header is not a JSON object");
    long dataSize = size - 8 - n;
    Map<String, TensorInfo> tensors = new LinkedHashMap<>();
    long maxEnd = 0;
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      if (f.getKey().equals("__metadata__")) continue;
      JsonNode t = f.getValue();
      JsonNode shapeNode = t.path("shape"), offsets = t.path("data_offsets");
      String dtype = t.path("dtype").asText("");
      if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2 || dtype.isEmpty())
        throw new AdapterException(file + ": tensor '" + f.getKey() + "' has a malformed header entry");
      long[] shape = new long[shapeNode.size()];
      long count = 1;
      for (int i = 0; i < shape.length; i++) count *= (shape[i] = shapeNode.get(i).asLong());
      TensorInfo info = new TensorInfo(dtype, shape, offsets.get(0).asLong(), offsets.get(1).asLong());
      int width = dtypeBytes(dtype);
      if (width > 0 && info.end - info.begin != count * width)
        throw new AdapterException(file + ": tensor '" + f.getKey() + "' " + dtype + info.shapeString() + " spans "
            + (info.end - info.begin) + " bytes, not " + count * width);
      maxEnd = Math.max(maxEnd, info.end);
      tensors.put(f.getKey(), info);
    }
    if (maxEnd > dataSize)
      throw new AdapterException(file + ": truncated safetensors file (" + size + " bytes; its header needs "
          + (size - dataSize + maxEnd) + ")");
    return new SafetensorsHeader(tensors);
  }

  static int dtypeBytes(String dtype) {
    switch (dtype) {
      case "F64": case "I64": case "U64": return 8;
      case "F32": case "I32": case "U32": return 4;
      case "F16": case "BF16": case "I16": case "U16": return 2;
      case "I8": case "U8": case "BOOL": return 1;
      default: return 0;
    }
  }
}
