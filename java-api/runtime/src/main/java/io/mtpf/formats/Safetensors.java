package io.mtpf.formats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format, the one Java reading and writing of it: an 8-byte little-endian header length, a JSON header
 * mapping each name to {dtype, shape, data_offsets} (padded with spaces to 8-byte alignment), then the tensors'
 * bytes back to back in little-endian order. The native side reads the same files through native/formats.
 */
public final class Safetensors {
  private Safetensors() {}

  private static final long MAX_HEADER = 100L << 20;  // the format's own limit

  /** dtype, shape and byte range (within the data section) of one tensor. */
  public record TensorInfo(String dtype, long[] shape, long begin, long end) {
    public String shapeString() {
      StringBuilder b = new StringBuilder("[");
      for (int i = 0; i < shape.length; i++) b.append(i == 0 ? "" : ", ").append(shape[i]);
      return b.append(']').toString();
    }
  }

  /**
   * The header, read without the tensor data and checked against the file's size, so a truncated download or copy is
   * refused here, naming the file. Tensors in file order; "__metadata__" left out.
   */
  public static Map<String, TensorInfo> readHeader(Path file) {
    if (!Files.isRegularFile(file)) throw new MtpfException(file + ": file not found");
    JsonNode root;
    long size, n = 0;
    try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
      size = in.length();
      if (size < 8) throw new MtpfException(file + ": truncated safetensors file (" + size + " bytes)");
      byte[] len = new byte[8];
      in.readFully(len);
      for (int i = 7; i >= 0; i--) n = (n << 8) | (len[i] & 0xff);
      if (n <= 0 || n > MAX_HEADER) throw new MtpfException(file + ": not a safetensors file (header length " + n + ")");
      if (8 + n > size)
        throw new MtpfException(file + ": truncated safetensors file (" + size + " bytes, header alone needs " + (8 + n) + ")");
      byte[] header = new byte[(int) n];
      in.readFully(header);
      root = new ObjectMapper().readTree(header);
    } catch (IOException e) {
      throw new MtpfException(file + ": unreadable safetensors header (" + e.getMessage() + ")", e);
    }
    if (root == null || !root.isObject()) throw new MtpfException(file + ": safetensors header is not a JSON object");
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
        throw new MtpfException(file + ": tensor '" + f.getKey() + "' has a malformed header entry");
      long[] shape = new long[shapeNode.size()];
      long count = 1;
      for (int i = 0; i < shape.length; i++) count *= (shape[i] = shapeNode.get(i).asLong());
      TensorInfo info = new TensorInfo(dtype, shape, offsets.get(0).asLong(), offsets.get(1).asLong());
      int width = dtypeBytes(dtype);
      if (width > 0 && info.end() - info.begin() != count * width)
        throw new MtpfException(file + ": tensor '" + f.getKey() + "' " + dtype + info.shapeString() + " spans "
            + (info.end() - info.begin()) + " bytes, not " + count * width);
      maxEnd = Math.max(maxEnd, info.end());
      tensors.put(f.getKey(), info);
    }
    if (maxEnd > dataSize)
      throw new MtpfException(file + ": truncated safetensors file (" + size + " bytes; its header needs "
          + (size - dataSize + maxEnd) + ")");
    return tensors;
  }

  /** Every tensor of an all-F32 file, in file order (a checked header first; another dtype is refused by name). */
  public static Map<String, Fp32Tensor> readFp32(Path file) {
    Map<String, TensorInfo> header = readHeader(file);
    Map<String, Fp32Tensor> out = new LinkedHashMap<>();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      while (len.hasRemaining() && ch.read(len) >= 0) {}
      long dataStart = 8 + len.getLong(0);
      for (Map.Entry<String, TensorInfo> e : header.entrySet()) {
        TensorInfo t = e.getValue();
        if (!t.dtype().equals("F32"))
          throw new MtpfException(file + ": tensor '" + e.getKey() + "' is " + t.dtype() + ", not F32");
        ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(t.end() - t.begin())).order(ByteOrder.LITTLE_ENDIAN);
        long at = dataStart + t.begin();
        while (bytes.hasRemaining()) {
          int got = ch.read(bytes, at);
          if (got < 0) throw new MtpfException(file + ": truncated while reading tensor '" + e.getKey() + "'");
          at += got;
        }
        float[] data = new float[bytes.capacity() / 4];
        bytes.flip().asFloatBuffer().get(data);
        out.put(e.getKey(), new Fp32Tensor(e.getKey(), t.shape(), data));
      }
    } catch (IOException e) {
      throw new MtpfException(file + ": unreadable (" + e.getMessage() + ")", e);
    }
    return out;
  }

  /** Writes fp32 tensors; the file appears whole or not at all (written beside it, then renamed). */
  public static void write(Path file, List<Fp32Tensor> tensors) throws IOException {
    byte[] header = header(tensors);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
      buf.putLong(header.length);
      writeFully(ch, buf.flip());
      writeFully(ch, ByteBuffer.wrap(header));
      for (Fp32Tensor t : tensors) {
        float[] data = t.data();
        for (int i = 0; i < data.length; ) {
          buf.clear();
          int n = Math.min(data.length - i, buf.capacity() / 4);
          buf.asFloatBuffer().put(data, i, n);
          buf.limit(n * 4);
          writeFully(ch, buf);
          i += n;
        }
      }
      ch.force(true);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The JSON header, padded with spaces so the data starts 8-byte aligned (header length included). */
  static byte[] header(List<Fp32Tensor> tensors) throws IOException {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("__metadata__", Map.of("format", "pt"));
    long offset = 0;
    for (Fp32Tensor t : tensors) {
      long end = offset + 4 * t.numel();
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("dtype", "F32");
      entry.put("shape", t.shape());
      entry.put("data_offsets", new long[] {offset, end});
      if (json.put(t.name(), entry) != null) throw new IllegalArgumentException("duplicate tensor " + t.name());
      offset = end;
    }
    byte[] raw = new ObjectMapper().writeValueAsString(json).getBytes(StandardCharsets.UTF_8);
    int padded = (raw.length + 7) / 8 * 8;  // 8 + padded is then a multiple of 8
    byte[] out = new byte[padded];
    System.arraycopy(raw, 0, out, 0, raw.length);
    Arrays.fill(out, raw.length, padded, (byte) ' ');
    return out;
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

  private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) ch.write(buf);
  }
}
