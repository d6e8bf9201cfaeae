package io.mtpf.pretrain;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.Distributed;
import io.mtpf.MtpfException;
import io.mtpf.NativeCalls;
import io.mtpf.NativeCore;
import io.mtpf.StepMetrics;
import io.mtpf.Trainer;
import io.mtpf.TrainerConfig;
import io.mtpf.data.BadLines;
import io.mtpf.data.PairDataset;
import io.mtpf.data.PairReaders;
import io.mtpf.data.WordCorpus;
import io.mtpf.data.WordNetJar;
import io.mtpf.data.WordNetSynset;
import io.mtpf.files.AtomicFiles;
import io.mtpf.models.ModelResolver;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pre-finetuning run from a {@link RunConfig}: data, pseudo-labels, the native session, the step loop with
 * metrics, probes and checkpoints, and the outputs (backbone, task-primary adapters, heads, plots).
 *
 * <p>Layout of {@code out}: run.yaml, metrics.jsonl, pseudo-labels/, checkpoints/step-N (+ latest),
 * backbone/ (HF folder), adapters/{tc,ner}/ (PEFT folders; the NER head beside its adapter), heads/ner
 * (NER head of strategies without adapters), plots/*.png.
 */
public final class Pretrainer {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * How to run: resume from out/checkpoints/latest, models folder, console for progress and log lines, and
   * {@code nproc}: start that many local ranks (processes) of a data-parallel job (1: this process trains alone).
   * A process started by torchrun (or anything that sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) is one rank of
   * that job whatever nproc says.
   */
  public record Options(boolean resume, boolean offline, Path modelsDir, PrintStream console, int nproc) {
    public Options(boolean resume, boolean offline, Path modelsDir, PrintStream console) {
      this(resume, offline, modelsDir, console, 1);
    }
  }

  /**
   * What a run did: first and last losses and the §5 probes before and after; {@code stopped}: ended early by the
   * JVM's exit (SIGTERM, Ctrl-C) with a checkpoint at {@code steps}, no probes after and no outputs.
   * {@code seconds}: the whole run (models, pseudo-labels, probes, checkpoints, export); {@code stepSeconds}: of it, the
   * training steps alone (waiting for the step's batch and the native step call).
   */
  public record Result(Path out, long steps, double firstTcLoss, double lastTcLoss, double firstNerLoss,
      double lastNerLoss, Map<String, Double> probesBefore, Map<String, Double> probesAfter, double seconds,
      double stepSeconds, boolean stopped) {}

  private final RunConfig c;
  private final Options o;
  private final Strategy strategy;
  private final Path out;
  private final Distributed.Env env = Distributed.Env.fromEnvironment();
  // Rank 0 (or the only process) writes files and prints; the other ranks only train.
  private final boolean lead = env.rank() == 0;

  public Pretrainer(RunConfig config, Options options) {
    this.c = config;
    this.o = options;
    this.strategy = config.strategyKind();
    this.out = Path.of(config.out);
  }

  private void log(String line) {
    if (lead) o.console().println(line);
  }

  public Result run() {
    if (o.nproc() > 1 && !env.distributed()) return LocalLauncher.run(c, o);
    if (!env.distributed()) return train(null);
    LocalLauncher.watchLauncher(env.rank());
    // One GPU per local rank, as torchrun jobs expect: "cuda" becomes cuda:LOCAL_RANK.
    if (c.device.equals("cuda")) c.device = "cuda:" + env.localRank();
    String why = Distributed.unavailable(c.device);
    if (!why.isEmpty()) throw new MtpfException("rank " + env.rank() + ": distributed training on " + c.device + ": " + why);
    try (Distributed group = Distributed.join(env, c.device)) {
      log(String.format("distributed: %d ranks (%s), global batches tc %d, ner %d: %d + %d rows per rank", group.size(),
          group.backend(), c.tc.batchSize, c.ner.batchSize, c.tc.batchSize / group.size(),
          c.ner.batchSize / group.size()));
      return train(group);
    }
  }

  private Result train(Distributed group) {
    long t0 = System.nanoTime();
    try {
      Files.createDirectories(out);
      if (lead) Files.writeString(out.resolve("run.yaml"), c.toYaml());
    } catch (IOException e) {
      throw new MtpfException(out + ": cannot create the run folder (" + e.getMessage() + ")", e);
    }
    ModelResolver models = new ModelResolver(o.modelsDir(), o.offline());
    Path student = models.resolve(c.model, this::log);
    BadLines bad = c.skipBadLines ? BadLines.skip() : BadLines.fail();
    List<PairDataset> pairs = strategy.tc ? loadPairs(models, bad) : List.of();
    PseudoLabels labels = strategy.ner ? sharedPseudoLabels(models, bad, group) : null;
    logData(pairs, labels, bad);

    try (Trainer session = Trainer.open(student, nativeConfig(labels), group)) {
      if (lead) recordEnvironment(session, group);
      TrainingData data = new TrainingData(pairs, labels == null ? null : labels.sentences(), session.tokenizer(),
          c.tc.batchSize, c.tc.maxLength, c.ner.batchSize, c.ner.maxLength, c.seed, env.rank(), env.worldSize());
      Path checkpoints = out.resolve("checkpoints");
      if (o.resume()) resume(session, checkpoints);
      InterferenceProbes probes = InterferenceProbes.forRun(probeDataDir(),
          labels == null ? fallbackProbeSentences(models) : sentencesOf(labels), c.logging.probeSentences, c.seed,
          Math.min(c.tc.maxLength, c.ner.maxLength));
      // Probes and files are rank 0's (probes run no collective, so the other ranks need not wait for them).
      Map<String, Double> before = lead ? measureProbes(probes, session) : Map.of();
      Losses losses = new Losses();
      long stoppedAt = runSteps(session, data, probes, before, checkpoints, group, losses);
      if (stoppedAt >= 0) return losses.result(out, stoppedAt, before, Map.of(), t0, true);
      Map<String, Double> after = lead ? measureProbes(probes, session) : Map.of();
      if (lead) {
        exportOutputs(session);
        Plots.write(out.resolve("metrics.jsonl"), out.resolve("plots"));
      }
      return losses.result(out, session.optimizerSteps(), before, after, t0, false);
    }
  }

  /** Pseudo-labels are computed once, by rank 0, and sent to the others. */
  private PseudoLabels sharedPseudoLabels(ModelResolver models, BadLines bad, Distributed group) {
    if (group == null) return loadPseudoLabels(models, bad);
    String json = group.broadcast(lead ? loadPseudoLabels(models, bad).toJson() : "");
    return PseudoLabels.fromJson(json, "rank 0's pseudo-labels");
  }

  private void logData(List<PairDataset> pairs, PseudoLabels labels, BadLines bad) {
    if (!bad.summary().isEmpty()) log("data: " + bad.summary());
    if (strategy.tc) {
      long total = pairs.stream().mapToLong(PairDataset::size).sum();
      log(String.format("data: %d pair datasets, %d pairs (%s)", pairs.size(), total,
          String.join(", ", pairs.stream().map(d -> d.name() + " " + d.size()).toList())));
    }
    if (labels != null) log("data: " + labels.sentences().size() + " pseudo-labelled sentences, k = " + labels.clusters());
  }

  /** The first and last losses read back during the run, for its summary. */
  private static final class Losses {
    double firstTc = Double.NaN, firstNer = Double.NaN, lastTc = Double.NaN, lastNer = Double.NaN;
    long stepNanos;

    void record(StepMetrics m) {
      if (!m.read()) return;
      if (Double.isNaN(firstTc)) firstTc = m.tcLoss();
      if (Double.isNaN(firstNer)) firstNer = m.nerLoss();
      lastTc = m.tcLoss();
      lastNer = m.nerLoss();
    }

    Result result(Path out, long steps, Map<String, Double> before, Map<String, Double> after, long t0, boolean stopped) {
      return new Result(out, steps, firstTc, lastTc, firstNer, lastNer, before, after, (System.nanoTime() - t0) / 1e9,
          stepNanos / 1e9, stopped);
    }
  }

  /**
   * The training loop from the session's step to the run's last: one native step per micro-batch, metrics and
   * probes on logged steps, checkpoints. Returns the step it stopped after on SIGTERM / Ctrl-C, else -1.
   */
  private long runSteps(Trainer session, TrainingData data, InterferenceProbes probes, Map<String, Double> before,
      Path checkpoints, Distributed group, Losses losses) {
    long accumulation = c.optimizer.accumulation;
    long firstMicro = session.microSteps(), lastMicro = c.steps * accumulation;
    if (firstMicro >= lastMicro) log("run already complete at step " + session.optimizerSteps());
    // On SIGTERM / Ctrl-C the run stops after its step with a checkpoint (the exit waits for it: NativeCalls); the
    // ranks of a job first agree on the step (stopAgreed), so that all stop after the same one.
    try (NativeCalls.Hold exitWaits = NativeCalls.hold();
        MetricsLog metrics = lead ? new MetricsLog(out.resolve("metrics.jsonl"), session.optimizerSteps()) : null;
        BatchPrefetcher batches = new BatchPrefetcher(data, strategy.tc, strategy.ner, firstMicro, lastMicro, 3)) {
      if (firstMicro == 0 && lead) metrics.write(0, prefixed(before));
      ProgressBar bar = new ProgressBar(lead ? o.console() : new PrintStream(OutputStream.nullOutputStream()),
          firstMicro / accumulation, c.steps, c.logging.progressBar && lead);
      long windowTokens = 0, windowStart = System.nanoTime();
      for (long micro = firstMicro; micro < lastMicro; micro++) {
        long stepStart = System.nanoTime();
        StepBatches b = batches.take();
        long stepAfter = micro / accumulation + 1;
        boolean logStep = micro % accumulation == accumulation - 1
            && (stepAfter % c.logging.logEvery == 0 || stepAfter == c.steps);
        // Losses come to the host (a device sync) on logged steps only, and on the first step for the summary;
        // a NaN in between is reported by the next logged step or checkpoint, naming its step.
        StepMetrics m;
        try {
          m = session.step(b.batch(), logStep, logStep || micro == firstMicro);
        } catch (MtpfException e) {
          throw new MtpfException(e.getMessage() + "; last good checkpoint: " + latest(checkpoints), e);
        }
        losses.stepNanos += System.nanoTime() - stepStart;
        windowTokens += b.tokens();
        losses.record(m);
        if (!m.optimizerStepped()) continue;
        long step = session.optimizerSteps();
        double tokensPerS = windowTokens / ((System.nanoTime() - windowStart) / 1e9);
        if (logStep && lead) {
          metrics.write(step, metricsRow(m, tokensPerS, step, probes, session));
          windowTokens = 0;
          windowStart = System.nanoTime();
        }
        bar.update(step, String.format("tc %s ner %s %.0f tok/s", fmt(losses.lastTc), fmt(losses.lastNer), tokensPerS),
            logStep);
        boolean stop = stopAgreed(group);
        if (lead && (step % c.logging.checkpointEvery == 0 || step == c.steps || stop)) {
          try {
            checkpoint(session, checkpoints, step);
          } catch (MtpfException e) {
            throw new MtpfException(e.getMessage() + "; last good checkpoint: " + latest(checkpoints), e);
          }
        }
        if (stop) {
          bar.finish();
          // Said before the hold is released: the JVM halts as soon as its exit hooks are done.
          log("stopped by the exit signal after step " + step + ": checkpoint " + checkpoints.resolve("step-" + step)
              + " written; --resume continues from it");
          return step;
        }
      }
      bar.finish();
    }
    return -1;
  }

  /** One metrics.jsonl row of a logged step; the probes too on their steps. */
  private Map<String, Double> metricsRow(StepMetrics m, double tokensPerS, long step, InterferenceProbes probes,
      Trainer session) {
    Map<String, Double> row = new LinkedHashMap<>();
    row.put("tc_loss", m.tcLoss());
    row.put("ner_loss", m.nerLoss());
    row.put("lr", m.lr());
    row.put("grad_norm", m.gradNorm());
    row.put("grad_cosine", m.gradCosine());
    row.put("tokens_per_s", tokensPerS);
    if (step % c.logging.probeEvery == 0 || step == c.steps) row.putAll(prefixed(measureProbes(probes, session)));
    return row;
  }

  /**
   * Whether the run stops after this step: the exit signal reached this process, or, in a job, any rank (each may
   * get it a moment apart; one all-reduce of a flag per step, so that all stop after the same step and rank 0's
   * checkpoint is of it).
   */
  private static boolean stopAgreed(Distributed group) {
    boolean here = NativeCalls.stopRequested();
    if (group == null) return here;
    double[] votes = {here ? 1 : 0};
    group.allReduceSum(votes);
    return votes[0] > 0;
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "-" : String.format("%.3f", v);
  }

  // ---- data ----

  private List<PairDataset> loadPairs(ModelResolver models, BadLines bad) {
    List<PairDataset> out = new ArrayList<>();
    if (!c.tc.datasets.isEmpty()) {
      for (String d : c.tc.datasets) {
        Path p = Path.of(d);
        out.addAll(Files.isDirectory(p) ? PairReaders.readFolder(p, bad) : PairReaders.read(p, io.mtpf.data.DataFiles.baseName(p), bad));
      }
    } else if (!c.data.isEmpty()) {
      out.addAll(PairReaders.readFolder(Path.of(c.data), bad));
    } else {
      log("data: no data folder given: WordNet 3.1 from Maven Central (" + WordNetJar.ARTIFACT + ")");
      out.addAll(WordNetSynset.pairDatasets("wordnet31", WordNetJar.load(models.maven())));
    }
    out.removeIf(d -> d.size() < 2);
    if (out.isEmpty()) throw new MtpfException("no pair data for the TC objective");
    return out;
  }

  private PseudoLabels loadPseudoLabels(ModelResolver models, BadLines bad) {
    if (!c.ner.pseudoLabels.isEmpty()) {
      PseudoLabels l = PseudoLabels.read(Path.of(c.ner.pseudoLabels));
      log("pseudo-labels: " + c.ner.pseudoLabels + " (" + l.sentences().size() + " sentences, k = " + l.clusters() + ")");
      return l;
    }
    Path teacher = models.resolve(c.ner.teacher, this::log);
    List<List<String>> corpus = WordCorpus.forPretraining(c.ner.corpus, c.data, c.ner.maxSentences, c.seed,
        models.maven(), bad);
    var settings = new PseudoLabeler.Settings(teacher, c.ner.teacherLayers, c.ner.clusters, c.seed, c.ner.maxLength,
        c.device, 1024, 100);
    return PseudoLabeler.labelCached(settings, corpus, out.resolve("pseudo-labels"), this::log);
  }

  /** The data folder for the entity-swap probe: the run's, else ../shared/data when it is there. */
  private Path probeDataDir() {
    if (!c.data.isEmpty()) return Path.of(c.data);
    Path shared = Path.of("..", "shared", "data");
    return Files.isDirectory(shared) ? shared : null;
  }

  private static List<List<String>> sentencesOf(PseudoLabels labels) {
    List<List<String>> out = new ArrayList<>();
    for (PseudoLabels.Sentence s : labels.sentences()) out.add(s.words());
    return out;
  }

  private List<List<String>> fallbackProbeSentences(ModelResolver models) {
    List<List<String>> out = new ArrayList<>();
    if (!c.data.isEmpty()) {
      for (Path p : WordCorpus.conllTrainFiles(Path.of(c.data))) {
        out.addAll(WordCorpus.read(p, "conll", BadLines.skip()));
        if (out.size() > 1000) break;
      }
    }
    if (out.isEmpty())
      for (String s : WordNetSynset.exampleSentences(WordNetJar.load(models.maven()))) {
        out.add(WordCorpus.splitWords(s));
        if (out.size() > 1000) break;
      }
    return out;
  }

  // ---- native config, probes, checkpoints, outputs ----

  /** The run config's training fields in the native trainer's config (the same sections and keys). */
  private TrainerConfig nativeConfig(PseudoLabels labels) {
    TrainerConfig t = TrainerConfig.of(strategy.key);
    t.pcgrad = c.pcgrad;
    t.seed = c.seed;
    t.device = c.device;
    t.precision = c.precision;
    if (c.dropout != null) t.dropout = c.dropout;
    t.tc.weight = c.tc.weight;
    t.tc.temperature = c.tc.temperature;
    t.tc.chunkSize = c.tc.chunkSize;
    t.ner.weight = c.ner.weight;
    t.ner.classes = labels == null ? 2 : labels.clusters();
    t.lora.r = c.lora.r;
    t.lora.alpha = c.lora.alpha;
    t.lora.dropout = c.lora.dropout;
    t.lora.useRslora = c.lora.useRslora;
    t.lora.lastLayers = c.lora.lastLayers;
    t.lora.targets = c.lora.targets;
    t.optimizer.lr = c.optimizer.lr;
    t.optimizer.weightDecay = c.optimizer.weightDecay;
    t.optimizer.beta1 = c.optimizer.beta1;
    t.optimizer.beta2 = c.optimizer.beta2;
    t.optimizer.eps = c.optimizer.eps;
    t.optimizer.clipNorm = c.optimizer.clipNorm;
    t.optimizer.warmupSteps = c.optimizer.warmupSteps;
    t.optimizer.totalSteps = c.steps;
    t.optimizer.schedule = c.optimizer.schedule;
    t.optimizer.accumulation = c.optimizer.accumulation;
    return t;
  }

  private Map<String, Double> measureProbes(InterferenceProbes probes, Trainer session) {
    Map<String, Double> m = new LinkedHashMap<>(probes.measure(session, ""));
    if (strategy.loras) {
      if (strategy.tc) probes.measure(session, "tc").forEach((k, v) -> m.put("tc_" + k, v));
      if (strategy.ner) probes.measure(session, "ner").forEach((k, v) -> m.put("ner_" + k, v));
    }
    return m;
  }

  private static Map<String, Double> prefixed(Map<String, Double> probes) {
    Map<String, Double> out = new LinkedHashMap<>();
    probes.forEach((k, v) -> out.put("probe_" + k, v));
    return out;
  }

  private void checkpoint(Trainer session, Path checkpoints, long step) {
    Path dir = checkpoints.resolve("step-" + step);
    ObjectNode extra = JSON.createObjectNode();
    extra.put("step", step);
    extra.put("config_sha", Integer.toHexString(c.toYaml().hashCode()));
    session.saveCheckpoint(dir, extra.toString());
    try {
      Path tmp = checkpoints.resolve("latest.tmp");
      Files.writeString(tmp, dir.getFileName().toString());
      Files.move(tmp, checkpoints.resolve("latest"), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      // Keep the two newest checkpoints.
      try (var s = Files.list(checkpoints)) {
        List<Path> old = s.filter(p -> p.getFileName().toString().matches("step-\\d+"))
            .sorted((a, b) -> Long.compare(stepOf(b), stepOf(a))).skip(2).toList();
        for (Path p : old) PseudoLabels.deleteTree(p);
      }
    } catch (IOException e) {
      throw new MtpfException(checkpoints + ": cannot update the checkpoint pointer (" + e.getMessage() + ")", e);
    }
  }

  /** What ran, beside run.yaml (which keeps what was asked): the precision with "auto" resolved, libtorch, threads. */
  private void recordEnvironment(Trainer session, Distributed group) {
    String precision = session.precision();
    log("precision: " + precision + ("auto".equals(c.precision) ? " (auto: " + ("bf16".equals(precision)
        ? "the device has bf16 matrix units)" : "no bf16 matrix units on this device)") : ""));
    ObjectNode env = JSON.createObjectNode();
    env.put("precision", precision);
    env.put("precision_requested", c.precision);
    env.put("device", c.device);
    env.put("libtorch", NativeCore.torchVersion());
    env.put("threads", NativeCore.threads());
    env.put("world_size", group == null ? 1 : group.size());
    if (group != null) env.put("backend", group.backend());
    AtomicFiles.write(out.resolve("run-env.json"), "the run environment",
        tmp -> Files.writeString(tmp, env.toPrettyString() + "\n"));
  }

  private static long stepOf(Path p) {
    return Long.parseLong(p.getFileName().toString().substring("step-".length()));
  }

  private static String latest(Path checkpoints) {
    try {
      Path l = checkpoints.resolve("latest");
      return Files.exists(l) ? checkpoints.resolve(Files.readString(l).strip()).toString() : "none yet";
    } catch (IOException e) {
      return "unreadable (" + e.getMessage() + ")";
    }
  }

  private void resume(Trainer session, Path checkpoints) {
    Path pointer = checkpoints.resolve("latest");
    if (!Files.exists(pointer)) {
      log("resume: no checkpoint in " + checkpoints + "; starting from step 0");
      return;
    }
    try {
      Path dir = checkpoints.resolve(Files.readString(pointer).strip());
      session.loadCheckpoint(dir);
      log("resume: continuing from " + dir + " (step " + session.optimizerSteps() + ")");
    } catch (IOException e) {
      throw new MtpfException(pointer + ": unreadable (" + e.getMessage() + ")", e);
    }
  }

  private void exportOutputs(Trainer session) {
    session.exportBackbone(out.resolve("backbone"));
    if (strategy.loras) {
      if (strategy.tc) session.exportAdapter("tc", out.resolve("adapters/tc"));
      if (strategy.ner) session.exportAdapter("ner", out.resolve("adapters/ner"));
    } else if (strategy.ner) {
      session.exportHead("ner", out.resolve("heads/ner"));
    }
    log("outputs: " + out.resolve("backbone") + (strategy.loras ? ", " + out.resolve("adapters") : "")
        + ", " + out.resolve("metrics.jsonl") + ", " + out.resolve("plots"));
  }
}
