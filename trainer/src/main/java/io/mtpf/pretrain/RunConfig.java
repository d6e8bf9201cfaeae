package io.mtpf.pretrain;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSetter;
import com.fasterxml.jackson.annotation.Nulls;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A pre-finetuning run, as written in run.yaml (see configs/). Unknown keys are errors, so a typo never falls back
 * to a default silently. Paths are relative to the working directory.
 */
public final class RunConfig {
  /** pf-tc, pf-ner, mtpf, mtpf-tpl or pf-l. */
  public String strategy = "mtpf-tpl";
  /** Project conflicting task gradients (PCGrad) on shared parameters. mtpf and mtpf-tpl only. */
  public boolean pcgrad = false;
  /** The student: an HF model folder, or a catalog name pulled into models/ (e.g. all-minilm-l6-v2). */
  public String model = "all-minilm-l6-v2";
  public long steps = 1000;
  public long seed = 42;
  public String device = "cpu";
  /** fp32, bf16 autocast, or auto: bf16 where the device has bf16 matrix units (CUDA sm80+, AVX512_BF16), else fp32. */
  public String precision = "auto";
  /** The encoder's dropout in training: null = the model's own (config.json), else this probability. */
  @JsonSetter(nulls = Nulls.SET) public Double dropout = null;
  /** libtorch threads; 0 = all cores. */
  public int threads = 0;
  public String out = "runs/pretrain";
  /** Data folder with pairs_* folders and NER corpora; empty = WordNet 3.1 from Maven Central. */
  public String data = "";
  @JsonProperty("skip_bad_lines") public boolean skipBadLines = false;

  public Tc tc = new Tc();
  public Ner ner = new Ner();
  public Lora lora = new Lora();
  public Optimizer optimizer = new Optimizer();
  public Logging logging = new Logging();

  /** Contrastive pre-finetuning for text classification. */
  public static final class Tc {
    @JsonProperty("batch_size") public int batchSize = 1024;
    /** GradCache chunk: rows embedded with grad at once; 0 = plain (no cache). */
    @JsonProperty("chunk_size") public int chunkSize = 64;
    public double temperature = 0.05;
    @JsonProperty("max_length") public int maxLength = 128;
    public double weight = 1.0;
    /** Pair files or folders; empty = the pairs_* folders of `data`, or WordNet. */
    public List<String> datasets = new ArrayList<>();
  }

  /** NER pre-finetuning by distillation of a teacher's clustered word embeddings. */
  public static final class Ner {
    @JsonProperty("batch_size") public int batchSize = 256;
    @JsonProperty("max_length") public int maxLength = 128;
    public double weight = 1.0;
    /** The teacher: folder or catalog name (the paper: NuNER, RoBERTa-base). */
    public String teacher = "bge-small-en-v15";
    /** Teacher hidden states whose word means are clustered, concatenated (NuNER's card: [-1, -7]). */
    @JsonProperty("teacher_layers") public List<Integer> teacherLayers = new ArrayList<>(List.of(-1));
    public int clusters = 200;
    /** Folder of a `mtpf pseudo-label` output; empty = made (and cached) under out/pseudo-labels. */
    @JsonProperty("pseudo_labels") public String pseudoLabels = "";
    /** Unlabelled corpus files (CoNLL, text or JSONL); empty = the NER train splits under `data`, or WordNet. */
    public List<String> corpus = new ArrayList<>();
    /** At most this many corpus sentences (0 = all). */
    @JsonProperty("max_sentences") public int maxSentences = 0;
  }

  /** Task-primary LoRAs (mtpf-tpl) and PF-L adapters. */
  public static final class Lora {
    public int r = 32;
    public double alpha = 64;
    public double dropout = 0.0;
    @JsonProperty("use_rslora") public boolean useRslora = false;
    /** Layers carrying the LoRAs: the last N (the paper: 2); 0 = all. */
    @JsonProperty("last_layers") public int lastLayers = 2;
    /** Target modules: query, key and the MLP, as in downstream NER adaptation. */
    public List<String> targets = new ArrayList<>(List.of("query", "key", "mlp"));
  }

  public static final class Optimizer {
    public double lr = 5e-5;
    @JsonProperty("weight_decay") public double weightDecay = 0.01;
    @JsonProperty("warmup_steps") public long warmupSteps = 0;
    /** constant, linear or cosine decay after warm-up. */
    public String schedule = "linear";
    @JsonProperty("clip_norm") public double clipNorm = 1.0;
    /** Micro-batches accumulated per optimiser step. */
    public int accumulation = 1;
    public double beta1 = 0.9;
    public double beta2 = 0.999;
    public double eps = 1e-8;
  }

  public static final class Logging {
    @JsonProperty("log_every") public int logEvery = 10;
    @JsonProperty("checkpoint_every") public int checkpointEvery = 500;
    @JsonProperty("probe_every") public int probeEvery = 100;
    /** Sentences in the fixed probe sample. */
    @JsonProperty("probe_sentences") public int probeSentences = 64;
    @JsonProperty("progress_bar") public boolean progressBar = true;
  }

  private static ObjectMapper yaml() {
    return new ObjectMapper(new YAMLFactory())
        .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true)
        // A key with no value ("precision:") or a null in a list is an error naming the key, not a default.
        .setDefaultSetterInfo(JsonSetter.Value.construct(Nulls.FAIL, Nulls.FAIL))
        .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
  }

  public static RunConfig read(Path file) {
    if (!Files.isRegularFile(file)) throw new MtpfException(file + ": run config not found");
    RunConfig c;
    ObjectMapper yaml = yaml();
    try (var parser = yaml.getFactory().createParser(file.toFile())) {
      // An empty (or comment-only) file has no token: readValue would call that malformed.
      c = parser.nextToken() == null ? null : yaml.readValue(parser, RunConfig.class);
    } catch (UnrecognizedPropertyException e) {
      throw new MtpfException(file + ": unknown key '" + e.getPropertyName() + "' at " + e.getPathReference(), e);
    } catch (IOException e) {
      throw new MtpfException(file + ": malformed run config (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
    if (c == null) throw new MtpfException(file + ": empty run config");
    c.validate(file.toString());
    return c;
  }

  public String toYaml() {
    try {
      return yaml().writeValueAsString(this);
    } catch (IOException e) {
      throw new MtpfException("cannot write the run config: " + e.getMessage(), e);
    }
  }

  public Strategy strategyKind() {
    return Strategy.parse(strategy);
  }

  public void validate(String source) {
    Strategy s;
    try {
      s = Strategy.parse(strategy);
    } catch (MtpfException e) {
      throw new MtpfException(source + ": " + e.getMessage(), e);
    }
    if (pcgrad && !s.multiTask()) throw new MtpfException(source + ": pcgrad applies to mtpf and mtpf-tpl only, not " + strategy);
    check(source, steps > 0, "steps must be positive");
    check(source, tc.batchSize >= 2, "tc.batch_size must be at least 2 (in-batch negatives)");
    check(source, tc.chunkSize >= 0, "tc.chunk_size must be >= 0");
    check(source, tc.temperature > 0, "tc.temperature must be positive");
    check(source, ner.batchSize >= 1, "ner.batch_size must be positive");
    check(source, ner.clusters >= 2, "ner.clusters must be at least 2");
    check(source, !ner.teacherLayers.isEmpty(), "ner.teacher_layers must name at least one layer");
    check(source, lora.r >= 1 && lora.alpha > 0, "lora.r and lora.alpha must be positive");
    check(source, lora.dropout >= 0 && lora.dropout < 1, "lora.dropout must be in [0, 1)");
    check(source, dropout == null || (dropout >= 0 && dropout < 1), "dropout must be in [0, 1) (or absent: the model's own)");
    check(source, lora.lastLayers >= 0, "lora.last_layers must be >= 0 (0 = all layers)");
    for (String t : lora.targets)
      check(source, List.of("query", "key", "value", "attention_output", "mlp").contains(t),
          "unknown lora target '" + t + "' (query, key, value, attention_output, mlp)");
    check(source, optimizer.lr > 0, "optimizer.lr must be positive");
    check(source, List.of("constant", "linear", "cosine").contains(optimizer.schedule),
        "optimizer.schedule must be constant, linear or cosine");
    check(source, optimizer.accumulation >= 1, "optimizer.accumulation must be >= 1");
    check(source, logging.logEvery >= 1 && logging.checkpointEvery >= 1 && logging.probeEvery >= 1,
        "logging intervals must be positive");
    check(source, List.of("fp32", "bf16", "auto").contains(precision),
        "precision must be fp32, bf16 or auto (bf16 where the device has bf16 matrix units)");
  }

  private static void check(String source, boolean ok, String message) {
    if (!ok) throw new MtpfException(source + ": " + message);
  }
}
