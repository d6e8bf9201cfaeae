package io.mtpf.eval;

import io.mtpf.MtpfException;
import io.mtpf.NativeCore;
import io.mtpf.data.BadLines;
import io.mtpf.data.NerDataset;
import io.mtpf.data.TextClassificationDataset;
import io.mtpf.eval.DownstreamDatasets.Family;
import io.mtpf.eval.DownstreamDatasets.Resolved;
import io.mtpf.eval.EvalResults.DatasetResult;
import io.mtpf.eval.EvalResults.Run;
import io.mtpf.formats.PeftConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * One evaluation run ({@code mtpf evaluate}): every dataset of a suite (and the user's own) that is present, NER by
 * {@link NerAdaptation} (the ner adapter seeding the LoRA layers it covers) for each seed and train fraction,
 * classification by {@link MtebClassification} on embeddings of the backbone with the tc adapter active and fixed.
 * Absent datasets are kept in the results with the reason. RUN/results.json is rewritten after each dataset and
 * each NER adaptation, so an interrupted run keeps what it finished, and {@code resume} continues it: the datasets
 * and adaptations in RUN/results.json of the same configuration, model and adapters are kept, not run again.
 */
public final class Evaluation {
  private Evaluation() {}

  /**
   * What to run. {@code task}: "all", "ner" or "tc"; {@code only}: registry names to keep (empty: the suite's);
   * {@code seeds}: the NER seeds; {@code fractions}: NER train fractions in (0, 1]; {@code nerLr} null: the
   * suite's; {@code cacheDir} null:
   * RUN/cache; {@code threads} 0: libtorch's default.
   */
  public record Request(Path model, Path nerAdapter, Path tcAdapter, EvalSuite suite, String task, Path data,
                        List<Resolved> userDatasets, List<String> only, Path out, Path cacheDir,
                        SentenceEmbedder.Options embedding, List<Long> seeds, List<Double> fractions, Double nerLr,
                        int threads, String label, boolean skipBadLines, boolean resume) {
    public Request {
      userDatasets = List.copyOf(userDatasets);
      only = List.copyOf(only);
      seeds = List.copyOf(seeds);
      fractions = List.copyOf(fractions);
      if (!List.of("all", "ner", "tc").contains(task))
        throw new MtpfException("--task must be all, ner or tc, got '" + task + "'");
      if (seeds.isEmpty()) throw new MtpfException("--seeds must be at least 1");
      for (double f : fractions)
        if (!(f > 0 && f <= 1)) throw new MtpfException("--fractions: " + f + " is not in (0, 1]");
      if (fractions.isEmpty()) throw new MtpfException("--fractions is empty");
    }

    boolean runs(Family f) {
      return task.equals("all") || task.equals(f.label());
    }
  }

  /** The datasets a request covers, in suite order (NER, then classification, then the user's). */
  public static List<Resolved> select(Request r) {
    for (String name : r.only()) {
      if (DownstreamDatasets.byName(name).isEmpty())
        throw new MtpfException("--only " + name + ": not a dataset of the registry ("
            + String.join(", ", DownstreamDatasets.ALL.stream().map(DownstreamDatasets.Dataset::name).toList()) + ")");
    }
    List<Resolved> out = new ArrayList<>();
    for (Family family : Family.values()) {
      if (!r.runs(family)) continue;
      List<String> names = family == Family.NER ? r.suite().ner() : r.suite().tc();
      List<DownstreamDatasets.Dataset> chosen = new ArrayList<>();
      if (r.only().isEmpty()) {
        for (String n : names) chosen.add(DownstreamDatasets.byName(n).orElseThrow());
      } else {
        for (DownstreamDatasets.Dataset d : DownstreamDatasets.of(family))
          if (r.only().stream().anyMatch(d::matches)) chosen.add(d);
      }
      for (DownstreamDatasets.Dataset d : chosen) out.add(DownstreamDatasets.resolve(d, r.data()));
    }
    for (Resolved u : r.userDatasets()) if (r.runs(u.dataset().family())) out.add(u);
    return out;
  }

  public static EvalResults run(Request r, Consumer<String> log) {
    long started = System.nanoTime();
    if (r.threads() > 0) NativeCore.setThreads(r.threads());
    if (r.nerAdapter() != null) checkNerAdapter(r.nerAdapter(), NerAdaptation.Settings.paper());
    String modelSha = ModelFingerprint.sha256(r.model());
    EvalResults.Artifact model = new EvalResults.Artifact(r.model().toString(), modelSha, null);
    Map<String, EvalResults.Artifact> adapters = new LinkedHashMap<>();
    Integer loraLayers = null;
    Map<String, Path> given = new LinkedHashMap<>();
    if (r.nerAdapter() != null) given.put("ner", r.nerAdapter());
    if (r.tcAdapter() != null) given.put("tc", r.tcAdapter());
    for (var e : given.entrySet()) {
      int layers = ModelFingerprint.loraLayers(e.getValue()).size();
      adapters.put(e.getKey(), new EvalResults.Artifact(e.getValue().toString(), ModelFingerprint.sha256(e.getValue()),
          layers));
      if (loraLayers == null) loraLayers = layers;
    }
    Path cacheDir = r.cacheDir() != null ? r.cacheDir() : r.out().resolve("cache");
    NerAdaptation.Settings ner = NerAdaptation.Settings.paper()
        .withEpochs(r.suite().headEpochs(), r.suite().jointEpochs(), r.suite().nerRoundSentences());
    ner = new NerAdaptation.Settings(ner.headEpochs(), ner.jointEpochs(), ner.roundSentences(), r.suite().nerBatchSize(),
        r.nerLr() != null ? r.nerLr() : r.suite().nerLr(), ner.weightDecay(),
        ner.r(), ner.alpha(), ner.maxLength(), ner.seed(), r.embedding().device());
    EvalSuite s = r.suite();
    EvalResults.Config config = new EvalResults.Config(
        r.label() != null ? r.label() : String.valueOf(r.out().toAbsolutePath().getFileName()), s.name(), r.task(),
        r.data() == null ? null : r.data().toString(), r.embedding().pooling(), r.embedding().prefix(),
        r.embedding().normalize(), r.embedding().maxLength(), r.embedding().device(), NativeCore.threads(), r.seeds(),
        r.fractions(),
        new EvalResults.NerProtocol(ner.headEpochs(), ner.jointEpochs(), ner.roundSentences(), ner.batchSize(), ner.lr(), ner.weightDecay(),
            ner.r(), ner.alpha(), ner.maxLength(), s.nerTrainLimit(), s.nerDevLimit(), s.nerTestLimit()),
        new EvalResults.TcProtocol(MtebTasks.MTEB_VERSION, MtebClassification.EXPERIMENTS, MtebClassification.SEED,
            MtebClassification.C, MtebClassification.MAX_ITER, s.tcTestLimit()),
        loraLayers, cacheDir.toString());
    String createdAt = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();

    List<Resolved> datasets = select(r);
    Map<String, DatasetResult> earlier = r.resume() ? earlierResults(r.out(), config, model, adapters, log) : Map.of();
    List<DatasetResult> results = new ArrayList<>();
    for (Resolved d : datasets) results.add(pending(d, d.present() ? "pending" : d.status()));
    double[] familySeconds = new double[2];
    SentenceEmbedder embedder = null;
    EmbeddingCache cache = new EmbeddingCache(cacheDir);
    try {
      for (int i = 0; i < datasets.size(); i++) {
        Resolved d = datasets.get(i);
        if (!d.present()) {
          log.accept("evaluate: " + d.dataset().name() + " " + d.status());
          continue;
        }
        DatasetResult before = earlier.get(d.dataset().name());
        if (before != null && before.ok()) {
          log.accept("evaluate: " + d.dataset().name() + ": done in " + r.out().resolve("results.json") + ", kept");
          results.set(i, before);
          continue;
        }
        long t0 = System.nanoTime();
        DatasetResult result;
        try {
          if (d.dataset().family() == Family.NER) {
            final int at = i;
            result = runNer(r, d, ner, before == null ? List.of() : before.runs(), partial -> {
              results.set(at, partial);
              write(r, config, model, adapters, results, createdAt, started, familySeconds);
            }, log);
          } else {
            if (embedder == null) embedder = SentenceEmbedder.open(r.model(), r.tcAdapter(), r.embedding());
            String adapterSha = adapters.containsKey("tc") ? adapters.get("tc").sha256() : null;
            result = runTc(r, d, embedder, cache, modelSha, adapterSha, log);
          }
        } catch (MtpfException e) {
          log.accept("evaluate: " + d.dataset().name() + " failed: " + e.getMessage());
          result = pending(d, "failed: " + e.getMessage());
        }
        familySeconds[d.dataset().family().ordinal()] += (System.nanoTime() - t0) / 1e9;
        results.set(i, result);
        write(r, config, model, adapters, results, createdAt, started, familySeconds);
      }
    } finally {
      if (embedder != null) embedder.close();
    }
    return write(r, config, model, adapters, results, createdAt, started, familySeconds);
  }

  private static EvalResults write(Request r, EvalResults.Config config, EvalResults.Artifact model,
                                   Map<String, EvalResults.Artifact> adapters, List<DatasetResult> results,
                                   String createdAt, long started, double[] familySeconds) {
    EvalResults out = new EvalResults(EvalResults.FORMAT, version(), createdAt, config, model, adapters, results,
        new EvalResults.Timing((System.nanoTime() - started) / 1e9, familySeconds[0], familySeconds[1]));
    out.write(r.out().resolve("results.json"));
    return out;
  }

  private static DatasetResult pending(Resolved d, String status) {
    return new DatasetResult(d.dataset().name(), d.dataset().abbreviation(), d.dataset().family().label(), d.source(),
        status, d.files(), protocol(d.dataset()), null, List.of());
  }

  private static String protocol(DownstreamDatasets.Dataset d) {
    if (d.family() == Family.NER)
      return "LoRA r32/alpha64 on query, key, MLP; head warm-up then LoRA + head; "
          + (d.devAlternatives().isEmpty() ? "last epoch" : "epoch by dev F1 (last epoch when no dev file)");
    MtebTasks.Task t = d.task();
    return "MTEB logistic regression, " + t.experiments() + " experiments, " + t.samplesPerLabel() + " per label"
        + (t.trainSubsample() > 0 ? ", train subsampled to " + t.trainSubsample() : "")
        + (t.testSubsample() > 0 && t.subsampleLocalTest() ? ", test subsampled to " + t.testSubsample() : "");
  }

  // ---- NER ----

  /** A ner adapter seeds the adaptation's LoRA, so its rank and alpha must be the adaptation's (App. A: 32, 64). */
  static void checkNerAdapter(Path dir, NerAdaptation.Settings s) {
    PeftConfig config = PeftConfig.read(dir);
    int r = config.r();
    double alpha = config.loraAlpha();
    if (r != s.r() || alpha != s.alpha())
      throw new MtpfException("--adapter ner=" + dir + ": LoRA r " + r + ", alpha " + alpha + ", but NER adaptation "
          + "uses r " + s.r() + ", alpha " + s.alpha() + " (paper App. A); the adapter cannot seed it");
  }

  /**
   * The datasets of RUN/results.json when it was written with this configuration, model and adapters (by name);
   * none, said in the log, when it was not.
   */
  static Map<String, DatasetResult> earlierResults(Path out, EvalResults.Config config, EvalResults.Artifact model,
      Map<String, EvalResults.Artifact> adapters, Consumer<String> log) {
    Path file = out.resolve("results.json");
    if (!Files.isRegularFile(file)) return Map.of();
    EvalResults before = EvalResults.read(file);
    if (!config.equals(before.config()) || !model.sha256().equals(before.model().sha256())
        || !shas(adapters).equals(shas(before.adapters()))) {
      log.accept("evaluate: " + file + " is of another configuration, model or adapter: starting afresh");
      return Map.of();
    }
    Map<String, DatasetResult> kept = new LinkedHashMap<>();
    for (DatasetResult d : before.datasets()) kept.put(d.name(), d);
    return kept;
  }

  private static Map<String, String> shas(Map<String, EvalResults.Artifact> adapters) {
    Map<String, String> out = new LinkedHashMap<>();
    if (adapters != null) adapters.forEach((k, v) -> out.put(k, v.sha256()));
    return out;
  }

  /**
   * Every (fraction, seed) adaptation of one NER dataset; those in {@code done} (a resumed run's) are kept, and
   * {@code progress} receives the dataset's result so far after each new one.
   */
  private static DatasetResult runNer(Request r, Resolved d, NerAdaptation.Settings base, List<Run> done,
      Consumer<DatasetResult> progress, Consumer<String> log) {
    BadLines bad = r.skipBadLines() ? BadLines.skip() : BadLines.fail();
    NerDataset train = d.readNerTrain(bad);
    NerDataset dev = d.dev().isEmpty() ? null : d.readNer(d.dev(), train.labels(), bad);
    NerDataset test = d.readNer(d.test(), train.labels(), bad);
    EvalSuite s = r.suite();
    train = cap(train, s.nerTrainLimit(), 42);
    if (dev != null) dev = cap(dev, s.nerDevLimit(), 42);
    test = cap(test, s.nerTestLimit(), 42);
    String labels = train.labels().size() + " tags, " + (train.labels().size() - 1) / 2 + " entity types";
    List<Run> runs = new ArrayList<>();
    for (double fraction : r.fractions()) {
      for (long seed : r.seeds()) {
        Run earlier = done.stream().filter(x -> x.seed() == seed && x.fraction() == fraction).findFirst().orElse(null);
        if (earlier != null) {
          log.accept(String.format(Locale.ROOT, "evaluate: %s seed %d fraction %s: test F1 %.4f, kept from the "
              + "earlier run", d.dataset().name(), seed, fraction, earlier.main()));
          runs.add(earlier);
          continue;
        }
        NerDataset part = fraction < 1 ? subsample(train, fraction, seed) : train;
        log.accept(String.format(Locale.ROOT, "evaluate: %s seed %d fraction %s (%d train sentences)",
            d.dataset().name(), seed, fraction, part.size()));
        long t0 = System.nanoTime();
        NerAdaptation.Result res = NerAdaptation.run(r.model(), r.nerAdapter(), part, dev, test, base.withSeed(seed),
            null, log);
        double seconds = (System.nanoTime() - t0) / 1e9;
        runs.add(nerRun(res, seed, fraction, part.size(), dev, test.size(), seconds));
        log.accept(String.format(Locale.ROOT, "evaluate: %s seed %d fraction %s: test F1 %.4f (epoch %d, %.0f s)",
            d.dataset().name(), seed, fraction, res.test().f1(), res.selectedEpoch(), seconds));
        progress.accept(new DatasetResult(d.dataset().name(), d.dataset().abbreviation(), "ner", d.source(),
            "running", d.files(), protocol(d.dataset()), labels, runs));
      }
    }
    return new DatasetResult(d.dataset().name(), d.dataset().abbreviation(), "ner", d.source(), "ok", d.files(),
        protocol(d.dataset()), labels, runs);
  }

  private static Run nerRun(NerAdaptation.Result res, long seed, double fraction, int trainSize, NerDataset dev,
                            int testSize, double seconds) {
    Map<String, EvalResults.TypeScores> byType = new LinkedHashMap<>();
    res.test().byType().forEach((type, sc) ->
        byType.put(type, new EvalResults.TypeScores(sc.precision(), sc.recall(), sc.f1(), sc.support())));
    List<EvalResults.EpochStat> epochs = new ArrayList<>();
    double trainSeconds = 0;
    long sentences = 0;
    for (NerAdaptation.Epoch e : res.history()) {
      epochs.add(new EvalResults.EpochStat(e.epoch(), e.stage(), e.loss(), EvalResults.finite(e.devF1()),
          e.trainSeconds(), e.sentencesPerSecond()));
      trainSeconds += e.trainSeconds();
      sentences += e.sentences();
    }
    var micro = res.test().micro();
    EvalResults.Ner ner = new EvalResults.Ner(micro.precision(), micro.recall(), micro.f1(), byType,
        res.selectedEpoch(), EvalResults.finite(res.devF1()), epochs, trainSeconds > 0 ? sentences / trainSeconds : 0);
    return new Run(seed, fraction, trainSize, dev == null ? null : dev.size(), testSize, micro.f1(), ner, null, seconds);
  }

  /**
   * A seeded sample of a fraction of the sentences (at least one): java.util.Random(seed) shuffles, the first
   * round(n * fraction) are kept; the same sample as {@code mtpf adapt-ner --fraction}.
   */
  public static NerDataset subsample(NerDataset d, double fraction, long seed) {
    List<NerDataset.Sentence> s = new ArrayList<>(d.sentences());
    Collections.shuffle(s, new Random(seed));
    int n = Math.max(1, (int) Math.round(s.size() * fraction));
    return new NerDataset(d.name() + "@" + fraction, s.subList(0, n), d.labels(), d.sourceScheme());
  }

  /** At most {@code limit} sentences (0 = all), a seeded sample in file order. */
  static NerDataset cap(NerDataset d, int limit, long seed) {
    if (limit <= 0 || d.size() <= limit) return d;
    List<Integer> idx = new ArrayList<>();
    for (int i = 0; i < d.size(); i++) idx.add(i);
    Collections.shuffle(idx, new Random(seed));
    List<Integer> kept = new ArrayList<>(idx.subList(0, limit));
    Collections.sort(kept);
    List<NerDataset.Sentence> s = new ArrayList<>(limit);
    for (int i : kept) s.add(d.sentences().get(i));
    return new NerDataset(d.name(), s, d.labels(), d.sourceScheme());
  }

  // ---- classification ----

  private static DatasetResult runTc(Request r, Resolved d, SentenceEmbedder embedder, EmbeddingCache cache,
                                     String modelSha, String adapterSha, Consumer<String> log) {
    BadLines bad = r.skipBadLines() ? BadLines.skip() : BadLines.fail();
    MtebTasks.Task task = d.dataset().task();
    TextClassificationDataset train = d.readTc(d.train(), null, bad);
    TextClassificationDataset test = d.readTc(d.test(), train.labelMap(), bad);
    int[] trainRows = all(train.size());
    if (task.trainSubsample() > 0) trainRows = stratifiedSubsample(train.labelIds(), task.trainSubsample(), 42);
    int[] testRows = all(test.size());
    if (task.testSubsample() > 0 && task.subsampleLocalTest())
      testRows = stratifiedSubsample(test.labelIds(), task.testSubsample(), 42);
    if (r.suite().tcTestLimit() > 0) testRows = pick(testRows, stratifiedSubsample(pickLabels(test, testRows),
        r.suite().tcTestLimit(), 42));
    int[] trainLabels = pickLabels(train, trainRows);
    int[] testLabels = pickLabels(test, testRows);

    // Only the rows some experiment draws need an embedding: the protocol's draws depend on the labels alone.
    int[][] kept = MtebClassification.undersample(trainLabels, task.samplesPerLabel(), task.experiments(),
        MtebClassification.SEED);
    TreeSet<Integer> needed = new TreeSet<>();
    for (int[] k : kept) for (int i : k) needed.add(i);
    int[] neededRows = new int[needed.size()];
    int n = 0;
    for (int i : needed) neededRows[n++] = trainRows[i];

    var trainEmb = lookup(cache, d.train().get(0), neededRows, train, embedder, modelSha, adapterSha, r);
    var testEmb = lookup(cache, d.test().get(0), testRows, test, embedder, modelSha, adapterSha, r);
    int dim = testEmb.vectors()[0].length;
    float[] unused = new float[dim];  // rows no experiment draws are never read
    float[][] x = new float[trainRows.length][];
    Arrays.fill(x, unused);
    n = 0;
    for (int i : needed) x[i] = trainEmb.vectors()[n++];

    long t0 = System.nanoTime();
    ClassificationScores sc = MtebClassification.evaluate(x, trainLabels, testEmb.vectors(), testLabels,
        task.samplesPerLabel(), task.experiments(), MtebClassification.SEED);
    double lrSeconds = (System.nanoTime() - t0) / 1e9;
    int embedded = trainEmb.computed() + testEmb.computed();
    double embedSeconds = trainEmb.computeSeconds() + testEmb.computeSeconds();
    int unconverged = (int) sc.experiments().stream().filter(e -> !e.converged()).count();
    EvalResults.Tc tc = new EvalResults.Tc(sc.accuracy(), sc.accuracyStd(), sc.f1(), sc.f1Std(),
        EvalResults.finite(sc.ap()), EvalResults.finite(sc.apStd()), task.samplesPerLabel(), task.experiments(),
        unconverged, embedded, trainEmb.cached() + testEmb.cached(), embedSeconds,
        embedSeconds > 0 ? embedded / embedSeconds : 0, lrSeconds);
    log.accept(String.format(Locale.ROOT,
        "evaluate: %s accuracy %.4f, macro F1 %.4f%s (%d rows embedded in %.1f s, %d cached; LR %.1f s)",
        d.dataset().name(), sc.accuracy(), sc.f1(), sc.binary() ? String.format(Locale.ROOT, ", AP %.4f", sc.ap()) : "",
        embedded, embedSeconds, tc.cachedRows(), lrSeconds));
    Run run = new Run(MtebClassification.SEED, 1.0, trainRows.length, null, testRows.length, sc.accuracy(), null, tc,
        embedSeconds + lrSeconds);
    return new DatasetResult(d.dataset().name(), d.dataset().abbreviation(), "tc", d.source(), "ok", d.files(),
        protocol(d.dataset()) + (r.suite().tcTestLimit() > 0 ? ", test capped at " + r.suite().tcTestLimit() : ""),
        train.labelMap().size() + " labels", List.of(run));
  }

  private static EmbeddingCache.Lookup lookup(EmbeddingCache cache, Path file, int[] rows,
                                              TextClassificationDataset data, SentenceEmbedder embedder,
                                              String modelSha, String adapterSha, Request r) {
    String key = EmbeddingCache.key(modelSha, adapterSha, r.embedding(), embedder.maxLength(),
        EmbeddingCache.sha256(file));
    return cache.get(key, rows, data::text, embedder::embed);
  }

  private static int[] all(int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) a[i] = i;
    return a;
  }

  private static int[] pick(int[] rows, int[] positions) {
    int[] out = new int[positions.length];
    for (int i = 0; i < out.length; i++) out[i] = rows[positions[i]];
    return out;
  }

  private static int[] pickLabels(TextClassificationDataset d, int[] rows) {
    int[] out = new int[rows.length];
    for (int i = 0; i < rows.length; i++) out[i] = d.labelId(rows[i]);
    return out;
  }

  /**
   * A stratified sample of n row positions (ascending): each label keeps round-down of its share, the remaining
   * places go to the largest remainders (ties: lower label), rows drawn by numpy's RandomState(seed) permutation.
   * MTEB's stratified_subsampling calls HF datasets' train_test_split, whose rows this does not reproduce.
   */
  public static int[] stratifiedSubsample(int[] labels, int n, long seed) {
    if (n >= labels.length) return all(labels.length);
    int k = Arrays.stream(labels).max().orElse(-1) + 1;
    int[] count = new int[k];
    for (int l : labels) count[l]++;
    int[] quota = new int[k];
    double[] rest = new double[k];
    int given = 0;
    for (int l = 0; l < k; l++) {
      double share = (double) count[l] * n / labels.length;
      quota[l] = (int) Math.floor(share);
      rest[l] = share - quota[l];
      given += quota[l];
    }
    Integer[] byRest = new Integer[k];
    for (int l = 0; l < k; l++) byRest[l] = l;
    Arrays.sort(byRest, (a, b) -> rest[a] != rest[b] ? Double.compare(rest[b], rest[a]) : Integer.compare(a, b));
    for (int i = 0; given < n; i = (i + 1) % k) {
      if (quota[byRest[i]] < count[byRest[i]]) {
        quota[byRest[i]]++;
        given++;
      }
    }
    int[] perm = new MtebClassification.NumpyRandomState(seed).permutation(labels.length);
    int[] out = new int[n];
    int m = 0;
    for (int i : perm) if (quota[labels[i]]-- > 0) out[m++] = i;
    Arrays.sort(out);
    return out;
  }

  /**
   * The running mtpf's version: the jar manifest's, else the Maven build's (pom.properties in the jar), else "dev"
   * (run from classes).
   */
  public static String version() {
    String v = Evaluation.class.getPackage().getImplementationVersion();
    if (v != null) return v;
    try (var in = Evaluation.class.getResourceAsStream("/META-INF/maven/io.mtpf/mtpf-trainer/pom.properties")) {
      if (in != null) {
        java.util.Properties p = new java.util.Properties();
        p.load(in);
        if (p.getProperty("version") != null) return p.getProperty("version");
      }
    } catch (java.io.IOException e) {
      // fall through: unknown
    }
    return "dev";
  }
}
