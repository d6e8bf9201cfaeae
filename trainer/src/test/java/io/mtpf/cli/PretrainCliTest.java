package io.mtpf.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.Encoder;
import io.mtpf.pretrain.PseudoLabels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/** `mtpf pretrain` and `mtpf pseudo-label` on a tiny random teacher: outputs, summary lines, one-line errors. */
class PretrainCliTest {
  @TempDir static Path tmp;
  static Path model, corpus, pairs;

  static final List<String> VOCAB = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "red", "cat",
      "dog", "sat", "ran", "on", "in", "mat", "park", "big", "small", ".");

  @BeforeAll
  static void tinyModelAndData() throws IOException {
    Path config = tmp.resolve("config.json");
    Files.writeString(config, """
        {"model_type":"bert","vocab_size":%d,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,
         "intermediate_size":32,"max_position_embeddings":32,"type_vocab_size":2,"hidden_act":"gelu"}"""
        .formatted(VOCAB.size()));
    model = tmp.resolve("tiny");
    Encoder.initRandom(config, model, 3);
    Files.write(model.resolve("vocab.txt"), VOCAB);
    List<String> conll = new ArrayList<>();
    List<String> tsv = new ArrayList<>();
    String[] subjects = {"the cat", "a dog", "the big cat", "a small dog"};
    String[] rest = {"sat on the mat", "ran in the park", "sat in a park"};
    for (int i = 0; i < 8; i++) {
      String s = subjects[i % 4] + " " + rest[i % 3] + " .";
      for (String w : s.split(" ")) conll.add(w + "\tO");
      conll.add("");
      tsv.add(s + "\t" + rest[i % 3] + " " + subjects[i % 4]);
    }
    corpus = Files.write(tmp.resolve("corpus.txt"), conll);
    pairs = Files.write(tmp.resolve("pairs.tsv"), tsv);
  }

  record Run(int code, String out, String err) {}

  /** Runs the CLI capturing picocli's streams and System.out/err (where the commands print their progress). */
  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    PrintStream oldOut = System.out, oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      CommandLine cli = new CommandLine(new Main());
      cli.setOut(new PrintWriter(System.out, true));
      cli.setErr(new PrintWriter(System.err, true));
      int code = Main.configure(cli).execute(args);
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  static Path yaml(String name, String body) throws IOException {
    return Files.writeString(tmp.resolve(name), body);
  }

  /** arguments, a fragment of the one error line. */
  static Stream<Arguments> userErrors() throws IOException {
    Path typo = yaml("typo.yaml", "strategy: pf-tc\nstepz: 3\n");
    Path pcgrad = yaml("pcgrad.yaml", "strategy: pf-tc\npcgrad: true\n");
    Path noModel = yaml("nomodel.yaml", "strategy: pf-tc\nmodel: " + tmp.resolve("absent-model") + "\n");
    return Stream.of(
        Arguments.of(List.of("pretrain", "--config", tmp.resolve("absent.yaml").toString()), "absent.yaml: run config not found"),
        Arguments.of(List.of("pretrain", "--config", typo.toString()), "unknown key 'stepz'"),
        Arguments.of(List.of("pretrain", "--config", pcgrad.toString()), "pcgrad applies to mtpf and mtpf-tpl only"),
        Arguments.of(List.of("pretrain", "--config", yaml("plain.yaml", "strategy: pf-tc\n").toString(), "--precision", "fp16"),
            "precision must be fp32, bf16 or auto"),
        Arguments.of(List.of("pretrain", "--config", noModel.toString(), "--out", tmp.resolve("x").toString(), "--offline"),
            "absent-model' is neither a folder nor a catalog name"),
        Arguments.of(List.of("pseudo-label", "--teacher", model.toString(), "--corpus", tmp.resolve("none.txt").toString(),
            "--out", tmp.resolve("pl-x").toString()), "none.txt: data file not found"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("userErrors")
  void userErrorIsOneLineAndExitCodeOne(List<String> args, String message) {
    Run r = run(args.toArray(new String[0]));
    assertEquals(1, r.code(), r.err());
    List<String> lines = r.err().strip().lines().toList();
    String last = lines.get(lines.size() - 1);
    assertTrue(last.startsWith("mtpf: ") && last.contains(message), r.err());
    assertEquals(1, lines.stream().filter(l -> l.startsWith("mtpf: ")).count(), r.err());
    assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
  }

  @Test
  void pseudoLabelWritesTheFolderAndPrintsTheSummary() {
    Path out = tmp.resolve("pl");
    Run r = run("pseudo-label", "--teacher", model.toString(), "--corpus", corpus.toString(), "--out", out.toString(),
        "--clusters", "3", "--max-length", "16", "--offline", "--models-dir", tmp.resolve("models").toString());
    assertEquals(0, r.code(), r.err());
    Matcher m = Pattern.compile(Pattern.quote(out.toString())
        + ": 8 sentences, (\\d+) words, k = 3 \\((\\d) clusters used\\), cache key ([0-9a-f]{16})").matcher(r.out().strip());
    assertTrue(m.matches(), r.out());
    PseudoLabels labels = PseudoLabels.read(out);
    assertEquals(8, labels.sentences().size());
    assertEquals(m.group(3), labels.cacheKey());
    int words = labels.sentences().stream().mapToInt(s -> s.words().size()).sum();
    assertEquals(String.valueOf(words), m.group(1));
    assertTrue(Integer.parseInt(m.group(2)) >= 2, r.out());

    // The same inputs again: reused, same summary.
    Run again = run("pseudo-label", "--teacher", model.toString(), "--corpus", corpus.toString(), "--out", out.toString(),
        "--clusters", "3", "--max-length", "16", "--offline", "--models-dir", tmp.resolve("models").toString());
    assertEquals(0, again.code(), again.err());
    assertEquals(r.out(), again.out());
    assertTrue(again.err().contains("pseudo-labels: reusing"), again.err());
  }

  @Test
  void pretrainRunsFromAConfigWithOverrides() throws IOException {
    Path out = tmp.resolve("run");
    Path config = yaml("tiny.yaml", """
        strategy: pf-tc
        model: %s
        steps: 50
        device: cpu
        out: %s
        tc: {batch_size: 4, chunk_size: 0, max_length: 16, datasets: [%s]}
        logging: {log_every: 1, checkpoint_every: 1, probe_every: 1, probe_sentences: 4, progress_bar: false}
        """.formatted(model, tmp.resolve("not-this-one"), pairs));
    Path data = Files.createDirectories(tmp.resolve("data/ner"));
    Files.copy(corpus, data.resolve("train.txt.gz"));
    Run r = run("pretrain", "--config", config.toString(), "--steps", "2", "--out", out.toString(), "--data",
        data.getParent().toString(), "--offline", "--models-dir", tmp.resolve("models").toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().strip().matches("done: 2 steps in [0-9.]+ s \\([0-9.]+ s of them training steps\\); "
        + "tc loss [0-9.]+ -> [0-9.]+, ner loss - -> -; outputs in " + Pattern.quote(out.toString())), r.out());
    assertTrue(Files.isRegularFile(out.resolve("backbone/model.safetensors")));
    assertEquals(3, Files.readAllLines(out.resolve("metrics.jsonl")).size(), "steps 0, 1, 2");
    // precision defaults to auto: bf16 exactly where the CPU has bf16 matrix units, and the run records which ran.
    boolean bf16Units = Files.readString(Path.of("/proc/cpuinfo")).matches("(?s).*\\bavx512_bf16\\b.*");
    var env = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("run-env.json").toFile());
    assertEquals(bf16Units ? "bf16" : "fp32", env.path("precision").asText(), env.toString());
    assertEquals("auto", env.path("precision_requested").asText());
    assertTrue(r.err().contains("precision: " + (bf16Units ? "bf16" : "fp32") + " (auto: "), r.err());
    assertTrue(!Files.exists(tmp.resolve("not-this-one")), "--out overrides the config's out");

    Run resumed = run("pretrain", "--config", config.toString(), "--steps", "2", "--out", out.toString(), "--data",
        data.getParent().toString(), "--offline", "--resume");
    assertEquals(0, resumed.code(), resumed.err());
    assertTrue(resumed.err().contains("run already complete at step 2"), resumed.err());
    assertTrue(resumed.out().startsWith("done: 2 steps"), resumed.out());
  }
}
