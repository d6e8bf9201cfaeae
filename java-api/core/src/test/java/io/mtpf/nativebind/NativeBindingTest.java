package io.mtpf.nativebind;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.nativebind.MtpfNative.NativeEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The raw JavaCPP mapping: native objects load, compute, and C++ exceptions arrive as Java exceptions. */
class NativeBindingTest {
  @TempDir static Path tmp;
  static Path model;

  @BeforeAll
  static void tinyModel() throws Exception {
    Path config = tmp.resolve("config.json");
    Files.writeString(config, """
        {"model_type":"bert","vocab_size":50,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,
         "intermediate_size":32,"max_position_embeddings":32,"type_vocab_size":2,"hidden_act":"gelu"}""");
    model = tmp.resolve("tiny");
    MtpfNative.model_init_random(config.toString(), model.toString(), 1);
  }

  @Test
  void pooledIsMeanOfHiddenStates() {
    try (NativeEncoder enc = new NativeEncoder(model.toString(), "cpu", "fp32")) {
      assertEquals("bert", enc.model_type());
      int b = 2, t = 3, h = enc.hidden_size();
      long[] ids = {2, 7, 3, 2, 9, 0};
      long[] mask = {1, 1, 1, 1, 1, 0};
      float[] hidden = new float[b * t * h];
      float[] pooled = new float[b * h];
      enc.last_hidden_state(ids, mask, null, b, t, hidden);
      enc.pooled(ids, mask, null, b, t, "mean", false, pooled);
      for (int j = 0; j < h; j++) {
        float mean = (hidden[(t) * h + j] + hidden[(t + 1) * h + j]) / 2;
        assertEquals(mean, pooled[h + j], 1e-5);
      }
    }
  }

  @Test
  void cppExceptionsBecomeJavaExceptionsWithTheirMessage() {
    RuntimeException e =
        assertThrows(RuntimeException.class, () -> new NativeEncoder(tmp.resolve("absent").toString(), "cpu", "fp32"));
    assertTrue(e.getMessage().contains("not found"), e.getMessage());
    try (NativeEncoder enc = new NativeEncoder(model.toString(), "cpu", "fp32")) {
      float[] out = new float[enc.hidden_size()];
      e = assertThrows(RuntimeException.class,
          () -> enc.pooled(new long[] {999}, new long[] {1}, null, 1, 1, "mean", false, out));
      assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
      e = assertThrows(RuntimeException.class,
          () -> enc.pooled(new long[] {1}, new long[] {1}, null, 1, 1, "max", false, out));
      assertTrue(e.getMessage().contains("unknown pooling"), e.getMessage());
    }
  }
}
