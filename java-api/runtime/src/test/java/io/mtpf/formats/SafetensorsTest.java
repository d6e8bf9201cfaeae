package io.mtpf.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  @TempDir Path tmp;

  /**
   * A minimal safetensors reader written from the format description, independent of Safetensors' own, to check
   * the writer against.
   */
  static Map<String, Fp32Tensor> read(Path file) throws Exception {
    ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    long headerLength = all.getLong(0);
    assertEquals(0, (8 + headerLength) % 8, "data section must start 8-byte aligned");
    String headerText = new String(all.array(), 8, (int) headerLength, StandardCharsets.UTF_8);
    JsonNode header = new ObjectMapper().readTree(headerText);
    assertEquals("pt", header.path("__metadata__").path("format").asText());
    int dataStart = 8 + (int) headerLength;
    Map<String, Fp32Tensor> out = new LinkedHashMap<>();
    long expectedBegin = 0;
    for (Map.Entry<String, JsonNode> e : header.properties()) {
      if (e.getKey().equals("__metadata__")) continue;
      JsonNode t = e.getValue();
      assertEquals("F32", t.get("dtype").asText());
      long[] shape = new long[t.get("shape").size()];
      for (int i = 0; i < shape.length; i++) shape[i] = t.get("shape").get(i).asLong();
      long begin = t.get("data_offsets").get(0).asLong();
      long end = t.get("data_offsets").get(1).asLong();
      assertEquals(expectedBegin, begin, e.getKey() + " must follow the previous tensor");
      expectedBegin = end;
      float[] data = new float[(int) ((end - begin) / 4)];
      all.position(dataStart + (int) begin);
      all.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
      out.put(e.getKey(), new Fp32Tensor(e.getKey(), shape, data));
    }
    assertEquals(all.capacity() - dataStart, expectedBegin, "no bytes after the last tensor");
    return out;
  }

  @Test
  void writtenFileParsesBack() throws Exception {
    Random r = new Random(1);
    List<Fp32Tensor> tensors = new ArrayList<>();
    for (long[] shape : new long[][] {{3, 5}, {7}, {2, 1, 3}, {1}, {0}}) {
      float[] v = new float[(int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
      for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
      tensors.add(new Fp32Tensor("t" + tensors.size() + ".weight", shape, v));
    }
    Path file = tmp.resolve("model.safetensors");
    Safetensors.write(file, tensors);
    assertFalse(Files.exists(tmp.resolve("model.safetensors.tmp")));

    Map<String, Fp32Tensor> back = read(file);
    Map<String, Fp32Tensor> ours = Safetensors.readFp32(file);
    assertEquals(List.copyOf(back.keySet()), List.copyOf(ours.keySet()));
    for (Fp32Tensor t : tensors) assertArrayEquals(t.data(), ours.get(t.name()).data(), "readFp32 " + t.name());
    assertEquals("[2, 1, 3]", Safetensors.readHeader(file).get("t2.weight").shapeString());
    assertEquals(tensors.stream().map(Fp32Tensor::name).toList(), List.copyOf(back.keySet()));
    for (Fp32Tensor t : tensors) {
      assertArrayEquals(t.shape(), back.get(t.name()).shape(), t.name());
      assertArrayEquals(t.data(), back.get(t.name()).data(), t.name());
    }
  }

  @Test
  void headerIsPaddedWithSpaces() throws Exception {
    for (int n = 1; n <= 9; n++) {
      byte[] header = Safetensors.header(List.of(new Fp32Tensor("x".repeat(n), new long[] {1}, new float[1])));
      assertEquals(0, header.length % 8);
      String text = new String(header, StandardCharsets.UTF_8);
      assertEquals(text.stripTrailing(), new ObjectMapper().readTree(text).toString(), "JSON, then only spaces");
    }
  }

  @Test
  void largeTensorCrossesTheWriteBuffer() throws Exception {
    float[] v = new float[700_001]; // > the 1 MiB staging buffer, not a multiple of it
    for (int i = 0; i < v.length; i++) v[i] = i * 0.5f;
    Path file = tmp.resolve("big.safetensors");
    Safetensors.write(file, List.of(new Fp32Tensor("big", new long[] {v.length}, v)));
    assertArrayEquals(v, read(file).get("big").data());
  }

  @Test
  void damagedFilesAreRefusedNamingTheFileAndTheReason() throws Exception {
    Path file = tmp.resolve("ok.safetensors");
    Safetensors.write(file, List.of(new Fp32Tensor("w", new long[] {2, 3}, new float[6])));
    byte[] good = Files.readAllBytes(file);
    Path bad = tmp.resolve("bad.safetensors");

    Files.write(bad, java.util.Arrays.copyOf(good, good.length - 4));
    assertMessage(bad, "truncated safetensors file");
    Files.write(bad, new byte[] {1, 2, 3});
    assertMessage(bad, "truncated safetensors file (3 bytes)");
    byte[] huge = good.clone();
    huge[7] = 0x7f;  // header length near 2^63
    Files.write(bad, huge);
    assertMessage(bad, "not a safetensors file");
    Files.write(bad, new String(good, StandardCharsets.ISO_8859_1).replace("[2,3]", "[3,3]").getBytes(StandardCharsets.ISO_8859_1));
    assertMessage(bad, "spans 24 bytes, not 36");
    Files.write(bad, new String(good, StandardCharsets.ISO_8859_1).replace("\"F32\"", "\"I32\"").getBytes(StandardCharsets.ISO_8859_1));
    assertEquals("I32", Safetensors.readHeader(bad).get("w").dtype());
    MtpfException e = assertThrows(MtpfException.class, () -> Safetensors.readFp32(bad));
    assertTrue(e.getMessage().contains("'w' is I32, not F32"), e.getMessage());
    assertMessage(tmp.resolve("absent.safetensors"), "file not found");
  }

  private static void assertMessage(Path file, String expected) {
    MtpfException e = assertThrows(MtpfException.class, () -> Safetensors.readHeader(file));
    assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains(expected),
        e.getMessage());
  }
}
