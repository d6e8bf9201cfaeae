package io.mtpf.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.StepBatch;
import io.mtpf.Trainer;
import io.mtpf.TrainerConfig;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `mtpf encode` and `mtpf tag` with --engine runtime give what --engine torch gives; bad flag mixes fail in one line. */
class RuntimeEngineCliTest {
  @TempDir static Path tmp;
  static Path model;
  static Path adapter;
  static final List<String> LABELS = List.of("O", "B-PER", "I-PER", "B-LOC", "I-LOC");

  @BeforeAll
  static void tinyModelAndAdapter() throws Exception {
    model = CliTest.writeTinyModel(tmp);
    // An adapter as `mtpf adapt-ner --out` leaves it: LoRA + head trained a few steps, and labels.json.
    adapter = tmp.resolve("adapter");
    TrainerConfig config = TrainerConfig.nerAdapt(5, 2, 4);
    config.optimizer.lr = 0.1;
    config.optimizer.totalSteps = 10;
    try (Trainer s = Trainer.open(model, config)) {
      s.setStage(2, 0.1, 10, 0);
      Random random = new Random(7);
      List<String> words = List.of("hello", "world", "worlds", "a", "b", "c", "!");
      for (int step = 0; step < 3; step++) {
        List<Encoding> encs = new ArrayList<>();
        List<int[]> labels = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          List<String> sentence = new ArrayList<>();
          int[] y = new int[4];
          for (int w = 0; w < y.length; w++) {
            sentence.add(words.get(random.nextInt(words.size())));
            y[w] = random.nextInt(LABELS.size());
          }
          encs.add(s.tokenizer().encodeWords(sentence, 16));
          labels.add(y);
        }
        Batch b = Batch.pad(encs, 0);
        List<int[]> tokenLabels = new ArrayList<>();
        for (int i = 0; i < encs.size(); i++) tokenLabels.add(encs.get(i).tokenLabels(labels.get(i)));
        s.step(StepBatch.ner(b, b.padLabels(tokenLabels)), false);
      }
      s.exportAdapter("ner", adapter);
    }
    Files.writeString(adapter.resolve("labels.json"), "{\"labels\": [\"O\", \"B-PER\", \"I-PER\", \"B-LOC\", \"I-LOC\"]}");
  }

  @Test
  void encodeWithTheRuntimeEqualsTorch() {
    String[] texts = {"hello world", "worlds! a b c hello"};
    CliRunner.Result torch = CliRunner.run(concat(new String[] {"encode", "--model", model.toString(), "--normalize"}, texts));
    CliRunner.Result runtime = CliRunner.run(concat(new String[] {"encode", "--model", model.toString(), "--normalize",
        "--engine", "runtime"}, texts));
    assertEquals(0, runtime.code(), runtime.err());
    assertEquals(0, torch.code(), torch.err());
    String[] a = torch.out().strip().split("\n"), b = runtime.out().strip().split("\n");
    assertEquals(a.length, b.length);
    for (int i = 0; i < a.length; i++) {
      String[] x = a[i].trim().split(" "), y = b[i].trim().split(" ");
      assertEquals(8, y.length);
      for (int j = 0; j < x.length; j++)
        assertEquals(Float.parseFloat(x[j]), Float.parseFloat(y[j]), 1e-5, "text " + i + " dim " + j);
    }
    CliRunner.Result int8 = CliRunner.run("encode", "--model", model.toString(), "--engine", "runtime", "--int8", "hello");
    assertEquals(0, int8.code(), int8.err());
    CliRunner.Result adapted = CliRunner.run("encode", "--model", model.toString(), "--engine", "runtime", "--adapter",
        adapter.toString(), "hello");
    assertEquals(0, adapted.code(), adapted.err());
  }

  @Test
  void tagWithTheRuntimeEqualsTorch() {
    String[] args = {"tag", "--model", model.toString(), "--adapter", adapter.toString(), "hello worlds! a b",
        "c hello a world b !"};
    CliRunner.Result torch = CliRunner.run(args);
    CliRunner.Result runtime = CliRunner.run(concat(args, new String[] {"--engine", "runtime"}));
    assertEquals(0, torch.code(), torch.err());
    assertEquals(0, runtime.code(), runtime.err());
    assertTrue(torch.out().contains("\t"), "no entity at all would make the comparison vacuous: " + torch.out());
    assertEquals(torch.out(), runtime.out());
    CliRunner.Result json = CliRunner.run(concat(args, new String[] {"--engine", "runtime", "--json"}));
    assertTrue(json.out().startsWith("[{\"text\":\"hello worlds! a b\""), json.out());
    // Both engines score an entity the same way: the mean of its words' tag probabilities.
    CliRunner.Result torchJson = CliRunner.run(concat(args, new String[] {"--json"}));
    assertEquals(0, torchJson.code(), torchJson.err());
    com.fasterxml.jackson.databind.ObjectMapper mapper = new com.fasterxml.jackson.databind.ObjectMapper();
    try {
      var x = mapper.readTree(torchJson.out()).findValues("score");
      var y = mapper.readTree(json.out()).findValues("score");
      assertEquals(y.size(), x.size());
      assertTrue(!x.isEmpty());
      for (int i = 0; i < x.size(); i++) assertEquals(y.get(i).asDouble(), x.get(i).asDouble(), 1e-4, "entity " + i);
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void badEngineFlagsFailInOneLine() {
    CliRunner.Result int8 = CliRunner.run("encode", "--model", model.toString(), "--int8", "hello");
    assertEquals(1, int8.code());
    assertTrue(int8.err().contains("--int8 needs --engine runtime"), int8.err());
    CliRunner.Result unknown = CliRunner.run("encode", "--model", model.toString(), "--engine", "tflite", "hello");
    assertEquals(1, unknown.code());
    assertTrue(unknown.err().contains("tflite"), unknown.err());
    CliRunner.Result cuda = CliRunner.run("encode", "--model", model.toString(), "--engine", "runtime", "--device", "cuda", "x");
    assertEquals(1, cuda.code());
    assertTrue(cuda.err().contains("CPU"), cuda.err());
    CliRunner.Result adapterOnTorch = CliRunner.run("encode", "--model", model.toString(), "--adapter", adapter.toString(), "x");
    assertEquals(1, adapterOnTorch.code());
    CliRunner.Result help = CliRunner.run("encode", "--help");
    assertTrue(help.out().contains("torch (default"), help.out());
  }

  static String[] concat(String[] a, String[] b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
