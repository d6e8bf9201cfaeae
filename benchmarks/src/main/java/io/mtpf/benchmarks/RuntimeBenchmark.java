package io.mtpf.benchmarks;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.models.MavenArtifacts;
import io.mtpf.models.ModelCatalog;
import io.mtpf.runtime.Adapter;
import io.mtpf.runtime.Backbone;
import io.mtpf.runtime.BackboneOptions;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.io.InputStream;
import java.net.URI;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The runtime (libtorch-free, OpenBLAS) beside the libtorch core and ONNX Runtime Java on the same model and the same
 * 128-token inputs, each doing tokenization + forward + mean pooling; and 16 different adapters mixed in one batch of
 * 32 against a batch of 32 on one adapter. Each engine lives in its own @State, and JMH forks per benchmark, so a fork
 * loads only the engine it measures. Models come from `mtpf models pull` (-Dmtpf.models.dir, default ./models).
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar RuntimeBenchmark                       # all of it
 * java -jar benchmarks/target/benchmarks.jar 'RuntimeBenchmark.(runtime|torch|onnx)' -p batch=32 -p threads=2
 * java -cp benchmarks/target/benchmarks.jar io.mtpf.benchmarks.RuntimeMemory       # resident memory
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class RuntimeBenchmark {
  static final int LENGTH = 128;
  static final int ADAPTERS = 16;
  static final int ADAPTER_BATCH = 32;

  static Path modelDir(String model) {
    return Path.of(System.getProperty("mtpf.models.dir", "models")).resolve(model);
  }

  /** {@code batch} texts long enough that each is truncated to exactly LENGTH tokens. */
  static List<String> texts(int batch) {
    String text = String.join(" ", Collections.nCopies(40, "The quick brown fox jumps over the lazy dog near the riverbank."));
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < batch; i++) texts.add(i + " " + text);
    return texts;
  }

  @State(Scope.Benchmark)
  public static class Inputs {
    @Param({"bge-small-en-v15", "all-minilm-l6-v2"})
    public String model;

    @Param({"1", "2"})
    public int threads;

    @Param({"1", "32"})
    public int batch;

    List<String> texts;

    @Setup(Level.Trial)
    public void setup() {
      texts = texts(batch);
    }
  }

  @State(Scope.Benchmark)
  public static class RuntimeEngine {
    Backbone backbone;

    @Setup(Level.Trial)
    public void setup(Inputs in) {
      backbone = Backbone.load(modelDir(in.model),
          BackboneOptions.defaults().withThreads(in.threads).withMaxLength(LENGTH).withBatchSize(in.batch));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      backbone.close();
    }
  }

  @State(Scope.Benchmark)
  public static class TorchEngine {
    Encoder encoder;

    @Setup(Level.Trial)
    public void setup(Inputs in) {
      encoder = Encoder.load(modelDir(in.model),
          EncoderOptions.defaults().withThreads(in.threads).withMaxLength(LENGTH).withBatchSize(in.batch));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      encoder.close();
    }
  }

  @State(Scope.Benchmark)
  public static class OnnxEngine {
    WordPieceTokenizer tokenizer;
    OrtEnvironment env;
    OrtSession session;
    long[] ids, mask, types;
    int batch;

    @Setup(Level.Trial)
    public void setup(Inputs in) throws Exception {
      tokenizer = WordPieceTokenizer.fromFolder(modelDir(in.model));
      batch = in.batch;
      List<Encoding> encodings = new ArrayList<>();
      for (String t : in.texts) encodings.add(tokenizer.encode(t, LENGTH));
      Batch b = Batch.pad(encodings, tokenizer.padId());
      if (b.seqLen() != LENGTH) throw new IllegalStateException("inputs are " + b.seqLen() + " tokens, not " + LENGTH);
      ids = b.inputIds();
      mask = b.attentionMask();
      types = b.tokenTypeIds();
      ModelCatalog.Entry entry = ModelCatalog.get(in.model);
      MavenArtifacts maven = new MavenArtifacts(MavenArtifacts.defaultLocalRepo(), URI.create(MavenArtifacts.CENTRAL), false);
      byte[] onnx;
      try (ZipFile jar = new ZipFile(maven.resolve(entry.artifact()).jar().toFile());
          InputStream is = jar.getInputStream(jar.getEntry(entry.onnxResource()))) {
        onnx = is.readAllBytes();
      }
      env = OrtEnvironment.getEnvironment();
      OrtSession.SessionOptions so = new OrtSession.SessionOptions();
      so.setIntraOpNumThreads(in.threads);
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      session = env.createSession(onnx, so);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
      session.close();
    }
  }

  @Benchmark
  public float[][] runtimeEmbed(Inputs in, RuntimeEngine e) {
    return e.backbone.embed(in.texts);
  }

  @Benchmark
  public float[][] torchEncode(Inputs in, TorchEngine e) {
    return e.encoder.encode(in.texts);
  }

  /** ONNX Runtime on the same ids, plus the same tokenization and mean pooling, so all engines do equal work. */
  @Benchmark
  public float[][] onnxRuntimeEncode(Inputs in, OnnxEngine e) throws Exception {
    List<Encoding> encodings = new ArrayList<>(in.texts.size());
    for (String t : in.texts) encodings.add(e.tokenizer.encode(t, LENGTH));
    long[] shape = {e.batch, LENGTH};
    try (OnnxTensor a = OnnxTensor.createTensor(e.env, LongBuffer.wrap(e.ids), shape);
        OnnxTensor m = OnnxTensor.createTensor(e.env, LongBuffer.wrap(e.mask), shape);
        OnnxTensor t = OnnxTensor.createTensor(e.env, LongBuffer.wrap(e.types), shape);
        OrtSession.Result r = e.session.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", t))) {
      float[][][] hidden = (float[][][]) r.get(0).getValue();
      float[][] pooled = new float[e.batch][hidden[0][0].length];
      for (int i = 0; i < e.batch; i++) {
        for (float[] token : hidden[i]) for (int k = 0; k < token.length; k++) pooled[i][k] += token[k] / LENGTH;
      }
      return pooled;
    }
  }

  /** A batch of 32 texts over 16 different adapters (two texts each), and the same batch on one adapter. */
  @State(Scope.Benchmark)
  public static class AdapterBatch {
    @Param({"bge-small-en-v15", "all-minilm-l6-v2"})
    public String model;

    @Param({"1", "2"})
    public int threads;

    Path root;
    Backbone backbone;
    List<Adapter> adapters = new ArrayList<>();
    List<String> texts;
    List<Adapter> mixed = new ArrayList<>();

    @Setup(Level.Trial)
    public void setup() throws Exception {
      backbone = Backbone.load(modelDir(model),
          BackboneOptions.defaults().withThreads(threads).withMaxLength(LENGTH).withBatchSize(ADAPTER_BATCH));
      com.fasterxml.jackson.databind.JsonNode config =
          new com.fasterxml.jackson.databind.ObjectMapper().readTree(modelDir(model).resolve("config.json").toFile());
      root = Files.createTempDirectory("mtpf-bench-adapters");
      // The downstream NER setting (paper App. A): r 32 on query, key and MLP of every layer, the costliest adapters.
      for (Path dir : RandomAdapters.write(root, ADAPTERS, config.get("num_hidden_layers").asInt(), 0,
          config.get("hidden_size").asInt(), config.get("intermediate_size").asInt(), 32)) {
        Adapter a = Adapter.load(dir);
        backbone.attach(a);
        adapters.add(a);
      }
      texts = texts(ADAPTER_BATCH);
      for (int i = 0; i < ADAPTER_BATCH; i++) mixed.add(adapters.get(i % ADAPTERS));
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
      for (Adapter a : adapters) a.close();
      backbone.close();
      try (var files = Files.walk(root)) {
        files.sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Benchmark
  public float[][] runtimeSixteenAdaptersMixed(AdapterBatch s) {
    return s.backbone.embedMixed(s.texts, s.mixed);
  }

  @Benchmark
  public float[][] runtimeOneAdapter(AdapterBatch s) {
    return s.backbone.embed(s.texts, s.adapters.get(0));
  }
}
