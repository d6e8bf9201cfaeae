package io.mtpf.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.Encoder;
import io.mtpf.data.BadLines;
import io.mtpf.data.NerDataset;
import io.mtpf.data.NerReaders;
import io.mtpf.eval.EmbeddingCache;
import io.mtpf.eval.EvalResults;
import io.mtpf.eval.NerAdaptation;
import io.mtpf.eval.SentenceEmbedder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** mtpf evaluate end to end on a tiny random model and tiny datasets: results, absent sets, cache, adapters. */
class EvaluateCommandTest {
  @TempDir static Path tmp;
  static Path model, data;

  static final List<String> VOCAB = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "paris", "london", "anna",
      "tom", "went", "to", "met", "in", ".");

  @BeforeAll
  static void setUp() throws Exception {
    Path config = tmp.resolve("config.json");
    Files.writeString(config, """
        {"model_type":"bert","vocab_size":14,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,
         "intermediate_size":32,"max_position_embeddings":32,"type_vocab_size":2,"hidden_act":"gelu"}""");
    model = tmp.resolve("model");
    Encoder.initRandom(config, model, 5);
    Files.write(model.resolve("vocab.txt"), VOCAB);
    data = tmp.resolve("data");
    Path conll = Files.createDirectories(data.resolve("conll2003"));
    Files.write(conll.resolve("train.txt"), conllLines(8));
    Files.write(conll.resolve("dev.txt"), conllLines(1));
    Files.write(conll.resolve("test.txt"), conllLines(2));
    Path banking = Files.createDirectories(data.resolve("banking77"));
    Files.write(banking.resolve("train.jsonl"), tcLines(12));
    Files.write(banking.resolve("test.jsonl"), tcLines(3));
    Path mine = Files.createDirectories(tmp.resolve("mine"));
    Files.write(mine.resolve("train.jsonl"), tcLines(5));
    Files.write(mine.resolve("test.jsonl"), tcLines(2));
  }

  static List<String> conllLines(int copies) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < copies; i++) {
      lines.addAll(List.of("anna\tB-PER", "went\tO", "to\tO", "paris\tB-LOC", ".\tO", ""));
      lines.addAll(List.of("tom\tB-PER", "met\tO", "anna\tB-PER", "in\tO", "london\tB-LOC", ""));
    }
    return lines;
  }

  static List<String> tcLines(int copies) {
    String[] travel = {"anna went to paris", "tom went to london", "anna went to london .", "tom went in paris"};
    String[] meet = {"tom met anna", "anna met tom in paris", "tom met anna .", "anna met tom"};
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < copies; i++) {
      lines.add("{\"text\": \"" + travel[i % 4] + "\", \"label\": \"travel\"}");
      lines.add("{\"text\": \"" + meet[i % 4] + "\", \"label\": \"meet\"}");
    }
    return lines;
  }

  /** An interrupted evaluation continued with --resume keeps its finished adaptations and runs the rest. */
  @Test
  void resumeKeepsFinishedAdaptationsAndRunsTheRest() throws Exception {
    Path run = tmp.resolve("resumed");
    List<String> args = new ArrayList<>(List.of("evaluate", "--model", model.toString(), "--suite", "quick", "--task",
        "ner", "--data", data.toString(), "--out", run.toString(), "--seeds", "2", "--fractions", "0.5",
        "--threads", "1"));
    CliRunner.Result first = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, first.code(), first.err());
    var whole = EvalResults.read(run).dataset("CoNLL-2003");
    assertEquals(2, whole.runs().size());
    // As if stopped after its first adaptation: the dataset still running, with one of its two runs.
    var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
    var json = mapper.readTree(run.resolve("results.json").toFile());
    for (var d : json.get("datasets")) {
      if (!d.get("name").asText().equals("CoNLL-2003")) continue;
      ((com.fasterxml.jackson.databind.node.ObjectNode) d).put("status", "running");
      ((com.fasterxml.jackson.databind.node.ArrayNode) d.get("runs")).remove(1);
    }
    mapper.writeValue(run.resolve("results.json").toFile(), json);
    args.add("--resume");
    CliRunner.Result resumed = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, resumed.code(), resumed.err());
    var again = EvalResults.read(run).dataset("CoNLL-2003");
    assertEquals("ok", again.status());
    // Kept as it was, to its timings (a run again would differ in them); the other run again, to the same F1.
    assertEquals(whole.runs().get(0), again.runs().get(0));
    assertNotEquals(whole.runs().get(1).seconds(), again.runs().get(1).seconds());
    assertEquals(whole.runs().get(1).main(), again.runs().get(1).main(), 0.0);
    // A finished dataset is kept whole; another configuration starts afresh.
    assertEquals(0, CliRunner.run(args.toArray(String[]::new)).code());
    assertEquals(again, EvalResults.read(run).dataset("CoNLL-2003"));
    args.set(args.indexOf("--seeds") + 1, "1");
    CliRunner.Result other = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, other.code(), other.err());
    assertEquals(1, EvalResults.read(run).dataset("CoNLL-2003").runs().size());
  }

  @Test
  void quickSuiteRunsWhatIsPresentAndListsWhatIsNot() throws Exception {
    Path run = tmp.resolve("run");
    CliRunner.Result r = CliRunner.run("evaluate", "--model", model.toString(), "--suite", "quick", "--data",
        data.toString(), "--dataset", "mine=" + tmp.resolve("mine"), "--out", run.toString(), "--seeds", "2",
        "--fractions", "0.5,1", "--threads", "1");
    assertEquals(0, r.code(), r.err());
    EvalResults res = EvalResults.read(run);
    assertEquals("quick", res.config().suite());
    assertEquals(List.of(42L, 43L), res.config().seeds());
    assertEquals(EmbeddingCache.sha256(model.resolve("model.safetensors")), res.model().sha256());
    assertEquals(List.of("CoNLL-2003", "MIT Restaurant", "Banking77", "Emotion", "AmazonCounterfactual", "mine"),
        res.datasets().stream().map(EvalResults.DatasetResult::name).toList());
    var conll = res.dataset("CoNLL-2003");
    assertEquals("ok", conll.status());
    assertEquals(4, conll.runs().size(), "2 fractions x 2 seeds");
    assertEquals(8, conll.at(0.5).get(0).trainSize());
    for (var run1 : conll.runs()) {
      assertTrue(run1.main() >= 0 && run1.main() <= 1);
      assertEquals(4, run1.ner().epochs().size(), "quick: 1 + 3 epochs");
      assertTrue(run1.ner().trainSentencesPerSecond() > 0);
    }
    assertTrue(res.dataset("MIT Restaurant").status().startsWith("absent: not found under " + data), 
        res.dataset("MIT Restaurant").status());
    var bank = res.dataset("Banking77");
    assertEquals("ok", bank.status());
    var tc = bank.runs().get(0).tc();
    assertEquals(10, tc.experiments());
    assertEquals(8, tc.samplesPerLabel());
    assertTrue(tc.embeddedRows() > 0 && tc.cachedRows() == 0 && tc.embeddingsPerSecond() > 0, tc.toString());
    assertEquals("ok", res.dataset("mine").status());
    assertEquals("user", res.dataset("mine").source());
    String md = Files.readString(run.resolve("results.md"));
    assertTrue(md.contains("| MIT Restaurant | ner | absent: not found under"), md);
    assertTrue(md.contains("| CoNLL-2003 @50% | ner | ok |"), md);
    assertTrue(r.out().startsWith("# Evaluation: run"), r.out());

    // Again, TC only: every embedding comes from the cache, and the scores are the same.
    CliRunner.Result again = CliRunner.run("evaluate", "--model", model.toString(), "--suite", "quick", "--task", "tc",
        "--data", data.toString(), "--out", run.toString(), "--threads", "1");
    assertEquals(0, again.code(), again.err());
    var bank2 = EvalResults.read(run).dataset("Banking77").runs().get(0).tc();
    assertEquals(0, bank2.embeddedRows());
    assertEquals(tc.embeddedRows(), bank2.cachedRows());
    assertEquals(tc.accuracy(), bank2.accuracy(), 0.0);
    assertEquals(3, EvalResults.read(run).datasets().size(), "task tc: the quick suite's 3 classification sets");
  }

  @Test
  void adaptersSeedNerAndStayActiveForClassification() throws Exception {
    NerDataset train = NerReaders.read(data.resolve("conll2003/train.txt"), BadLines.fail());
    Path adapter = tmp.resolve("adapter");
    NerAdaptation.run(model, null, train, null, train, new NerAdaptation.Settings(1, 2, 0, 8, 5e-2, 0.01, 32, 64, 16, 3,
        "cpu"), adapter, line -> {});
    Path run = tmp.resolve("run-adapters");
    CliRunner.Result r = CliRunner.run("evaluate", "--model", model.toString(), "--adapter", "ner=" + adapter,
        "--adapter", "tc=" + adapter, "--suite", "quick", "--data", data.toString(), "--only", "CoNLL-2003,Banking77",
        "--out", run.toString(), "--threads", "1", "--label", "with adapters");
    assertEquals(0, r.code(), r.err() + Files.readString(run.resolve("results.json")));
    EvalResults res = EvalResults.read(run);
    assertEquals("with adapters", res.config().label());
    assertEquals(2, res.config().loraLayers(), "the adapter covers both layers of the tiny model");
    // Two weight files (the LoRA and the NER head beside it): the hash of their hashes, in name order.
    String files = "adapter_model.safetensors " + EmbeddingCache.sha256(adapter.resolve("adapter_model.safetensors"))
        + "\nhead_ner.safetensors " + EmbeddingCache.sha256(adapter.resolve("head_ner.safetensors")) + "\n";
    java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
    assertEquals(java.util.HexFormat.of().formatHex(md.digest(files.getBytes(java.nio.charset.StandardCharsets.UTF_8))),
        res.adapters().get("tc").sha256());
    assertEquals(List.of("CoNLL-2003", "Banking77"), res.datasets().stream().map(EvalResults.DatasetResult::name).toList());
    assertEquals("ok", res.dataset("CoNLL-2003").status());
    assertEquals("ok", res.dataset("Banking77").status());

    // The tc adapter changes the embeddings; bad names are errors naming them.
    try (var plain = SentenceEmbedder.open(model, null, SentenceEmbedder.Options.paper());
         var adapted = SentenceEmbedder.open(model, adapter, SentenceEmbedder.Options.paper())) {
      assertNotEquals(plain.embed(List.of("anna went to paris"))[0][0], adapted.embed(List.of("anna went to paris"))[0][0]);
    }
    // A ner adapter of another rank cannot seed the adaptation's LoRA: an error before any work.
    Path small = tmp.resolve("adapter-r4");
    NerAdaptation.run(model, null, train, null, train, new NerAdaptation.Settings(1, 0, 0, 8, 5e-2, 0.01, 4, 8, 16, 3,
        "cpu"), small, line -> {});
    CliRunner.Result bad = CliRunner.run("evaluate", "--model", model.toString(), "--adapter", "ner=" + small,
        "--data", data.toString(), "--out", tmp.resolve("bad").toString());
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains(small.toString()) && bad.err().contains("r 4"), bad.err());
    bad = CliRunner.run("evaluate", "--model", model.toString(), "--adapter", "xx=" + adapter,
        "--out", tmp.resolve("bad").toString());
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains("ner or tc"), bad.err());
    bad = CliRunner.run("evaluate", "--model", model.toString(), "--only", "NoSuchSet", "--data", data.toString(),
        "--out", tmp.resolve("bad").toString());
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains("NoSuchSet"), bad.err());
    bad = CliRunner.run("evaluate", "--model", model.toString(), "--dataset", "x=" + tmp.resolve("nowhere"),
        "--out", tmp.resolve("bad").toString());
    assertTrue(bad.code() == 1 && bad.err().contains(tmp.resolve("nowhere").toString()), bad.err());
  }

  @Test
  void adapterPathPoolsAsTheEncoderDoes() throws Exception {
    // Stage 1 only: the exported LoRA keeps PEFT's B = 0, so backbone + adapter = backbone, and the session's
    // token states pooled in Java must equal the native Encoder's pooling.
    NerDataset train = NerReaders.read(data.resolve("conll2003/train.txt"), BadLines.fail());
    Path zero = tmp.resolve("zero-adapter");
    NerAdaptation.run(model, null, train, null, train, new NerAdaptation.Settings(1, 0, 0, 8, 5e-2, 0.01, 4, 8, 16, 3,
        "cpu"), zero, line -> {});
    List<String> texts = List.of("anna went to paris", "tom", "tom met anna in london .", "paris paris paris");
    for (String pooling : List.of("mean", "cls")) {
      for (boolean normalize : List.of(false, true)) {
        var o = new SentenceEmbedder.Options(pooling, "tom ", normalize, 0, 3, "cpu");
        try (var plain = SentenceEmbedder.open(model, null, o); var adapted = SentenceEmbedder.open(model, zero, o)) {
          float[][] a = plain.embed(texts), b = adapted.embed(texts);
          for (int i = 0; i < texts.size(); i++) assertArrayEquals(a[i], b[i], 1e-5f, pooling + " " + normalize + " " + i);
          assertFalse(a[0][0] == a[1][0] && a[0][1] == a[1][1], "different texts, different vectors");
        }
      }
    }
  }
}
