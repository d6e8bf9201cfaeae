package io.mtpf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.util.ArrayList;
import java.util.List;

/**
 * The native trainer's configuration ({@link Trainer#open}), field for field the schema that
 * native/src/train_session.cpp defines once (its sections are run.yaml's, with run.yaml's keys where a field is in
 * both; the native side refuses unknown keys). Fields start at the native defaults; TrainerConfigTest compares the
 * two key for key, so neither side can gain, lose or re-default a field alone.
 */
public final class TrainerConfig {
  /** pf-tc, pf-ner, mtpf, mtpf-tpl, pf-l, or ner-adapt (downstream NER by LoRA, and inference with an adapter). */
  public String strategy = "mtpf-tpl";
  public boolean pcgrad = false;
  public long seed = 42;
  public String device = "cpu";
  /** fp32, bf16 (autocast) or auto (bf16 where the device has bf16 matrix units). */
  public String precision = "fp32";
  /** The encoder's dropout in training: -1 = the model's own (config.json), else this probability. */
  public double dropout = -1;
  public Tc tc = new Tc();
  public Ner ner = new Ner();
  public Lora lora = new Lora();
  public Optimizer optimizer = new Optimizer();
  public Padding padding = new Padding();
  public Adapt adapt = new Adapt();

  public static final class Tc {
    public double weight = 1.0;
    public double temperature = 0.05;
    /** GradCache chunk of the TC batch; 0 = the plain loss. */
    public long chunkSize = 64;
  }

  public static final class Ner {
    public double weight = 1.0;
    /** Classes of the NER head (pseudo-label clusters, or a dataset's BIO labels). */
    public long classes = 200;
  }

  public static final class Lora {
    public long r = 32;
    public double alpha = 64;
    public double dropout = 0;
    public boolean useRslora = false;
    /** Layers carrying the LoRAs: the last N; 0 = all. */
    public int lastLayers = 2;
    public List<String> targets = new ArrayList<>(List.of("query", "key", "mlp"));
  }

  public static final class Optimizer {
    /** plain, fused or auto (fused where the libtorch has it). */
    public String impl = "auto";
    public double lr = 5e-5;
    public double weightDecay = 0.01;
    public double beta1 = 0.9;
    public double beta2 = 0.999;
    public double eps = 1e-8;
    public double clipNorm = 1.0;
    public long warmupSteps = 0;
    public long totalSteps = 1000;
    /** constant, linear or cosine. */
    public String schedule = "linear";
    public long accumulation = 1;
  }

  /** No compute on padding: layers run on the real tokens, attention groups padded to a multiple. */
  public static final class Padding {
    public boolean trim = true;
    public long multiple = 8;
  }

  /** ner-adapt: a PEFT folder seeding the "ner" LoRA (and its head, with loadHead), and the stage (1 head, 2 both). */
  public static final class Adapt {
    public String init = "";
    public boolean loadHead = false;
    public int stage = 1;
  }

  private static final ObjectMapper JSON =
      new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

  /** A config for {@code strategy} with every other field at its default. */
  public static TrainerConfig of(String strategy) {
    TrainerConfig c = new TrainerConfig();
    c.strategy = strategy;
    return c;
  }

  /**
   * ner-adapt: a LoRA of rank {@code r} on every layer (targets query, key, MLP unless changed) and a head over
   * {@code classes} labels; stage 1 (head only) until {@link Trainer#setStage}.
   */
  public static TrainerConfig nerAdapt(long classes, long r, double alpha) {
    TrainerConfig c = of("ner-adapt");
    c.ner.classes = classes;
    c.lora.r = r;
    c.lora.alpha = alpha;
    c.lora.lastLayers = 0;
    return c;
  }

  /** The JSON the native trainer reads. */
  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new MtpfException("cannot write the trainer config: " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return toJson();
  }
}
