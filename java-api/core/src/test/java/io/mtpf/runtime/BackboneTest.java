package io.mtpf.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.MtpfException;
import io.mtpf.TokenEmbeddings;
import io.mtpf.Trainer;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runtime's Java API on tiny random models, against the libtorch core in the same JVM (so both native
 * libraries and both OpenBLAS copies load together): plain embeddings against Encoder, adapter outputs against the
 * ner-adapt session that trained the adapter, mixed-adapter batches against one adapter at a time, tagging with known
 * tags, concurrency, and the errors for bad input.
 */
class BackboneTest {
  @TempDir static Path tmp;
  static final int HIDDEN = 16;
  static final List<String> TEXTS = List.of("the cat sat on the mat.", "a dog", "the big red dogs ran!", "cat",
      "angela merkel met a dog in paris , the cat sat on the big red mat in berlin .");

  static Path model;
  static Trainer sessionA;
  static Trainer sessionB;
  static Path adapterA;
  static Path adapterB;

  @BeforeAll
  static void setUp() throws IOException {
    model = TinyRuntimeModels.model(tmp, "bert", TinyRuntimeModels.bertConfig(HIDDEN, 2), 3);
    sessionA = TinyRuntimeModels.trainedSession(model, 4, 11);
    sessionB = TinyRuntimeModels.trainedSession(model, 4, 12);
    adapterA = TinyRuntimeModels.exportAdapter(sessionA, tmp.resolve("adapter-a"));
    adapterB = TinyRuntimeModels.exportAdapter(sessionB, tmp.resolve("adapter-b"));
  }

  @AfterAll
  static void tearDown() {
    sessionA.close();
    sessionB.close();
  }

  @Test
  void plainBackboneEqualsLibtorchEncoder() {
    try (Encoder enc = Encoder.load(model, EncoderOptions.defaults().withBatchSize(2));
        Backbone bb = Backbone.load(model, BackboneOptions.defaults().withBatchSize(3))) {
      assertEquals(HIDDEN, bb.hiddenSize());
      assertEquals(2, bb.numLayers());
      assertEquals("bert", bb.modelType());
      assertClose(enc.encode(TEXTS), bb.embed(TEXTS), 1e-5, "mean pooling");
      assertClose(enc.encode(TEXTS, true), bb.embed(TEXTS, null, EmbedOptions.defaults().withNormalize(true)), 1e-5,
          "normalised");
      try (Encoder cls = Encoder.load(model, EncoderOptions.defaults().withPooling("cls").withTextPrefix("a "))) {
        assertClose(cls.encode(TEXTS), bb.embed(TEXTS, null, EmbedOptions.defaults().withPooling("cls").withTextPrefix("a ")),
            1e-5, "cls pooling with a prefix");
      }
      List<TokenEmbeddings> ref = enc.tokenEmbeddings(TEXTS);
      List<TokenEmbeddings> ours = bb.tokenEmbeddings(TEXTS, null);
      for (int i = 0; i < TEXTS.size(); i++) {
        assertArrayEquals(ref.get(i).encoding().ids(), ours.get(i).encoding().ids());
        assertClose(ref.get(i).vectors(), ours.get(i).vectors(), 1e-5, "text " + i);
      }
    }
  }

  @Test
  void adapterOutputsEqualTheTrainingSession() {
    try (Backbone bb = Backbone.load(model); Adapter a = Adapter.load(adapterA)) {
      assertEquals("adapter-a", a.name());
      assertEquals(4, a.rank());
      assertEquals("ner", a.headName());
      assertEquals(TinyRuntimeModels.LABELS, a.labels());
      List<TokenEmbeddings> ours = bb.tokenEmbeddings(TEXTS, a);
      for (int i = 0; i < TEXTS.size(); i++) {
        Encoding e = ours.get(i).encoding();
        Batch b = Batch.pad(List.of(e), 0);
        assertClose(reshape(sessionA.tokenStates(b, "ner"), HIDDEN), ours.get(i).vectors(), 1e-5, "hidden, text " + i);
        float[][] logits = bb.tokenLogits(TEXTS.get(i), a);
        assertClose(reshape(sessionA.nerLogits(b, a.headClasses()), a.headClasses()), logits, 1e-5, "logits, text " + i);
      }
      // The adapter changes the output: a LoRA that stayed zero would make this test vacuous.
      float[][] plain = bb.embed(TEXTS), adapted = bb.embed(TEXTS, a);
      assertTrue(maxDiff(plain, adapted) > 1e-3, "the trained adapter changes embeddings");
      assertTrue(bb.adapterBytes(a) > 0 && bb.adapterBytes(a) < bb.weightBytes(), "adapter bytes " + bb.adapterBytes(a));
    }
  }

  @Test
  void mixedAdapterBatchEqualsOneAdapterAtATime() {
    try (Backbone bb = Backbone.load(model, BackboneOptions.defaults().withBatchSize(4));
        Adapter a = Adapter.load(adapterA); Adapter b = Adapter.load(adapterB)) {
      List<String> texts = new ArrayList<>();
      List<Adapter> adapters = new ArrayList<>();
      Adapter[] cycle = {a, b, null};
      for (int i = 0; i < 12; i++) {
        texts.add(TEXTS.get(i % TEXTS.size()));
        adapters.add(cycle[i % 3]);
      }
      float[][] mixed = bb.embedMixed(texts, adapters);
      for (int i = 0; i < texts.size(); i++) {
        float[] alone = bb.embed(List.of(texts.get(i)), adapters.get(i))[0];
        assertArrayEquals(alone, mixed[i], 1e-5f, "text " + i + " with " + adapters.get(i));
      }
      assertEquals(2, bb.adapters().size());
    }
  }

  @Test
  void tagGroupsWordsAndMapsCharacterOffsets() throws IOException {
    Path always = tmp.resolve("always-b-per");
    TinyRuntimeModels.copyDir(adapterA, always);
    TinyRuntimeModels.constantHead(always, HIDDEN, "B-PER");
    Path inside = tmp.resolve("always-i-loc");
    TinyRuntimeModels.copyDir(adapterA, inside);
    TinyRuntimeModels.constantHead(inside, HIDDEN, "I-LOC");
    String text = "Angela  Merkel met dogs!";
    try (Backbone bb = Backbone.load(model); Adapter b = Adapter.load(always); Adapter i = Adapter.load(inside)) {
      // Every word B-PER: one entity per word ("dogs" is dog ##s: one word), offsets into the original text.
      List<Entity> each = bb.tag(text, b);
      List<String> got = new ArrayList<>();
      for (Entity e : each) {
        assertEquals("PER", e.type());
        assertEquals(text.substring(e.start(), e.end()), e.text());
        assertTrue(e.score() > 0.9 && e.score() <= 1, "score " + e.score());
        got.add(e.text());
      }
      assertEquals(List.of("Angela", "Merkel", "met", "dogs", "!"), got);
      // Every word I-LOC: a stray I- starts an entity and the rest continue it (seqeval's default mode).
      List<Entity> one = bb.tag(text, i);
      assertEquals(1, one.size());
      assertEquals("LOC", one.get(0).type());
      assertEquals(0, one.get(0).start());
      assertEquals(text.length(), one.get(0).end());
      // Longer than the model's 24 positions: truncated, and only the words that fit are tagged.
      String longText = "the cat sat on the mat . ".repeat(10).trim();
      List<Entity> cut = bb.tag(longText, b);
      assertEquals(22, cut.size(), "24 positions minus [CLS] and [SEP]");
      // A batch with a text without words: no entities there, the same ones for the other text.
      List<List<Entity>> two = bb.tag(List.of("   ", text), b);
      assertEquals(List.of(), two.get(0));
      assertEquals(each, two.get(1));
    }
  }

  @Test
  void concurrentCallersGetTheSequentialResults() throws Exception {
    try (Backbone bb = Backbone.load(model, BackboneOptions.defaults().withBatchSize(2).withThreads(2));
        Adapter a = Adapter.load(adapterA); Adapter b = Adapter.load(adapterB)) {
      List<Adapter> adapters = Arrays.asList(a, b, null, a, b);
      float[][] expected = bb.embedMixed(TEXTS, adapters);
      List<Entity> expectedTags = bb.tag(TEXTS.get(4), a);
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<Boolean>> runs = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
          runs.add(pool.submit(() -> {
            for (int rep = 0; rep < 10; rep++) {
              if (maxDiff(expected, bb.embedMixed(TEXTS, adapters)) > 1e-6) return false;
              if (!expectedTags.equals(bb.tag(TEXTS.get(4), a))) return false;
            }
            return true;
          }));
        }
        for (Future<Boolean> f : runs) assertTrue(f.get(), "a concurrent run differed from the sequential one");
      } finally {
        pool.shutdown();
      }
    }
  }

  /**
   * 16 callers share one backbone, each with its own mix of adapters per text, while another thread keeps loading,
   * using and closing adapters (closing detaches them from every backbone): every call equals the single-threaded
   * result, and no call fails.
   */
  @Test
  void sixteenCallersWithMixedAdaptersWhileAdaptersComeAndGo() throws Exception {
    try (Backbone bb = Backbone.load(model, BackboneOptions.defaults().withBatchSize(2).withThreads(2));
        Adapter a = Adapter.load(adapterA); Adapter b = Adapter.load(adapterB)) {
      List<List<Adapter>> mixes = List.of(Arrays.asList(a, b, null, a, b), Arrays.asList(null, null, b, b, a),
          Arrays.asList(b, a, a, null, null), Arrays.asList(a, a, a, a, a));
      List<float[][]> expected = new ArrayList<>();
      for (List<Adapter> mix : mixes) expected.add(bb.embedMixed(TEXTS, mix));
      List<Entity> expectedTags = bb.tag(TEXTS.get(4), b);
      java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.atomic.AtomicInteger churned = new java.util.concurrent.atomic.AtomicInteger();
      ExecutorService pool = Executors.newFixedThreadPool(17);
      try {
        Future<?> loader = pool.submit(() -> {
          while (!stop.get()) {
            try (Adapter c = Adapter.load(adapterA)) {
              bb.embed(TEXTS.subList(0, 1), c);
            }
            churned.incrementAndGet();
          }
          return null;
        });
        List<Future<String>> callers = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
          final int mix = t % mixes.size();
          callers.add(pool.submit(() -> {
            for (int rep = 0; rep < 8; rep++) {
              if (maxDiff(expected.get(mix), bb.embedMixed(TEXTS, mixes.get(mix))) > 1e-6) return "embedMixed differed";
              if (!expectedTags.equals(bb.tag(TEXTS.get(4), b))) return "tag differed";
            }
            return "";
          }));
        }
        for (Future<String> f : callers) assertEquals("", f.get(), "a concurrent caller");
        stop.set(true);
        loader.get();
        assertTrue(churned.get() > 0, "the loader thread loaded and closed adapters");
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void int8WeightsStayCloseToFp32() {
    try (Backbone fp32 = Backbone.load(model); Backbone int8 = Backbone.load(model, BackboneOptions.defaults().withInt8(true))) {
      assertTrue(int8.weightBytes() < fp32.weightBytes(), int8.weightBytes() + " vs " + fp32.weightBytes());
      float[][] x = fp32.embed(TEXTS, null, EmbedOptions.defaults().withNormalize(true));
      float[][] y = int8.embed(TEXTS, null, EmbedOptions.defaults().withNormalize(true));
      for (int i = 0; i < x.length; i++) {
        double dot = 0;
        for (int j = 0; j < x[i].length; j++) dot += x[i][j] * y[i][j];
        assertTrue(dot > 0.99, "cosine int8 vs fp32 of text " + i + ": " + dot);
      }
    }
  }

  @Test
  void missingFoldersAndBadInputFailClearly() {
    Path missing = tmp.resolve("nowhere");
    assertMessage(assertThrows(MtpfException.class, () -> Backbone.load(missing)), "nowhere", "not found");
    assertMessage(assertThrows(AdapterException.class, () -> Adapter.load(missing)), "nowhere", "not found");
    try (Backbone bb = Backbone.load(model)) {
      assertMessage(assertThrows(MtpfException.class, () -> bb.embed(List.of())), "empty");
      assertMessage(assertThrows(MtpfException.class, () -> bb.embed(Arrays.asList("a", null))), "text 1", "null");
      assertMessage(assertThrows(MtpfException.class, () -> bb.embedMixed(List.of("a", "b"), Collections.singletonList((Adapter) null))),
          "2 texts", "adapters");
      assertMessage(assertThrows(MtpfException.class, () -> bb.tag("a dog", null)), "adapter");
    }
  }

  @Test
  void badAdaptersAreRefused() throws IOException {
    // Truncated weights: the file ends before the data its header describes.
    Path truncated = tmp.resolve("truncated");
    TinyRuntimeModels.copyDir(adapterA, truncated);
    Path weights = truncated.resolve("adapter_model.safetensors");
    byte[] bytes = Files.readAllBytes(weights);
    Files.write(weights, Arrays.copyOf(bytes, bytes.length - 10));
    assertMessage(assertThrows(AdapterException.class, () -> Adapter.load(truncated)), "adapter_model.safetensors", "truncated");

    // The config's rank disagrees with the tensors.
    Path wrongRank = tmp.resolve("wrong-rank");
    TinyRuntimeModels.copyDir(adapterA, wrongRank);
    Path config = wrongRank.resolve("adapter_config.json");
    Files.writeString(config, Files.readString(config).replaceFirst("\"r\"\\s*:\\s*4", "\"r\": 8"));
    assertMessage(assertThrows(AdapterException.class, () -> Adapter.load(wrongRank)), "rank 4", "r = 8");

    // No config at all.
    Path noConfig = tmp.resolve("no-config");
    TinyRuntimeModels.copyDir(adapterA, noConfig);
    Files.delete(noConfig.resolve("adapter_config.json"));
    assertMessage(assertThrows(AdapterException.class, () -> Adapter.load(noConfig)), "adapter_config.json", "not found");

    // Labels that do not match the head.
    Path badLabels = tmp.resolve("bad-labels");
    TinyRuntimeModels.copyDir(adapterA, badLabels);
    Files.writeString(badLabels.resolve("labels.json"), "{\"labels\": [\"O\", \"B-PER\"]}");
    assertMessage(assertThrows(AdapterException.class, () -> Adapter.load(badLabels)), "labels.json", "2 labels");
  }

  @Test
  void adapterOfAnotherBaseIsRefusedAtAttach() throws IOException {
    Path wide = TinyRuntimeModels.model(tmp, "wide", TinyRuntimeModels.bertConfig(24, 2), 5);
    Path headless = tmp.resolve("headless");
    TinyRuntimeModels.copyDir(adapterA, headless);
    Files.delete(headless.resolve("head_ner.json"));
    Files.delete(headless.resolve("head_ner.safetensors"));
    try (Adapter a = Adapter.load(adapterA); Adapter noHead = Adapter.load(headless);
        Backbone w = Backbone.load(wide)) {
      // The head's width is checked in Java, the LoRA shapes natively.
      assertMessage(assertThrows(AdapterException.class, () -> w.attach(a)), "adapter-a", "hidden size 24");
      MtpfException e = assertThrows(MtpfException.class, () -> w.attach(noHead));
      assertMessage(e, "headless");
      assertTrue(w.adapters().isEmpty(), "a refused adapter is not attached");
      assertMessage(assertThrows(AdapterException.class, () -> w.tag("a dog", noHead)), "head");
    }
  }

  @Test
  void closedAdaptersAndBackbonesAreRefused() {
    Backbone bb = Backbone.load(model);
    Adapter a = Adapter.load(adapterA);
    bb.embed(List.of("a dog"), a);
    assertEquals(List.of(a), bb.adapters());
    a.close();
    assertTrue(bb.adapters().isEmpty(), "closing an adapter unloads it");
    assertMessage(assertThrows(AdapterException.class, () -> bb.embed(List.of("a dog"), a)), "adapter-a", "closed");
    // Another Adapter of the same folder is a separate handle and still works.
    try (Adapter again = Adapter.load(adapterA)) {
      assertEquals(HIDDEN, bb.embed(List.of("a dog"), again)[0].length);
      bb.close();
      assertMessage(assertThrows(MtpfException.class, () -> bb.embed(List.of("a dog"))), "closed");
    }
  }

  static void assertMessage(Throwable e, String... parts) {
    for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
  }

  static float[][] reshape(float[] flat, int width) {
    float[][] out = new float[flat.length / width][];
    for (int i = 0; i < out.length; i++) out[i] = Arrays.copyOfRange(flat, i * width, (i + 1) * width);
    return out;
  }

  static double maxDiff(float[][] a, float[][] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) for (int j = 0; j < a[i].length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
    return m;
  }

  /** Rows of {@code ours} equal the first rows of {@code ref} (a reference may carry padding rows). */
  static void assertClose(float[][] ref, float[][] ours, double tol, String what) {
    assertTrue(ref.length >= ours.length, what + ": " + ref.length + " reference rows for " + ours.length);
    double m = maxDiff(Arrays.copyOf(ref, ours.length), ours);
    assertTrue(m <= tol, what + ": max |diff| " + m);
  }
}
