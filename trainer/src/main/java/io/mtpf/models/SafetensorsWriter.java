package io.mtpf.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes fp32 tensors in the safetensors format: an 8-byte little-endian header length, a JSON header mapping each
 * name to {dtype, shape, data_offsets}, padded with spaces to 8-byte alignment, then the tensors' bytes back to back
 * in little-endian order. The file appears whole or not at all (written beside it, then renamed).
 */
public final class SafetensorsWriter {
  private SafetensorsWriter() {}

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
    int padded = (raw.length + 7) / 8 * 8; // 8 + padded is then a multiple of 8
    byte[] out = new byte[padded];
    System.arraycopy(raw, 0, out, 0, raw.length);
    Arrays.fill(out, raw.length, padded, (byte) ' ');
    return out;
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) ch.write(buf);
  }
}
