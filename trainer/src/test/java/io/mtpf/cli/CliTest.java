package io.mtpf.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.Encoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mtpf CLI on a tiny random model: output shapes, JSON, and one-line errors with exit code 1. */
class CliTest {
  @TempDir static Path tmp;
  static Path model;

  @BeforeAll
  static void tinyModel() throws Exception {
    model = writeTinyModel(tmp);
  }

  /** A one-layer random BERT with a 12-word vocabulary at DIR/tiny (config at DIR/config.json). */
  static Path writeTinyModel(Path dir) throws Exception {
    Path config = dir.resolve("config.json");
    Files.writeString(config, """
        {"model_type":"bert","vocab_size":12,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,
         "intermediate_size":16,"max_position_embeddings":16,"type_vocab_size":2,"hidden_act":"gelu"}""");
    Path tiny = dir.resolve("tiny");
    Encoder.initRandom(config, tiny, 1);
    Files.write(tiny.resolve("vocab.txt"),
        List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!", "a", "b", "c"));
    return tiny;
  }

  static CliRunner.Result run(String... args) {
    return CliRunner.run(args);
  }

  @Test
  void encodePrintsOneVectorPerText() throws Exception {
    CliRunner.Result r = run("encode", "--model", model.toString(), "hello world", "worlds!");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().strip().split("\n");
    assertEquals(2, lines.length);
    assertEquals(8, lines[0].trim().split(" ").length);
    CliRunner.Result json = run("encode", "--model", model.toString(), "--json", "--normalize", "hello");
    JsonNode rows = new ObjectMapper().readTree(json.out());
    assertEquals("hello", rows.get(0).get("text").asText());
    assertEquals(8, rows.get(0).get("embedding").size());
  }

  @Test
  void tokenizePrintsIdsAndTokens() throws Exception {
    CliRunner.Result r = run("tokenize", "--model", model.toString(), "Hello worlds!");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("tokens: [CLS] hello world ##s ! [SEP]"), r.out());
    assertTrue(r.out().contains("ids:    2 5 6 7 8 3"), r.out());
    JsonNode rows = new ObjectMapper().readTree(run("tokenize", "--model", model.toString(), "--json", "hello").out());
    assertEquals(List.of(2, 5, 3), new ObjectMapper().convertValue(rows.get(0).get("ids"), List.class));
  }

  @Test
  void userErrorsAreOneLineWithExitCodeOne() {
    CliRunner.Result missing = run("encode", "--model", tmp.resolve("absent").toString(), "hi");
    assertEquals(1, missing.code());
    assertTrue(missing.err().startsWith("mtpf: ") && missing.err().contains("absent"), missing.err());
    assertEquals(1, missing.err().strip().split("\n").length, missing.err());
    CliRunner.Result empty = run("encode", "--model", model.toString());
    assertEquals(1, empty.code());
    assertTrue(empty.err().contains("no TEXT given"), empty.err());
    CliRunner.Result unknown = run("models", "pull", "no-such-model", "--offline");
    assertEquals(1, unknown.code());
    assertTrue(unknown.err().contains("no-such-model"), unknown.err());
  }
}
