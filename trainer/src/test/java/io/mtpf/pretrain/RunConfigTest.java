package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** run.yaml: the shipped configs are valid, and every mistake is an error that names the key or the rule. */
class RunConfigTest {
  /** The module's working directory is trainer/, the configs live at the repository root. */
  static final Path CONFIGS = Path.of("..", "configs");

  @TempDir Path dir;

  static Stream<Path> shippedConfigs() throws IOException {
    try (Stream<Path> s = Files.list(CONFIGS)) {
      List<Path> files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
      assertFalse(files.isEmpty(), "no configs in " + CONFIGS.toAbsolutePath());
      return files.stream();
    }
  }

  @ParameterizedTest
  @MethodSource("shippedConfigs")
  void shippedConfigIsValidAndRoundTrips(Path file) throws IOException {
    RunConfig c = RunConfig.read(file);
    String name = file.getFileName().toString().replace(".yaml", "");
    if (!name.equals("quickstart")) {
      // The file name says the strategy (and PCGrad): configs/mtpf-tpl-pcgrad.yaml is mtpf-tpl with PCGrad.
      assertEquals(name.replace("-pcgrad", "").replace("-all", ""), c.strategy);
      assertEquals(name.endsWith("-pcgrad"), c.pcgrad);
      assertEquals("runs/" + name, c.out);
    }
    // run.yaml of a run folder is the config written back: it must read as the same config.
    Path copy = dir.resolve("run.yaml");
    Files.writeString(copy, c.toYaml());
    RunConfig back = RunConfig.read(copy);
    assertEquals(c.toYaml(), back.toYaml());
    assertEquals(c.tc.batchSize, back.tc.batchSize);
    assertEquals(c.ner.teacherLayers, back.ner.teacherLayers);
    assertEquals(c.lora.lastLayers, back.lora.lastLayers);
    assertEquals(c.optimizer.warmupSteps, back.optimizer.warmupSteps);
  }

  @Test
  void valuesAreReadFromSnakeCaseKeys() throws IOException {
    RunConfig c = read("""
        strategy: pf-ner
        steps: 7
        skip_bad_lines: true
        tc: {batch_size: 8, chunk_size: 0, max_length: 32}
        ner: {batch_size: 3, teacher_layers: [-1, -7], clusters: 5, pseudo_labels: pl, max_sentences: 9}
        lora: {r: 4, alpha: 8, use_rslora: true, last_layers: 0, targets: [value]}
        optimizer: {warmup_steps: 2, schedule: cosine, clip_norm: 0.5, accumulation: 2}
        logging: {log_every: 1, checkpoint_every: 3, probe_every: 4, probe_sentences: 5, progress_bar: false}
        """);
    assertEquals(Strategy.PF_NER, c.strategyKind());
    assertEquals(7, c.steps);
    assertTrue(c.skipBadLines);
    assertEquals(List.of(8, 0, 32), List.of(c.tc.batchSize, c.tc.chunkSize, c.tc.maxLength));
    assertEquals(List.of(-1, -7), c.ner.teacherLayers);
    assertEquals(List.of(3, 5, 9), List.of(c.ner.batchSize, c.ner.clusters, c.ner.maxSentences));
    assertEquals("pl", c.ner.pseudoLabels);
    assertTrue(c.lora.useRslora);
    assertEquals(0, c.lora.lastLayers);
    assertEquals(List.of("value"), c.lora.targets);
    assertEquals(2, c.optimizer.warmupSteps);
    assertEquals("cosine", c.optimizer.schedule);
    assertEquals(0.5, c.optimizer.clipNorm);
    assertEquals(2, c.optimizer.accumulation);
    assertEquals(List.of(1, 3, 4, 5), List.of(c.logging.logEvery, c.logging.checkpointEvery, c.logging.probeEvery,
        c.logging.probeSentences));
    assertFalse(c.logging.progressBar);
    // Keys left out keep their defaults.
    assertEquals(new RunConfig().seed, c.seed);
    assertEquals(new RunConfig().ner.maxLength, c.ner.maxLength);
  }

  /** YAML, a fragment the error must contain. */
  static Stream<Arguments> invalid() {
    return Stream.of(
        Arguments.of("strategy: mtpf\nstepz: 10\n", "unknown key 'stepz'"),
        Arguments.of("tc:\n  batchsize: 10\n", "unknown key 'batchsize'"),
        Arguments.of("optimizer:\n  warmup: 10\n", "unknown key 'warmup'"),
        Arguments.of("logging:\n  logEvery: 10\n", "unknown key 'logEvery'"),
        Arguments.of("strategy: mtpf-tlp\n", "unknown strategy 'mtpf-tlp'"),
        Arguments.of("strategy: pf-tc\npcgrad: true\n", "pcgrad applies to mtpf and mtpf-tpl only, not pf-tc"),
        Arguments.of("strategy: pf-ner\npcgrad: true\n", "pcgrad applies to mtpf and mtpf-tpl only, not pf-ner"),
        Arguments.of("strategy: pf-l\npcgrad: true\n", "pcgrad applies to mtpf and mtpf-tpl only, not pf-l"),
        Arguments.of("steps: -5\n", "steps must be positive"),
        Arguments.of("steps: 0\n", "steps must be positive"),
        Arguments.of("optimizer:\n  schedule: exponential\n", "optimizer.schedule must be constant, linear or cosine"),
        Arguments.of("optimizer:\n  lr: 0\n", "optimizer.lr must be positive"),
        Arguments.of("optimizer:\n  accumulation: 0\n", "optimizer.accumulation must be >= 1"),
        Arguments.of("tc:\n  batch_size: 1\n", "tc.batch_size must be at least 2"),
        Arguments.of("tc:\n  temperature: 0\n", "tc.temperature must be positive"),
        Arguments.of("ner:\n  clusters: 1\n", "ner.clusters must be at least 2"),
        Arguments.of("ner:\n  teacher_layers: []\n", "ner.teacher_layers must name at least one layer"),
        Arguments.of("lora:\n  targets: [query, ffn]\n", "unknown lora target 'ffn'"),
        Arguments.of("lora:\n  dropout: 1.0\n", "lora.dropout must be in [0, 1)"),
        Arguments.of("logging:\n  checkpoint_every: 0\n", "logging intervals must be positive"),
        Arguments.of("precision: fp16\n", "precision must be fp32, bf16 or auto"),
        Arguments.of("dropout: 1.5\n", "dropout must be in [0, 1)"),
        Arguments.of("steps: many\n", "malformed run config"),
        Arguments.of("tc: [1, 2\n", "malformed run config"),
        Arguments.of("", "empty run config"),
        Arguments.of("# only a comment\n", "empty run config"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("invalid")
  void invalidConfigIsAClearError(String yaml, String message) throws IOException {
    Path file = dir.resolve("run.yaml");
    Files.writeString(file, yaml);
    MtpfException e = assertThrows(MtpfException.class, () -> RunConfig.read(file));
    assertTrue(e.getMessage().contains(message), e.getMessage());
    if (!message.startsWith("unknown strategy")) assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
  }

  @Test
  void missingFileIsAnError() {
    MtpfException e = assertThrows(MtpfException.class, () -> RunConfig.read(dir.resolve("absent.yaml")));
    assertTrue(e.getMessage().contains("absent.yaml: run config not found"), e.getMessage());
  }

  @Test
  void strategiesSayWhichTasksAndAdaptersTheyTrain() {
    assertEquals(List.of("pf-tc", "pf-ner", "mtpf", "mtpf-tpl", "pf-l"),
        Stream.of(Strategy.values()).map(s -> s.key).toList());
    for (Strategy s : Strategy.values()) assertEquals(s, Strategy.parse(s.key));
    assertTrue(Strategy.MTPF.multiTask() && Strategy.MTPF_TPL.multiTask());
    assertFalse(Strategy.PF_TC.multiTask() || Strategy.PF_NER.multiTask() || Strategy.PF_L.multiTask());
    assertTrue(Strategy.MTPF_TPL.loras && !Strategy.MTPF_TPL.frozenBackbone);
    assertTrue(Strategy.PF_L.loras && Strategy.PF_L.frozenBackbone && Strategy.PF_L.tc && Strategy.PF_L.ner);
    assertTrue(Strategy.PF_TC.tc && !Strategy.PF_TC.ner && !Strategy.PF_NER.tc && Strategy.PF_NER.ner);
  }

  private RunConfig read(String yaml) throws IOException {
    Path file = dir.resolve("run.yaml");
    Files.writeString(file, yaml);
    return RunConfig.read(file);
  }
}
