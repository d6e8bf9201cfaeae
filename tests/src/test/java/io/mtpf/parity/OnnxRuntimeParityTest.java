package io.mtpf.parity;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.mtpf.Encoder;
import io.mtpf.TokenEmbeddings;
import io.mtpf.models.MavenArtifacts;
import io.mtpf.models.ModelCatalog;
import io.mtpf.models.ModelPuller;
import io.mtpf.testing.Sentences;
import io.mtpf.tokenizer.Encoding;
import java.io.InputStream;
import java.net.URI;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The acceptance bar for real weights: mtpf's last hidden state equals ONNX Runtime's on the same model (the
 * ONNX file inside the Maven jar that `mtpf models pull` imports) over 200+ real sentences of mixed length.
 * Max absolute difference <= 1e-4 in fp32; cosine of mean-pooled embeddings >= 0.99999.
 */
class OnnxRuntimeParityTest {
  static final int BATCH = 16;

  @ParameterizedTest
  @ValueSource(strings = {"bge-small-en-v15", "e5-small-v2", "all-minilm-l6-v2"})
  void lastHiddenStateEqualsOnnxRuntime(String name) throws Exception {
    List<String> texts = Sentences.mixed(60);  // skips visibly when ../shared/data is absent
    ModelCatalog.Entry entry = ModelCatalog.get(name);
    Path dir = Path.of(System.getProperty("mtpf.models.dir", "models")).resolve(name);
    new ModelPuller(new MavenArtifacts(MavenArtifacts.defaultLocalRepo(), URI.create(MavenArtifacts.CENTRAL), false))
        .pull(entry, dir, false);

    byte[] onnx;
    try (InputStream in = OnnxRuntimeParityTest.class.getResourceAsStream("/" + entry.onnxResource())) {
      onnx = in.readAllBytes();
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions so = new OrtSession.SessionOptions();
    so.setIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
    double maxDiff = 0, minCos = 1;
    long tokens = 0;
    try (Encoder enc = Encoder.load(dir); OrtSession ort = env.createSession(onnx, so)) {
      List<TokenEmbeddings> ours = enc.tokenEmbeddings(texts);
      int h = enc.hiddenSize();
      // ONNX Runtime runs the texts in their own order and padding (ours sorts by length): padding must not matter.
      for (int start = 0; start < texts.size(); start += BATCH) {
        List<TokenEmbeddings> part = ours.subList(start, Math.min(texts.size(), start + BATCH));
        int b = part.size();
        int t = part.stream().mapToInt(e -> e.encoding().length()).max().orElseThrow();
        long[] ids = new long[b * t], mask = new long[b * t], types = new long[b * t];
        for (int i = 0; i < b; i++) {
          Encoding e = part.get(i).encoding();
          for (int j = 0; j < e.length(); j++) {
            ids[i * t + j] = e.ids()[j];
            mask[i * t + j] = 1;
            types[i * t + j] = e.typeIds()[j];
          }
        }
        Map<String, OnnxTensor> inputs = new HashMap<>();
        long[] shape = {b, t};
        inputs.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
        inputs.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
        if (ort.getInputNames().contains("token_type_ids"))
          inputs.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape));
        try (OrtSession.Result result = ort.run(inputs)) {
          float[][][] ref = (float[][][]) result.get(0).getValue();
          for (int i = 0; i < b; i++) {
            float[][] v = part.get(i).vectors();
            double[] meanOurs = new double[h], meanRef = new double[h];
            for (int j = 0; j < v.length; j++) {
              for (int k = 0; k < h; k++) {
                maxDiff = Math.max(maxDiff, Math.abs(v[j][k] - ref[i][j][k]));
                meanOurs[k] += v[j][k];
                meanRef[k] += ref[i][j][k];
              }
            }
            tokens += v.length;
            minCos = Math.min(minCos, cosine(meanOurs, meanRef));
          }
        } finally {
          inputs.values().forEach(OnnxTensor::close);
        }
      }
    }
    System.out.printf("parity %s vs ONNX Runtime: %d sentences, %d tokens, max |diff| %.3g, min cosine %.8f%n",
        name, texts.size(), tokens, maxDiff, minCos);
    assertTrue(texts.size() >= 200, "at least 200 sentences");
    assertTrue(maxDiff <= 1e-4, name + ": max abs diff " + maxDiff);
    assertTrue(minCos >= 0.99999, name + ": min cosine " + minCos);
  }

  static double cosine(double[] a, double[] b) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }
}
