package io.mtpf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The public Java API on tiny random models: results, batching invariance, and clear errors for bad input. */
class EncoderTest {
  @TempDir static Path tmp;

  static final List<String> VOCAB = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on",
      "mat", "a", "dog", "ran", "##s", ".", ",", "!", "big", "red");

  static Path tinyModel(String name, String configJson) throws IOException {
    Path config = tmp.resolve(name + "-config.json");
    Files.writeString(config, configJson);
    Path dir = tmp.resolve(name);
    Encoder.initRandom(config, dir, 3);
    Files.write(dir.resolve("vocab.txt"), VOCAB, StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"do_lower_case\": true}");
    return dir;
  }

  static final String BERT = """
      {"model_type":"bert","vocab_size":19,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,
       "intermediate_size":32,"max_position_embeddings":24,"type_vocab_size":2,"hidden_act":"gelu"}""";
  static Path bert;

  @BeforeAll
  static void models() throws IOException {
    bert = tinyModel("bert", BERT);
  }

  @Test
  void encodeIsIndependentOfBatchingAndOrder() {
    List<String> texts = List.of("the cat sat on the mat.", "a dog", "the big red dogs ran!", "cat");
    try (Encoder one = Encoder.load(bert, EncoderOptions.defaults().withBatchSize(1));
        Encoder all = Encoder.load(bert, EncoderOptions.defaults().withBatchSize(32))) {
      float[][] a = one.encode(texts);
      float[][] b = all.encode(texts);
      for (int i = 0; i < texts.size(); i++) assertArrayEquals(a[i], b[i], 1e-5f, "text " + i);
      float[][] n = all.encode(texts, true);
      double norm = 0;
      for (float x : n[2]) norm += x * x;
      assertEquals(1.0, norm, 1e-5);
    }
  }

  @Test
  void wordMeansAverageSubTokens() {
    try (Encoder enc = Encoder.load(bert)) {
      TokenEmbeddings te = enc.wordTokenEmbeddings(List.of(List.of("dogs", "ran"))).get(0);
      // [CLS] dog ##s ran [SEP]: word 0 is the mean of tokens 1 and 2.
      assertArrayEquals(new int[] {-1, 0, 0, 1, -1}, te.encoding().wordIds());
      float[][] words = te.wordMeans();
      assertEquals(2, words.length);
      for (int j = 0; j < enc.hiddenSize(); j++)
        assertEquals((te.vectors()[1][j] + te.vectors()[2][j]) / 2, words[0][j], 1e-6);
      // Two layers concatenated: last layer then embeddings output.
      TokenEmbeddings two = enc.tokenEmbeddings("the cat", -1, 0);
      assertEquals(2 * enc.hiddenSize(), two.vectors()[0].length);
      TokenEmbeddings last = enc.tokenEmbeddings("the cat");
      for (int j = 0; j < enc.hiddenSize(); j++) assertEquals(last.vectors()[1][j], two.vectors()[1][j], 1e-6);
    }
  }

  @Test
  void tokenStatesOfABatchEqualTokenEmbeddings() {
    try (Encoder enc = Encoder.load(bert)) {
      var encodings = List.of(enc.tokenizer().encode("the big cat", 24), enc.tokenizer().encode("a dog", 24));
      var batch = io.mtpf.tokenizer.Batch.pad(encodings, 0);
      float[] states = enc.tokenStates(batch, "");
      TokenEmbeddings second = enc.tokenEmbeddings("a dog");
      int h = enc.hiddenSize();
      for (int t = 0; t < second.vectors().length; t++)
        for (int j = 0; j < h; j++) assertEquals(second.vectors()[t][j], states[(batch.seqLen() + t) * h + j], 1e-5);
      assertThrows(MtpfException.class, () -> enc.tokenStates(batch, "tc"));
    }
  }

  @Test
  void saveWritesALoadableFolder() {
    Path out = tmp.resolve("saved");
    try (Encoder enc = Encoder.load(bert)) {
      enc.save(out);
      try (Encoder again = Encoder.load(out)) {
        assertArrayEquals(enc.encode(List.of("the cat sat"))[0], again.encode(List.of("the cat sat"))[0], 0f);
      }
    }
  }

  @Test
  void longInputsAreTruncatedToTheModelLimit() {
    try (Encoder enc = Encoder.load(bert)) {
      String text = String.join(" ", java.util.Collections.nCopies(100, "cat"));
      assertEquals(24, enc.tokenEmbeddings(text).vectors().length);
    }
  }

  static Stream<Arguments> badModels() {
    return Stream.of(
        Arguments.of("missing folder", (Mutation) dir -> deleteTree(dir), "model folder not found"),
        Arguments.of("missing config.json", (Mutation) dir -> Files.delete(dir.resolve("config.json")), "config.json"),
        Arguments.of("unknown architecture",
            (Mutation) dir -> Files.writeString(dir.resolve("config.json"), BERT.replace("\"bert\"", "\"gpt2\"")),
            "unknown architecture model_type 'gpt2'"),
        Arguments.of("shape not matching the config",
            (Mutation) dir -> Files.writeString(dir.resolve("config.json"), BERT.replace("\"intermediate_size\":32",
                "\"intermediate_size\":40")),
            "config.json implies"),
        Arguments.of("safetensors header lying about sizes", (Mutation) EncoderTest::lieAboutSizes, "needs"),
        Arguments.of("truncated safetensors", (Mutation) dir -> truncate(dir.resolve("model.safetensors")), "truncated"),
        Arguments.of("missing vocabulary", (Mutation) dir -> Files.delete(dir.resolve("vocab.txt")), "vocab"));
  }

  interface Mutation {
    void apply(Path dir) throws IOException;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badModels")
  void badModelFoldersGiveClearErrors(String what, Mutation mutation, String expected) throws IOException {
    Path dir = tinyModel("bad-" + what.replace(' ', '-'), BERT);
    mutation.apply(dir);
    MtpfException e = assertThrows(MtpfException.class, () -> Encoder.load(dir).close());
    assertTrue(e.getMessage().contains(expected), what + ": " + e.getMessage());
  }

  @Test
  void badCallsGiveClearErrors() {
    try (Encoder enc = Encoder.load(bert)) {
      assertTrue(assertThrows(MtpfException.class, () -> enc.encode(List.of())).getMessage().contains("empty"));
      List<String> withNull = new ArrayList<>();
      withNull.add(null);
      assertTrue(assertThrows(MtpfException.class, () -> enc.encode(withNull)).getMessage().contains("null"));
      assertTrue(assertThrows(MtpfException.class, () -> enc.tokenEmbeddings("cat", 7)).getMessage()
          .contains("out of range"));
    }
    Encoder closed = Encoder.load(bert);
    closed.close();
    assertTrue(assertThrows(MtpfException.class, () -> closed.encode(List.of("cat"))).getMessage().contains("closed"));
    assertThrows(MtpfException.class, () -> Encoder.load(bert, EncoderOptions.defaults().withDevice("tpu")));
    assertThrows(MtpfException.class, () -> EncoderOptions.defaults().withPooling("max"));
  }

  @Test
  void robertaAndDistilbertLoadAndEncode() throws IOException {
    Path roberta = tinyModel("roberta", BERT.replace("\"bert\"", "\"roberta\"").replace("\"type_vocab_size\":2",
        "\"type_vocab_size\":1,\"pad_token_id\":1").replace("\"max_position_embeddings\":24", "\"max_position_embeddings\":26"));
    Path distil = tinyModel("distilbert", """
        {"model_type":"distilbert","vocab_size":19,"dim":16,"n_layers":2,"n_heads":2,"hidden_dim":32,
         "max_position_embeddings":24,"activation":"gelu"}""");
    for (Path dir : List.of(roberta, distil)) {
      try (Encoder enc = Encoder.load(dir)) {
        float[][] v = enc.encode(List.of("the cat", "a big red dog ran"));
        assertEquals(16, v[0].length);
        assertEquals(24, enc.maxLength(), dir.toString());
      }
    }
  }

  static void lieAboutSizes(Path dir) throws IOException {
    // Rewrite the first tensor's end offset in the JSON header to a smaller number of the same width.
    Path file = dir.resolve("model.safetensors");
    byte[] bytes = Files.readAllBytes(file);
    long headerLen = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    String header = new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8);
    int at = header.indexOf("\"data_offsets\":[0,");
    int from = at + "\"data_offsets\":[0,".length();
    int to = header.indexOf(']', from);
    String end = header.substring(from, to);
    String smaller = String.valueOf(Long.parseLong(end) - 4);
    while (smaller.length() < end.length()) smaller = "0" + smaller;
    header = header.substring(0, from) + smaller + header.substring(to);
    System.arraycopy(header.getBytes(StandardCharsets.UTF_8), 0, bytes, 8, (int) headerLen);
    Files.write(file, bytes);
  }

  static void truncate(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length / 2));
  }

  static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
