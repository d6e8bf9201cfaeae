package io.mtpf.eval;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mtpf.MtpfException;
import io.mtpf.files.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What {@code mtpf evaluate} writes to RUN/results.json and {@code mtpf report} reads: the configuration, the model
 * and adapter hashes, and per dataset its status and one entry per (seed, data fraction) with its scores and
 * timings. Scores are fractions in [0, 1] (tables print them x 100). Missing numbers are null, never NaN. Field
 * names are snake_case in the file.
 *
 * @param format {@link #FORMAT}
 * @param mtpfVersion the version of the mtpf that wrote the file
 * @param datasets every dataset of the suite, present or not, in suite order
 */
public record EvalResults(String format, String mtpfVersion, String created, Config config, Artifact model,
                          Map<String, Artifact> adapters, List<DatasetResult> datasets, Timing timing) {
  public static final String FORMAT = "mtpf-eval-results/1";

  public EvalResults {
    adapters = adapters == null ? Map.of() : Map.copyOf(adapters);
    datasets = datasets == null ? List.of() : List.copyOf(datasets);
  }

  /**
   * How the run was made. {@code loraLayers}: the number of transformer layers the task-primary adapters cover
   * (null without adapters), the x axis of the paper's Fig. 4.
   */
  public record Config(String label, String suite, String task, String data, String pooling, String prefix,
                       boolean normalize, int maxLength, String device, int threads, List<Long> seeds,
                       List<Double> fractions, NerProtocol ner, TcProtocol tc, Integer loraLayers, String cacheDir) {}

  /**
   * The NER protocol as run; limits cap a split's sentences (0 = all), drawn with a seeded shuffle; roundSentences:
   * 0, an epoch is a pass over the train split, else that many sentences.
   */
  public record NerProtocol(int headEpochs, int jointEpochs, int roundSentences, int batchSize, double lr, double weightDecay, int loraR,
                            double loraAlpha, int maxLength, int trainLimit, int devLimit, int testLimit) {}

  /** The classification protocol as run (MTEB's logistic regression); testLimit caps test rows (0 = all). */
  public record TcProtocol(String mtebVersion, int experiments, long seed, double c, int maxIter, int testLimit) {}

  /** A model or adapter folder: its path and the sha256 of its safetensors weights. */
  public record Artifact(String path, String sha256, Integer loraLayers) {}

  /**
   * One dataset. {@code status} is "ok", "absent: reason" or "failed: reason"; {@code runs} is empty unless ok.
   * {@code protocol} names the settings it ran with (samples per label, subsampling, epoch selection).
   */
  public record DatasetResult(String name, String abbreviation, String family, String source, String status,
                              Map<String, List<String>> files, String protocol, String labels, List<Run> runs) {
    public DatasetResult {
      files = files == null ? Map.of() : files;
      runs = runs == null ? List.of() : List.copyOf(runs);
    }

    public boolean ok() {
      return "ok".equals(status);
    }

    /** Runs at one data fraction. */
    public List<Run> at(double fraction) {
      List<Run> out = new ArrayList<>();
      for (Run r : runs) if (Math.abs(r.fraction() - fraction) < 1e-9) out.add(r);
      return out;
    }
  }

  /**
   * One adaptation (NER: one seed at one train fraction) or one protocol run (classification: MTEB's 10
   * experiments, seed 42). {@code main} is the paper's number: entity micro F1, or accuracy.
   */
  public record Run(long seed, double fraction, int trainSize, Integer devSize, int testSize, double main,
                    Ner ner, Tc tc, double seconds) {}

  /** NER scores of the selected epoch, per entity type too, and the adaptation's throughput. */
  public record Ner(double precision, double recall, double f1, Map<String, TypeScores> byType, int selectedEpoch,
                    Double devF1, List<EpochStat> epochs, double trainSentencesPerSecond) {}

  public record TypeScores(double precision, double recall, double f1, int support) {}

  /** One epoch: stage (1 head, 2 LoRA + head), loss, dev F1, and training throughput (dev scoring excluded). */
  public record EpochStat(int epoch, int stage, double loss, Double devF1, double trainSeconds,
                          double sentencesPerSecond) {}

  /**
   * Classification scores (means and standard deviations over the experiments; ap null unless binary), the
   * embedding work (rows embedded now, rows from the cache) and the logistic-regression time of all experiments.
   */
  public record Tc(double accuracy, double accuracyStd, double f1, double f1Std, Double ap, Double apStd,
                   int samplesPerLabel, int experiments, int unconverged, int embeddedRows, int cachedRows,
                   double embedSeconds, double embeddingsPerSecond, double lrSeconds) {}

  public record Timing(double totalSeconds, double nerSeconds, double tcSeconds) {}

  /** The dataset by name, if the run has it. */
  public DatasetResult dataset(String name) {
    for (DatasetResult d : datasets) if (d.name().equals(name)) return d;
    return null;
  }

  static final ObjectMapper JSON = JsonMapper.builder()
      .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .serializationInclusion(JsonInclude.Include.ALWAYS)
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .build();

  /** Writes atomically (a temporary file, then a rename). */
  public void write(Path file) {
    AtomicFiles.write(file, "results", tmp -> JSON.writeValue(tmp.toFile(), this));
  }

  /** Reads a results.json, or the one in a run folder. */
  public static EvalResults read(Path fileOrRun) {
    Path file = Files.isDirectory(fileOrRun) ? fileOrRun.resolve("results.json") : fileOrRun;
    if (!Files.isRegularFile(file)) throw new MtpfException(file + ": results file not found");
    EvalResults r;
    try {
      r = JSON.readValue(file.toFile(), EvalResults.class);
    } catch (IOException e) {
      throw new MtpfException(file + ": not an mtpf results file (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
    if (r == null || !FORMAT.equals(r.format()))
      throw new MtpfException(file + ": format is " + (r == null ? "missing" : "'" + r.format() + "'") + ", expected '"
          + FORMAT + "'");
    return r;
  }

  /** NaN and infinities become null (JSON has no NaN). */
  static Double finite(double v) {
    return Double.isFinite(v) ? v : null;
  }
}
