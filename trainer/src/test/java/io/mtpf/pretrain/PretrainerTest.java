package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.Encoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Whole pre-finetuning runs on tiny random BERTs (hidden 16, 2 layers) and tiny data: the outputs of each strategy,
 * metrics, checkpoints, and a resumed run that logs exactly what the uninterrupted run logged.
 */
class PretrainerTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The words of the test data, so that tokens are rarely [UNK]. */
  static final List<String> VOCAB = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "red", "blue",
      "green", "cat", "dog", "bird", "sat", "ran", "flew", "on", "in", "over", "mat", "park", "trees", "is", "big",
      "small", "paris", "london", "john", "mary", "likes", "play", "##ing", "un", "##aff", "##able", "##s", ".", ",",
      "!");

  /** A random BERT folder (config.json, model.safetensors, vocab.txt) with {@link #VOCAB}. */
  static Path tinyBert(Path parent, String name, int hidden, long seed) throws IOException {
    Path config = parent.resolve(name + "-config.json");
    Files.writeString(config, """
        {"model_type":"bert","vocab_size":%d,"hidden_size":%d,"num_hidden_layers":2,"num_attention_heads":2,
         "intermediate_size":%d,"max_position_embeddings":32,"type_vocab_size":2,"hidden_act":"gelu"}"""
        .formatted(VOCAB.size(), hidden, 2 * hidden));
    Path dir = parent.resolve(name);
    Encoder.initRandom(config, dir, seed);
    Files.write(dir.resolve("vocab.txt"), VOCAB);
    return dir;
  }

  @TempDir static Path tmp;
  static Path student, teacher, pairsTsv, pairsJsonl, corpus, data;
  /** The reference mtpf-tpl run of 4 steps, shared by the output and resume tests. */
  static Path runA;
  static Pretrainer.Result resultA;
  static String consoleA;

  static final String[] SUBJECTS = {"the red cat", "a blue dog", "the green bird", "john", "mary"};
  static final String[] VERBS = {"sat on", "ran in", "flew over", "likes"};
  static final String[] OBJECTS = {"the mat", "the park", "big trees", "paris", "london", "a small dog"};

  @BeforeAll
  static void tinyModelsAndData() throws IOException {
    student = tinyBert(tmp, "student", 16, 1);
    teacher = tinyBert(tmp, "teacher", 16, 2);
    List<String> tsv = new ArrayList<>(List.of("anchor\tpositive"));
    List<String> jsonl = new ArrayList<>();
    List<String> conll = new ArrayList<>(List.of("-DOCSTART-\tO", ""));
    for (int i = 0; i < 12; i++) {
      String s = SUBJECTS[i % 5], v = VERBS[i % 4], o = OBJECTS[i % 6];
      tsv.add(s + " " + v + " " + o + ".\t" + o + ", " + s + " " + v + " it!");
      if (i < 6) jsonl.add(JSON.writeValueAsString(Map.of("text1", s + " " + v, "text2", v + " " + s, "label", 1)));
      for (String w : (s + " " + v + " " + o + " .").split(" ")) conll.add(w + "\tO");
      conll.add("");
    }
    pairsTsv = Files.write(tmp.resolve("pairs.tsv"), tsv);
    pairsJsonl = Files.write(tmp.resolve("more.jsonl"), jsonl);
    corpus = Files.write(tmp.resolve("corpus.txt"), conll);
    // A data folder with an NER train split: the probe sentences of runs without pseudo-labels (pf-tc).
    data = Files.createDirectories(tmp.resolve("data/ner"));
    Files.copy(corpus, data.resolve("train.txt.gz"));  // plain text under a .gz name: opened by content
    data = data.getParent();

    runA = tmp.resolve("runA");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    resultA = run(config("mtpf-tpl", runA), false, console);
    consoleA = console.toString(StandardCharsets.UTF_8);
  }

  /** The tiny run of the brief: tc/ner batch 4, max_length 16, k = 3, 4 steps, checkpoint every 2, probes every 2. */
  static RunConfig config(String strategy, Path out) {
    RunConfig c = new RunConfig();
    c.strategy = strategy;
    c.model = student.toString();
    c.steps = 4;
    c.seed = 7;
    c.device = "cpu";
    c.out = out.toString();
    c.data = data.toString();
    c.tc.batchSize = 4;
    c.tc.chunkSize = 2;
    c.tc.maxLength = 16;
    c.tc.datasets = List.of(pairsTsv.toString(), pairsJsonl.toString());
    c.ner.batchSize = 4;
    c.ner.maxLength = 16;
    c.ner.teacher = teacher.toString();
    c.ner.clusters = 3;
    c.ner.corpus = List.of(corpus.toString());
    c.lora.r = 4;
    c.lora.alpha = 8;
    c.optimizer.lr = 1e-3;
    c.optimizer.warmupSteps = 1;
    c.logging.logEvery = 1;
    c.logging.checkpointEvery = 2;
    c.logging.probeEvery = 2;
    c.logging.probeSentences = 8;
    c.logging.progressBar = false;
    c.validate("test config");
    return c;
  }

  static Pretrainer.Result run(RunConfig c, boolean resume, ByteArrayOutputStream console) {
    PrintStream out = new PrintStream(console, true, StandardCharsets.UTF_8);
    return new Pretrainer(c, new Pretrainer.Options(resume, true, tmp.resolve("models"), out)).run();
  }

  static List<JsonNode> metrics(Path run) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) out.add(JSON.readTree(line));
    return out;
  }

  static List<String> keys(JsonNode n) {
    List<String> out = new ArrayList<>();
    for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) out.add(it.next());
    return out;
  }

  @Test
  void mtpfTplWritesEveryOutput() throws IOException {
    assertEquals(4, resultA.steps());
    assertTrue(Double.isFinite(resultA.firstTcLoss()) && Double.isFinite(resultA.lastTcLoss()), resultA.toString());
    assertTrue(Double.isFinite(resultA.firstNerLoss()) && Double.isFinite(resultA.lastNerLoss()), resultA.toString());
    assertTrue(consoleA.contains("data: 2 pair datasets, 18 pairs (pairs 12, more 6)"), consoleA);
    assertTrue(consoleA.contains("data: 12 pseudo-labelled sentences, k = 3"), consoleA);
    assertEquals(config("mtpf-tpl", runA).toYaml(), RunConfig.read(runA.resolve("run.yaml")).toYaml());

    // The backbone is an HF folder the encoder loads.
    for (String f : List.of("config.json", "model.safetensors", "vocab.txt")) assertTrue(Files.isRegularFile(runA.resolve("backbone/" + f)), f);
    try (Encoder e = Encoder.load(runA.resolve("backbone"))) {
      assertEquals(16, e.hiddenSize());
      float[] v = e.encode(List.of("the red cat sat on the mat."))[0];
      assertEquals(16, v.length);
      for (float x : v) assertTrue(Float.isFinite(x));
    }
    // Task-primary LoRAs as PEFT folders, the NER head beside its adapter.
    for (String task : List.of("tc", "ner")) {
      Path a = runA.resolve("adapters/" + task);
      assertTrue(Files.isRegularFile(a.resolve("adapter_model.safetensors")), task);
      JsonNode cfg = JSON.readTree(a.resolve("adapter_config.json").toFile());
      assertEquals(4, cfg.path("r").asInt(), cfg.toString());
      assertTrue(cfg.path("target_modules").size() > 0, cfg.toString());
    }
    assertTrue(Files.isRegularFile(runA.resolve("adapters/ner/head_ner.safetensors")));
    assertFalse(Files.exists(runA.resolve("adapters/tc/head_ner.safetensors")));
    assertFalse(Files.exists(runA.resolve("heads")));
    // Pseudo-labels made (and kept) in the run folder.
    PseudoLabels labels = PseudoLabels.read(runA.resolve("pseudo-labels"));
    assertEquals(12, labels.sentences().size());
    assertEquals(3, labels.clusters());

    // metrics.jsonl: the probes before training at step 0, then one line per step.
    List<JsonNode> m = metrics(runA);
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L), m.stream().map(n -> n.path("step").asLong()).toList());
    assertTrue(keys(m.get(0)).containsAll(List.of("probe_token_cosine", "probe_tc_token_cosine", "probe_ner_token_cosine")),
        keys(m.get(0)).toString());
    // warm-up 1 step, then linear decay to 0 over the remaining 3
    double[] lr = {1e-3, 1e-3, 2e-3 / 3, 1e-3 / 3};
    for (int step = 1; step <= 4; step++) {
      JsonNode n = m.get(step);
      for (String k : List.of("tc_loss", "ner_loss", "grad_norm", "grad_cosine", "tokens_per_s"))
        assertTrue(n.path(k).isNumber() && Double.isFinite(n.path(k).asDouble()), "step " + step + " " + k + ": " + n);
      assertTrue(n.path("tc_loss").asDouble() > 0 && n.path("ner_loss").asDouble() > 0, n.toString());
      assertTrue(Math.abs(n.path("grad_cosine").asDouble()) <= 1 + 1e-9, n.toString());
      assertEquals(lr[step - 1], n.path("lr").asDouble(), 1e-12, n.toString());
      assertEquals(step % 2 == 0, n.has("probe_token_cosine"), "probes every 2 steps: " + n);
    }

    assertTrue(Files.size(runA.resolve("plots/losses.png")) > 1000);
    byte[] png = Files.readAllBytes(runA.resolve("plots/losses.png"));
    assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(png, 4));
    assertTrue(Files.isRegularFile(runA.resolve("plots/grad_cosine.png")));

    // Checkpoints every 2 steps; the pointer names the newest.
    assertEquals("step-4", Files.readString(runA.resolve("checkpoints/latest")).strip());
    assertTrue(Files.isDirectory(runA.resolve("checkpoints/step-2")) && Files.isDirectory(runA.resolve("checkpoints/step-4")));
  }

  /** strategy, pcgrad, files that must exist, files that must not, whether TC and NER losses are logged. */
  static Stream<Arguments> strategies() {
    return Stream.of(
        Arguments.of("pf-tc", false, List.of("backbone/model.safetensors"), List.of("adapters", "heads", "pseudo-labels"),
            true, false),
        Arguments.of("pf-ner", false, List.of("backbone/model.safetensors", "heads/ner/head_ner.safetensors",
            "pseudo-labels/meta.json"), List.of("adapters"), false, true),
        Arguments.of("mtpf", true, List.of("backbone/model.safetensors", "heads/ner/head_ner.safetensors"),
            List.of("adapters"), true, true),
        Arguments.of("pf-l", false, List.of("backbone/model.safetensors", "adapters/tc/adapter_model.safetensors",
            "adapters/ner/adapter_model.safetensors", "adapters/ner/head_ner.safetensors"), List.of("heads"), true, true));
  }

  @ParameterizedTest(name = "{0} pcgrad={1}")
  @MethodSource("strategies")
  void eachStrategyWritesItsOutputs(String strategy, boolean pcgrad, List<String> present, List<String> absent,
      boolean tc, boolean ner) throws IOException {
    Path out = tmp.resolve("run-" + strategy);
    RunConfig c = config(strategy, out);
    c.pcgrad = pcgrad;
    c.steps = 3;
    c.logging.checkpointEvery = 1;
    c.logging.logEvery = 2;  // and the last step
    c.validate("test");
    Pretrainer.Result r = run(c, false, new ByteArrayOutputStream());
    assertEquals(3, r.steps());
    // Losses reach the host on logged steps and the first one only; the summary still has both ends.
    assertEquals(tc, Double.isFinite(r.firstTcLoss()) && Double.isFinite(r.lastTcLoss()), r.toString());
    assertEquals(ner, Double.isFinite(r.firstNerLoss()) && Double.isFinite(r.lastNerLoss()), r.toString());
    for (String f : present) assertTrue(Files.exists(out.resolve(f)), strategy + ": " + f);
    for (String f : absent) assertFalse(Files.exists(out.resolve(f)), strategy + ": " + f);
    List<JsonNode> m = metrics(out);
    assertEquals(List.of(0L, 2L, 3L), m.stream().map(n -> n.path("step").asLong()).toList(), "log_every 2 and the last step");
    for (JsonNode n : m.subList(1, m.size())) {
      assertEquals(tc, n.path("tc_loss").isNumber(), n.toString());
      assertEquals(ner, n.path("ner_loss").isNumber(), n.toString());
      // Measured where both tasks update shared parameters: not in pf-l, whose backbone is frozen.
      assertEquals(Strategy.parse(strategy).multiTask(), n.path("grad_cosine").isNumber(), n.toString());
    }
    // The two newest checkpoints are kept.
    try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
      assertEquals(List.of("latest", "step-2", "step-3"), s.map(p -> p.getFileName().toString()).sorted().toList());
    }
    List<String> text = List.of("a blue dog ran in the park.");
    float[] before, after;
    try (Encoder e = Encoder.load(student)) {
      before = e.encode(text)[0];
    }
    try (Encoder e = Encoder.load(out.resolve("backbone"))) {
      after = e.encode(text)[0];
    }
    assertEquals(16, after.length);
    // pf-l freezes the backbone (only its LoRAs train); every other strategy changes it.
    assertEquals(strategy.equals("pf-l"), java.util.Arrays.equals(before, after), strategy);
  }

  /** Data parallelism end to end: 2 local ranks (child JVMs, Gloo) at the same global batches as one process. */
  @Test
  void twoLocalRanksTrainAsOneProcess() throws IOException {
    String why = io.mtpf.Distributed.unavailable("cpu");
    org.junit.jupiter.api.Assumptions.assumeTrue(why.isEmpty(), () -> {
      System.err.println("SKIPPED twoLocalRanksTrainAsOneProcess: " + why);
      return why;
    });
    RunConfig one = config("mtpf-tpl", tmp.resolve("dp1")), two = config("mtpf-tpl", tmp.resolve("dp2"));
    one.dropout = 0.0;  // each rank draws its own masks: equal runs need none
    two.dropout = 0.0;
    one.precision = "fp32";  // the 1e-5 is fp32's: auto would take bf16 on a CPU with bf16 units
    two.precision = "fp32";
    run(one, false, new ByteArrayOutputStream());
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    Pretrainer.Result r = new Pretrainer(two, new Pretrainer.Options(false, true, tmp.resolve("models"),
        new PrintStream(console, true, StandardCharsets.UTF_8), 2)).run();
    assertEquals(4, r.steps(), console.toString(StandardCharsets.UTF_8));
    List<JsonNode> a = metrics(tmp.resolve("dp1")), b = metrics(tmp.resolve("dp2"));
    assertEquals(a.size(), b.size());
    for (int i = 1; i < a.size(); i++)
      for (String k : List.of("tc_loss", "ner_loss", "grad_norm"))
        assertEquals(a.get(i).get(k).asDouble(), b.get(i).get(k).asDouble(),
            1e-5 * Math.max(1, Math.abs(a.get(i).get(k).asDouble())), "step " + i + " " + k);  // relative for norms ~20
    assertTrue(Files.isDirectory(tmp.resolve("dp2/adapters/ner")), "rank 0 exports the outputs");
    assertTrue(Files.readString(tmp.resolve("dp2/run-env.json")).contains("\"world_size\" : 2"));
  }

  /**
   * torchrun with --max-restarts: rank 1 killed (-9) after a checkpoint; torchrun restarts both ranks, which resume
   * from that checkpoint and finish. Needs the project's PyTorch (build/pyenv, which setup installs for libtorch).
   */
  @Test
  void torchrunRestartsAKilledRankFromTheLastCheckpoint() throws Exception {
    Path torchrun = Path.of("..", "build", "pyenv", "bin", "torchrun").toAbsolutePath().normalize();
    String why = io.mtpf.Distributed.unavailable("cpu");
    if (why.isEmpty()) why = torchrunUnusable(torchrun);
    String reason = why;
    org.junit.jupiter.api.Assumptions.assumeTrue(reason.isEmpty(), () -> {
      System.err.println("SKIPPED torchrunRestartsAKilledRankFromTheLastCheckpoint: " + reason);
      return reason;
    });
    Path out = tmp.resolve("torchrun");
    RunConfig c = config("mtpf-tpl", out);
    c.steps = 300;
    c.logging.checkpointEvery = 50;
    c.logging.logEvery = 50;
    c.logging.probeEvery = 1000;
    Path yaml = Files.writeString(tmp.resolve("torchrun.yaml"), c.toYaml());
    Path log = tmp.resolve("torchrun.log");
    Process job = new ProcessBuilder(torchrun.toString(), "--nproc-per-node", "2", "--max-restarts", "1", "--no-python",
        ProcessHandle.current().info().command().orElse("java"), "-cp", System.getProperty("java.class.path"),
        "io.mtpf.cli.Main", "pretrain", "--config", yaml.toString(), "--resume", "--offline", "--models-dir",
        tmp.resolve("models").toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      Path latest = out.resolve("checkpoints/latest");
      long until = System.nanoTime() + 120_000_000_000L;
      while (!(Files.exists(latest) && !Files.readString(latest).isBlank()) && System.nanoTime() < until && job.isAlive())
        Thread.sleep(20);
      assertTrue(Files.exists(latest), "no checkpoint before the kill: " + Files.readString(log));
      ProcessHandle rank1 = job.descendants().filter(h -> rankOf(h) == 1).findFirst().orElseThrow();
      rank1.destroyForcibly();
      assertTrue(job.waitFor(180, java.util.concurrent.TimeUnit.SECONDS), "torchrun did not finish");
      String text = Files.readString(log);
      assertEquals(0, job.exitValue(), text);
      assertTrue(text.contains("resume: continuing from"), text);
      List<JsonNode> m = metrics(out);
      assertEquals(300, m.get(m.size() - 1).get("step").asLong(), text);
    } finally {
      job.descendants().forEach(ProcessHandle::destroyForcibly);
      job.destroyForcibly();
    }
  }

  /**
   * SIGTERM (what Ctrl-C, kill and a cluster's preemption send) mid-run: the process stops after its step with a
   * checkpoint there, exits 143, and never dies inside a native step (hs_err); --resume continues from it. With two
   * local ranks the launcher passes the signal on, the ranks agree on one step, and rank 0 checkpoints it.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
  void sigtermStopsAfterTheStepWithACheckpoint(int ranks) throws Exception {
    if (ranks > 1) {
      String why = io.mtpf.Distributed.unavailable("cpu");
      org.junit.jupiter.api.Assumptions.assumeTrue(why.isEmpty(), () -> {
        System.err.println("SKIPPED sigtermStopsAfterTheStepWithACheckpoint(2 ranks): " + why);
        return why;
      });
    }
    Path out = tmp.resolve("sigterm-" + ranks);
    RunConfig c = config("mtpf-tpl", out);
    c.steps = 100_000;
    c.logging.checkpointEvery = 100_000;
    c.logging.probeEvery = 100_000;
    if (ranks > 1) c.dropout = 0.0;
    Path yaml = Files.writeString(tmp.resolve("sigterm-" + ranks + ".yaml"), c.toYaml());
    Path log = tmp.resolve("sigterm-" + ranks + ".log"), work = Files.createDirectories(tmp.resolve("sigterm-cwd-" + ranks));
    List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-XX:ErrorFile=" + work.resolve("hs_err_pid%p.log"), "-cp", System.getProperty("java.class.path"),
        "io.mtpf.cli.Main", "pretrain", "--config", yaml.toString(), "--offline", "--models-dir",
        tmp.resolve("models").toString()));
    if (ranks > 1) command.addAll(List.of("--nproc", Integer.toString(ranks)));
    Process job = new ProcessBuilder(command).directory(work.toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    try {
      Path metrics = out.resolve("metrics.jsonl");
      long until = System.nanoTime() + 120_000_000_000L;
      while ((!Files.exists(metrics) || Files.readAllLines(metrics).size() < 20) && job.isAlive()
          && System.nanoTime() < until) Thread.sleep(20);
      assertTrue(job.isAlive(), "the run ended before the signal: " + Files.readString(log));
      job.destroy();  // SIGTERM
      assertTrue(job.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "no exit after SIGTERM");
      String text = Files.readString(log);
      assertEquals(143, job.exitValue(), text);
      try (var crashes = Files.list(work)) {
        assertEquals(List.of(), crashes.map(Path::toString).toList(), text);
      }
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("stopped by the exit signal after step (\\d+)").matcher(text);
      assertTrue(m.find(), text);
      assertEquals("step-" + m.group(1), Files.readString(out.resolve("checkpoints/latest")).strip(), text);
      assertTrue(Long.parseLong(m.group(1)) >= 19, text);
      assertFalse(m.find(), "one rank says it: " + text);
    } finally {
      job.descendants().forEach(ProcessHandle::destroyForcibly);
      job.destroyForcibly();
    }
  }

  /** "" when torchrun starts (the project's PyTorch with its dependencies: scripts/setup-pyenv.sh), else why not. */
  static String torchrunUnusable(Path torchrun) throws Exception {
    if (!Files.isExecutable(torchrun)) return torchrun + " not found (scripts/setup.sh installs PyTorch there)";
    Process p = new ProcessBuilder(torchrun.toString(), "--help").redirectErrorStream(true).start();
    byte[] output = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
      String text = new String(output, StandardCharsets.UTF_8).strip();
      return torchrun + " does not start (scripts/setup-pyenv.sh installs PyTorch's dependencies): "
          + text.substring(Math.max(0, text.length() - 300));
    }
    return "";
  }

  /** RANK of a process started by torchrun (from /proc/PID/environ), -1 if none. */
  static int rankOf(ProcessHandle h) {
    try {
      for (String kv : Files.readString(Path.of("/proc", Long.toString(h.pid()), "environ")).split("\0"))
        if (kv.startsWith("RANK=")) return Integer.parseInt(kv.substring(5));
    } catch (IOException | NumberFormatException e) {
      // gone, or not ours
    }
    return -1;
  }

  @Test
  void resumedRunLogsExactlyWhatTheUninterruptedRunLogged() throws IOException {
    Path runB = tmp.resolve("runB");
    run(config("mtpf-tpl", runB), false, new ByteArrayOutputStream());
    List<JsonNode> a = metrics(runA), full = metrics(runB);
    assertEquals(a.size(), full.size());
    for (int i = 0; i < a.size(); i++) assertSameMetrics(a.get(i), full.get(i));

    // Interrupted after step 2: go back to its checkpoint (kept: the two newest are step-2 and step-4).
    Files.writeString(runB.resolve("checkpoints/latest"), "step-2");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    Pretrainer.Result r = run(config("mtpf-tpl", runB), true, console);
    String log = console.toString(StandardCharsets.UTF_8);
    assertTrue(log.contains("resume: continuing from " + runB.resolve("checkpoints/step-2") + " (step 2)"), log);
    assertTrue(log.contains("pseudo-labels: reusing"), log);
    assertEquals(4, r.steps());
    List<JsonNode> resumed = metrics(runB);
    // Lines past the checkpoint were dropped and written again: one line per step.
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L), resumed.stream().map(n -> n.path("step").asLong()).toList());
    for (int i = 0; i < a.size(); i++) assertSameMetrics(a.get(i), resumed.get(i));
    assertArrayEquals(Files.readAllBytes(runA.resolve("backbone/model.safetensors")),
        Files.readAllBytes(runB.resolve("backbone/model.safetensors")));
    assertArrayEquals(Files.readAllBytes(runA.resolve("adapters/ner/head_ner.safetensors")),
        Files.readAllBytes(runB.resolve("adapters/ner/head_ner.safetensors")));

    // Resuming a finished run trains nothing more.
    console.reset();
    run(config("mtpf-tpl", runB), true, console);
    assertTrue(console.toString(StandardCharsets.UTF_8).contains("run already complete at step 4"), console.toString());
    assertEquals(5, metrics(runB).size());
  }

  /** Every logged value but the throughput is bit-identical. */
  static void assertSameMetrics(JsonNode expected, JsonNode actual) {
    List<String> k = keys(expected);
    k.remove("tokens_per_s");
    List<String> ka = keys(actual);
    ka.remove("tokens_per_s");
    assertEquals(k, ka, "step " + expected.path("step"));
    for (String key : k) assertEquals(expected.get(key).asDouble(), actual.get(key).asDouble(), 0.0,
        "step " + expected.path("step") + " " + key);
  }
}
