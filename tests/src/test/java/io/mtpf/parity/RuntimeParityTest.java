package io.mtpf.parity;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mtpf.Encoder;
import io.mtpf.StepBatch;
import io.mtpf.TokenEmbeddings;
import io.mtpf.Trainer;
import io.mtpf.TrainerConfig;
import io.mtpf.models.ModelPuller;
import io.mtpf.runtime.Adapter;
import io.mtpf.runtime.Backbone;
import io.mtpf.runtime.EmbedOptions;
import io.mtpf.testing.Sentences;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The runtime (libtorch-free, OpenBLAS) against the libtorch core on real models and real sentences: last hidden
 * states and pooled embeddings of the plain backbone, and with adapters trained for a few steps on CoNLL-2003 by the
 * core's ner-adapt session (hidden states and head logits), also in mixed-adapter batches. Max absolute difference
 * <= 1e-4 in fp32. Models come from -Dmtpf.models.dir (`mtpf models pull`); absent models skip visibly.
 */
class RuntimeParityTest {
  static final double TOLERANCE = 1e-4;

  @TempDir Path tmp;

  static Path model(String name) {
    Path dir = Path.of(System.getProperty("mtpf.models.dir", "models")).resolve(name).toAbsolutePath().normalize();
    if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
      try {  // as `mtpf models pull` does: the local Maven repository first, else Maven Central
        ModelPuller.pullDefault(name, dir);
      } catch (RuntimeException e) {
        String msg = "SKIPPED: model " + dir + " is absent and could not be pulled (" + e.getMessage() + ")";
        System.err.println(msg);
        assumeTrue(false, msg);
      }
    }
    return dir;
  }

  @ParameterizedTest
  @ValueSource(strings = {"bge-small-en-v15", "e5-small-v2", "all-minilm-l6-v2"})
  void plainBackboneEqualsLibtorch(String name) {
    List<String> texts = Sentences.mixed(60);  // skips visibly when ../shared/data is absent
    Path dir = model(name);
    double hiddenDiff, pooledDiff;
    long tokens = 0;
    try (Encoder enc = Encoder.load(dir); Backbone bb = Backbone.load(dir)) {
      List<TokenEmbeddings> ref = enc.tokenEmbeddings(texts);
      List<TokenEmbeddings> ours = bb.tokenEmbeddings(texts, null);
      hiddenDiff = 0;
      for (int i = 0; i < texts.size(); i++) {
        hiddenDiff = Math.max(hiddenDiff, maxDiff(ref.get(i).vectors(), ours.get(i).vectors()));
        tokens += ours.get(i).vectors().length;
      }
      pooledDiff = maxDiff(enc.encode(texts), bb.embed(texts, null, EmbedOptions.defaults()));
    }
    System.out.printf("runtime parity %s, plain: %d sentences, %d tokens, max |diff| hidden %.3g, pooled %.3g%n", name,
        texts.size(), tokens, hiddenDiff, pooledDiff);
    assertTrue(texts.size() >= 200, "at least 200 sentences");
    assertTrue(hiddenDiff <= TOLERANCE, name + ": hidden states max abs diff " + hiddenDiff);
    assertTrue(pooledDiff <= TOLERANCE, name + ": pooled max abs diff " + pooledDiff);
  }

  /** The accuracy cost of int8 weights, measured: cosine of normalised embeddings against fp32 on real sentences. */
  @ParameterizedTest
  @ValueSource(strings = {"bge-small-en-v15", "all-minilm-l6-v2"})
  void int8CostOnRealSentences(String name) {
    List<String> texts = Sentences.mixed(60);
    Path dir = model(name);
    EmbedOptions normalized = EmbedOptions.defaults().withNormalize(true);
    float[][] fp32, int8;
    long fp32Bytes, int8Bytes;
    try (Backbone bb = Backbone.load(dir)) {
      fp32 = bb.embed(texts, null, normalized);
      fp32Bytes = bb.weightBytes();
    }
    try (Backbone bb = Backbone.load(dir, io.mtpf.runtime.BackboneOptions.defaults().withInt8(true))) {
      int8 = bb.embed(texts, null, normalized);
      int8Bytes = bb.weightBytes();
    }
    double min = 1, sum = 0;
    for (int i = 0; i < texts.size(); i++) {
      double dot = 0;
      for (int j = 0; j < fp32[i].length; j++) dot += fp32[i][j] * int8[i][j];
      min = Math.min(min, dot);
      sum += dot;
    }
    System.out.printf("runtime int8 %s: %d sentences, cosine to fp32 mean %.5f min %.5f; weights %.1f -> %.1f MiB%n", name,
        texts.size(), sum / texts.size(), min, fp32Bytes / 1048576.0, int8Bytes / 1048576.0);
    assertTrue(min >= 0.99, name + ": int8 embeddings drift from fp32, min cosine " + min);
  }

  @Test
  void adaptersEqualLibtorchAlsoInMixedBatches() throws Exception {
    List<List<String>> conll = Sentences.conllWords("conll2003/train.txt.gz", 64);
    List<String> texts = new ArrayList<>(Sentences.mixed(15));
    Path dir = model("bge-small-en-v15");
    try (Trainer a = trainedNerSession(dir, conll, 1); Trainer b = trainedNerSession(dir, conll, 2)) {
      Path adapterA = export(a, tmp.resolve("ner-a")), adapterB = export(b, tmp.resolve("ner-b"));
      double hiddenDiff = 0, logitDiff = 0, mixedDiff = 0, adapterEffect = 0;
      try (Backbone bb = Backbone.load(dir); Adapter ra = Adapter.load(adapterA); Adapter rb = Adapter.load(adapterB)) {
        WordPieceTokenizer tok = bb.tokenizer();
        List<TokenEmbeddings> ours = bb.tokenEmbeddings(texts, ra);
        List<TokenEmbeddings> plain = bb.tokenEmbeddings(texts, null);
        // The session's references in padded batches of 16 (padding does not change the core's outputs).
        int h = bb.hiddenSize(), k = ra.headClasses();
        for (int start = 0; start < texts.size(); start += 16) {
          int end = Math.min(texts.size(), start + 16);
          List<Encoding> part = new ArrayList<>();
          for (int i = start; i < end; i++) part.add(ours.get(i).encoding());
          Batch batch = Batch.pad(part, tok.padId());
          float[] states = a.tokenStates(batch, "ner"), logits = a.nerLogits(batch, k);
          int seq = batch.seqLen();
          for (int i = start; i < end; i++) {
            int len = ours.get(i).vectors().length, row = (i - start) * seq;
            float[][] refStates = rows(Arrays.copyOfRange(states, row * h, (row + len) * h), h);
            float[][] refLogits = rows(Arrays.copyOfRange(logits, row * k, (row + len) * k), k);
            hiddenDiff = Math.max(hiddenDiff, maxDiff(refStates, ours.get(i).vectors()));
            logitDiff = Math.max(logitDiff, maxDiff(refLogits, bb.tokenLogits(texts.get(i), ra)));
            adapterEffect = Math.max(adapterEffect, maxDiff(plain.get(i).vectors(), ours.get(i).vectors()));
          }
        }
        // Mixed batch (a, b, none, ...) against one adapter at a time.
        List<Adapter> mix = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) mix.add(i % 3 == 0 ? ra : i % 3 == 1 ? rb : null);
        float[][] mixed = bb.embedMixed(texts, mix);
        for (Adapter which : Arrays.asList(ra, rb, null)) {
          List<String> part = new ArrayList<>();
          List<Integer> at = new ArrayList<>();
          for (int i = 0; i < texts.size(); i++) {
            if (mix.get(i) == which) {
              part.add(texts.get(i));
              at.add(i);
            }
          }
          float[][] alone = bb.embed(part, which);
          for (int j = 0; j < part.size(); j++) mixedDiff = Math.max(mixedDiff, maxDiff(alone[j], mixed[at.get(j)]));
        }
      }
      System.out.printf("runtime parity bge-small-en-v15, adapters: %d sentences, max |diff| hidden %.3g, logits %.3g, "
          + "mixed vs single %.3g (adapter moves hidden states by up to %.3g)%n", texts.size(), hiddenDiff, logitDiff,
          mixedDiff, adapterEffect);
      assertTrue(adapterEffect > 1e-2, "the trained adapters must change the output, or this test proves nothing");
      assertTrue(hiddenDiff <= TOLERANCE, "hidden states with an adapter: max abs diff " + hiddenDiff);
      assertTrue(logitDiff <= TOLERANCE, "head logits: max abs diff " + logitDiff);
      assertTrue(mixedDiff <= TOLERANCE, "mixed-adapter batch vs one adapter at a time: max abs diff " + mixedDiff);
    }
  }

  /** A CoNLL-style NER adapter: LoRA r 8 on query, key and MLP of every layer plus a head, a few steps at a high LR. */
  static Trainer trainedNerSession(Path dir, List<List<String>> sentences, long seed) {
    List<String> labels = List.of("O", "B-PER", "I-PER", "B-LOC", "I-LOC");
    TrainerConfig config = TrainerConfig.nerAdapt(labels.size(), 8, 16);
    config.seed = seed;
    config.optimizer.lr = 0.01;
    config.optimizer.totalSteps = 100;
    Trainer s = Trainer.open(dir, config);
    s.setStage(2, 0.01, 100, 0);
    WordPieceTokenizer tok = s.tokenizer();
    java.util.Random random = new java.util.Random(seed);
    for (int step = 0; step < 2; step++) {
      List<Encoding> encs = new ArrayList<>();
      List<int[]> wordLabels = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        List<String> words = sentences.get(random.nextInt(sentences.size()));
        int[] y = new int[words.size()];
        for (int w = 0; w < y.length; w++) y[w] = Character.isUpperCase(words.get(w).charAt(0)) ? 1 + random.nextInt(4) : 0;
        encs.add(tok.encodeWords(words, 64));
        wordLabels.add(y);
      }
      Batch b = Batch.pad(encs, tok.padId());
      List<int[]> tokenLabels = new ArrayList<>();
      for (int i = 0; i < encs.size(); i++) tokenLabels.add(encs.get(i).tokenLabels(wordLabels.get(i)));
      long[] y = b.padLabels(tokenLabels);
      s.step(StepBatch.ner(b, y), false);
    }
    return s;
  }

  static Path export(Trainer s, Path dir) throws Exception {
    s.exportAdapter("ner", dir);
    Files.writeString(dir.resolve("labels.json"), "{\"labels\": [\"O\", \"B-PER\", \"I-PER\", \"B-LOC\", \"I-LOC\"]}");
    return dir;
  }

  static float[][] rows(float[] flat, int width) {
    float[][] out = new float[flat.length / width][];
    for (int i = 0; i < out.length; i++) out[i] = Arrays.copyOfRange(flat, i * width, (i + 1) * width);
    return out;
  }

  static double maxDiff(float[] a, float[] b) {
    double m = 0;
    for (int j = 0; j < b.length; j++) m = Math.max(m, Math.abs(a[j] - b[j]));
    return m;
  }

  /** Over the rows of {@code b} (the reference may carry padding rows after them). */
  static double maxDiff(float[][] a, float[][] b) {
    double m = 0;
    for (int i = 0; i < b.length; i++) m = Math.max(m, maxDiff(a[i], b[i]));
    return m;
  }
}
