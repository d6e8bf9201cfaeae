package io.mtpf.models;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.formats.Fp32Tensor;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Imports the three catalog encoders from their real Maven Central jars (test dependencies of this module, so in
 * the local Maven repository) and checks the result: every BertModel parameter present with its shape, the
 * parameter count, the config, the written folder, and a forward pass over the imported weights against ONNX
 * Runtime running the original graph.
 */
class RealModelsImportTest {
  @TempDir Path tmp;

  // "hello world" in the uncased BERT vocabulary all three share, between [CLS] and [SEP].
  static final long[] TOKENS = {101, 7592, 2088, 1012, 102};

  @ParameterizedTest
  @CsvSource({
    // name, layers, parameters (BertModel without the pooler: these ONNX exports drop it)
    "bge-small-en-v15, 12, 33212160",
    "e5-small-v2,      12, 33212160",
    "all-minilm-l6-v2,  6, 22565376",
  })
  void importsTheRealEncoder(String name, int layers, long parameters) throws Exception {
    ModelCatalog.Entry entry = ModelCatalog.get(name);
    Path jar = jarOf(entry);

    long start = System.nanoTime();
    ModelPuller.Imported imported = ModelPuller.importJar(jar, entry);
    double seconds = (System.nanoTime() - start) / 1e9;
    System.err.printf("%s: imported %,d parameters in %.1f s%n", name, imported.checkpoint().parameterCount(),
        seconds);
    assertTrue(seconds < 20, name + " import took " + seconds + " s");

    BertCheckpoint ckpt = imported.checkpoint();
    assertEquals(new BertConfig(30522, 384, layers, 12, 1536, 512, 2, 1e-12), ckpt.config());
    assertEquals(OnnxModelImporter.parameterNames(layers, false), ckpt.tensors().stream().map(Fp32Tensor::name)
        .toList(), "every BertModel parameter, nothing else");
    assertEquals(parameters, ckpt.parameterCount());
    assertArrayEquals(new long[] {30522, 384}, ckpt.tensor("embeddings.word_embeddings.weight").shape());
    assertArrayEquals(new long[] {1536, 384}, ckpt.tensor("encoder.layer.0.intermediate.dense.weight").shape());
    assertArrayEquals(new long[] {384, 1536}, ckpt.tensor("encoder.layer.0.output.dense.weight").shape());
    assertArrayEquals(new long[] {384, 384},
        ckpt.tensor("encoder.layer." + (layers - 1) + ".attention.self.value.weight").shape());
    for (Fp32Tensor t : ckpt.tensors()) {
      assertArrayEquals(OnnxModelImporter.expectedShape(t.name(), ckpt.config()), t.shape(), t.name());
    }
    assertEquals(30522, imported.tokenizer().vocabSize());
    assertTrue(imported.tokenizer().doLowerCase());

    float[][] reference = onnxRuntime(jar, entry);
    float[][] ours = new BertReference(ckpt).forward(TOKENS);
    double maxDiff = 0;
    for (int t = 0; t < TOKENS.length; t++) {
      for (int j = 0; j < 384; j++) maxDiff = Math.max(maxDiff, Math.abs(reference[t][j] - ours[t][j]));
    }
    System.err.printf("%s: max |last_hidden_state - ONNX Runtime| = %.2e%n", name, maxDiff);
    assertTrue(maxDiff < 1e-4, name + ": forward pass over imported weights differs from ONNX Runtime by " + maxDiff);
  }

  @ParameterizedTest
  @CsvSource({"all-minilm-l6-v2, 22565376"})
  void pullWritesALoadableFolder(String name, long parameters) throws Exception {
    ModelCatalog.Entry entry = ModelCatalog.get(name);
    Path jar = jarOf(entry);
    // The repository the jar came from, resolved offline as `mtpf models pull --offline` does.
    Path repo = jar;
    for (String ignored : entry.artifact().jarPath().split("/")) repo = repo.getParent();
    assumeTrue(repo.resolve(entry.artifact().jarPath()).equals(jar), "jar is not in a Maven repository layout");

    Path out = tmp.resolve("models").resolve(name);
    ModelPuller.Result r = new ModelPuller(new MavenArtifacts(repo, java.net.URI.create(MavenArtifacts.CENTRAL),
        true)).pull(entry, out, false);
    assertEquals(parameters, r.parameterCount());
    for (String f : HfModelFolder.FILES) assertTrue(Files.isRegularFile(out.resolve(f)), f);

    JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
    assertEquals("bert", config.get("model_type").asText());
    assertEquals(12, config.get("num_attention_heads").asInt());

    // model.safetensors: 8-byte header length, header, then exactly 4 bytes per parameter.
    byte[] head = new byte[8];
    try (InputStream in = Files.newInputStream(out.resolve("model.safetensors"))) {
      assertEquals(8, in.read(head));
    }
    long headerLength = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(8 + headerLength + 4 * parameters, Files.size(out.resolve("model.safetensors")));

    assertEquals(30522, Files.readAllLines(out.resolve("vocab.txt")).size());
    assertEquals("[PAD]", Files.readAllLines(out.resolve("vocab.txt")).get(0));
    assertEquals("[CLS]", Files.readAllLines(out.resolve("vocab.txt")).get(101));
  }

  /** The jar holding the entry's ONNX file: from the test classpath, else from the local Maven repository. */
  static Path jarOf(ModelCatalog.Entry entry) throws Exception {
    URL url = RealModelsImportTest.class.getClassLoader().getResource(entry.onnxResource());
    if (url != null && url.getProtocol().equals("jar")) {
      return Path.of(((JarURLConnection) url.openConnection()).getJarFileURL().toURI());
    }
    Path local = MavenArtifacts.defaultLocalRepo().resolve(entry.artifact().jarPath());
    if (!Files.isRegularFile(local)) {
      String msg = "SKIPPED: " + entry.artifact() + " is neither on the test classpath nor at " + local;
      System.err.println(msg);
      assumeTrue(false, msg);
    }
    return local;
  }

  /** last_hidden_state of the original ONNX graph for {@link #TOKENS}. */
  static float[][] onnxRuntime(Path jar, ModelCatalog.Entry entry) throws Exception {
    byte[] model;
    try (ZipFile zip = new ZipFile(jar.toFile());
        InputStream in = zip.getInputStream(zip.getEntry(entry.onnxResource()))) {
      model = in.readAllBytes();
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    long[][] ids = {TOKENS};
    long[][] ones = {new long[TOKENS.length]};
    java.util.Arrays.fill(ones[0], 1);
    long[][] zeros = {new long[TOKENS.length]};
    try (OrtSession session = env.createSession(model, new OrtSession.SessionOptions());
        ai.onnxruntime.OnnxTensor inputIds = ai.onnxruntime.OnnxTensor.createTensor(env, ids);
        ai.onnxruntime.OnnxTensor mask = ai.onnxruntime.OnnxTensor.createTensor(env, ones);
        ai.onnxruntime.OnnxTensor types = ai.onnxruntime.OnnxTensor.createTensor(env, zeros);
        OrtSession.Result result = session.run(
            Map.of("input_ids", inputIds, "attention_mask", mask, "token_type_ids", types))) {
      return ((float[][][]) result.get("last_hidden_state").get().getValue())[0];
    }
  }
}
