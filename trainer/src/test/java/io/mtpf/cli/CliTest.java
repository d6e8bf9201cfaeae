package io.mtpf.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.Encoder;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The mtpf CLI on a tiny random model: output shapes, JSON, and one-line errors with exit code 1. */
class CliTest {
  @TempDir static Path tmp;
  static Path model;

  @BeforeAll
  static void tinyModel() throws Exception {
    Path config = tmp.resolve("config.json");
    Files.writeString(config, """
        {"model_type":"bert","vocab_size":12,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,
         "intermediate_size":16,"max_position_embeddings":16,"type_vocab_size":2,"hidden_act":"gelu"}""");
    model = tmp.resolve("tiny");
    Encoder.initRandom(config, model, 1);
    Files.write(model.resolve("vocab.txt"),
        List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!", "a", "b", "c"));
  }

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(new java.io.PrintWriter(out, true, StandardCharsets.UTF_8));
    cli.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
    int code = Main.configure(cli).execute(args);
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void encodePrintsOneVectorPerText() throws Exception {
    Run r = run("encode", "--model", model.toString(), "hello world", "worlds!");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().strip().split("\n");
    assertEquals(2, lines.length);
    assertEquals(8, lines[0].trim().split(" ").length);
    Run json = run("encode", "--model", model.toString(), "--json", "--normalize", "hello");
    JsonNode rows = new ObjectMapper().readTree(json.out());
    assertEquals("hello", rows.get(0).get("text").asText());
    assertEquals(8, rows.get(0).get("embedding").size());
  }

  @Test
  void tokenizePrintsIdsAndTokens() throws Exception {
    Run r = run("tokenize", "--model", model.toString(), "Hello worlds!");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("tokens: [CLS] hello world ##s ! [SEP]"), r.out());
    assertTrue(r.out().contains("ids:    2 5 6 7 8 3"), r.out());
    JsonNode rows = new ObjectMapper().readTree(run("tokenize", "--model", model.toString(), "--json", "hello").out());
    assertEquals(List.of(2, 5, 3), new ObjectMapper().convertValue(rows.get(0).get("ids"), List.class));
  }

  @Test
  void userErrorsAreOneLineWithExitCodeOne() {
    Run missing = run("encode", "--model", tmp.resolve("absent").toString(), "hi");
    assertEquals(1, missing.code());
    assertTrue(missing.err().startsWith("mtpf: ") && missing.err().contains("absent"), missing.err());
    assertEquals(1, missing.err().strip().split("\n").length, missing.err());
    Run empty = run("encode", "--model", model.toString());
    assertEquals(1, empty.code());
    assertTrue(empty.err().contains("no TEXT given"), empty.err());
    Run unknown = run("models", "pull", "no-such-model", "--offline");
    assertEquals(1, unknown.code());
    assertTrue(unknown.err().contains("no-such-model"), unknown.err());
  }
}
