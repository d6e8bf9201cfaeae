package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import io.mtpf.TokenStateSource;
import io.mtpf.data.BadLines;
import io.mtpf.pretrain.EntitySentences.Sentence;
import io.mtpf.pretrain.EntitySentences.Span;
import io.mtpf.pretrain.InterferenceProbes.EntitySwap;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The §5 probes on a fake model whose token vectors are known, and the entity-swapped variants they build. */
class InterferenceProbesTest {
  @TempDir Path dir;
  private WordPieceTokenizer tokenizer;

  private static final List<String> VOCAB = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
      "the", "visit", "to", "met", "in", ".", ",", "play", "##ing", "un", "##aff", "##able", "'", "t", "don",
      "paris", "rome", "new", "york", "berlin", "nadim", "ladki", "ann", "bob", "smith", "acme", "corp", "uefa");
  private static final int PAD = 0, CLS = 2, SEP = 3;

  @BeforeEach
  void tinyTokenizer() throws IOException {
    Path vocab = dir.resolve("vocab.txt");
    Files.write(vocab, VOCAB);
    tokenizer = WordPieceTokenizer.fromVocab(vocab, true);
  }

  /** A model whose state of a token is vector(id, position); counts its calls and checks the batches. */
  private static class FakeModel implements TokenStateSource {
    interface Vectors {
      float[] of(long id, int position);
    }

    final WordPieceTokenizer tokenizer;
    final int hidden;
    final Vectors vectors;
    int calls;
    int largestBatch;

    FakeModel(WordPieceTokenizer tokenizer, int hidden, Vectors vectors) {
      this.tokenizer = tokenizer;
      this.hidden = hidden;
      this.vectors = vectors;
    }

    @Override
    public float[] tokenStates(Batch batch, String adapter) {
      calls++;
      largestBatch = Math.max(largestBatch, batch.batchSize());
      float[] out = new float[batch.batchSize() * batch.seqLen() * hidden];
      for (int r = 0; r < batch.batchSize(); r++) {
        for (int t = 0; t < batch.seqLen(); t++) {
          int i = r * batch.seqLen() + t;
          // Padding gets huge values: any probe that reads it is visibly wrong.
          float[] v = batch.attentionMask()[i] == 0 ? filled(hidden, 1e6f) : vectors.of(batch.inputIds()[i], t);
          System.arraycopy(v, 0, out, i * hidden, hidden);
        }
      }
      return out;
    }

    @Override
    public int hiddenSize() {
      return hidden;
    }

    @Override
    public WordPieceTokenizer tokenizer() {
      return tokenizer;
    }
  }

  private static float[] filled(int n, float value) {
    float[] v = new float[n];
    java.util.Arrays.fill(v, value);
    return v;
  }

  private static float[] oneHot(int n, int index) {
    float[] v = new float[n];
    v[index % n] = 1;
    return v;
  }

  private static final List<List<String>> SENTENCES = List.of(
      List.of("Nadim", "Ladki", "met", "Ann", "in", "Paris", "."),
      List.of("the", "visit", "to", "Rome"),
      List.of("playing", "unaffable", ",", "don't"),
      List.of("Bob", "Smith", "in", "New", "York"),
      List.of("alone"));  // one word: never drawn

  private InterferenceProbes tokenOnly(List<List<String>> sentences, int sampleSize, long seed) {
    return new InterferenceProbes(sentences, List.of(), Map.of(), sampleSize, seed, 64);
  }

  @Test
  void identicalTokenVectorsGiveOneAndSpecialsAndPaddingAreLeftOut() {
    // Word tokens share one vector; [CLS] and [SEP] get an orthogonal one, padding huge values (see FakeModel).
    FakeModel model = new FakeModel(tokenizer, 4, (id, pos) -> id == CLS || id == SEP ? oneHot(4, 3) : new float[] {1, 2, 3, 0});
    Map<String, Double> m = tokenOnly(SENTENCES, 64, 1).measure(model, "");
    assertEquals(1.0, m.get(InterferenceProbes.TOKEN_COSINE), 1e-9);
    assertFalse(m.containsKey(InterferenceProbes.ENTITY_SWAP_COSINE));
  }

  @Test
  void orthogonalTokenVectorsGiveZero() {
    FakeModel model = new FakeModel(tokenizer, 64, (id, pos) -> oneHot(64, pos));
    assertEquals(0.0, tokenOnly(SENTENCES, 64, 1).measure(model, "").get(InterferenceProbes.TOKEN_COSINE), 1e-9);
  }

  @Test
  void fastPairwiseCosineEqualsTheNaiveDoubleLoop() {
    Random rng = new Random(7);
    int hidden = 24, tokens = 11;
    float[] states = new float[3 * tokens * hidden];
    for (int i = 0; i < states.length; i++) states[i] = (float) rng.nextGaussian();
    int offset = tokens * hidden;  // the second row
    java.util.Arrays.fill(states, offset + 4 * hidden, offset + 5 * hidden, 0f);  // a zero vector: cosine 0
    int[] positions = {1, 2, 4, 5, 7, 10};
    double naive = 0;
    int pairs = 0;
    for (int a = 0; a < positions.length; a++) {
      for (int b = a + 1; b < positions.length; b++) {
        float[] u = java.util.Arrays.copyOfRange(states, offset + positions[a] * hidden, offset + (positions[a] + 1) * hidden);
        float[] v = java.util.Arrays.copyOfRange(states, offset + positions[b] * hidden, offset + (positions[b] + 1) * hidden);
        naive += InterferenceProbes.cosine(u, v);
        pairs++;
      }
    }
    assertEquals(naive / pairs, InterferenceProbes.meanPairwiseCosine(states, offset, hidden, positions), 1e-12);
  }

  @Test
  void tokenCosineAveragesPerSentenceValues() {
    // Sentence "the visit to rome": 4 word tokens; vectors a, a, b, b with a ⟂ b → pairs: 2 of 6 alike → 1/3.
    // Sentence "bob smith in new york": all alike → 1. Mean over the two sentences: 2/3.
    FakeModel model = new FakeModel(tokenizer, 2, (id, pos) -> {
      String token = VOCAB.get((int) id);
      return token.equals("to") || token.equals("rome") ? new float[] {0, 1} : new float[] {1, 0};
    });
    List<List<String>> two = List.of(SENTENCES.get(1), SENTENCES.get(3));
    assertEquals(2.0 / 3, tokenOnly(two, 64, 3).measure(model, "").get(InterferenceProbes.TOKEN_COSINE), 1e-9);
  }

  @Test
  void batchesHoldAtMost32Sentences() {
    List<List<String>> many = new ArrayList<>();
    for (int i = 0; i < 70; i++) many.add(SENTENCES.get(i % 4));
    FakeModel model = new FakeModel(tokenizer, 4, (id, pos) -> oneHot(4, (int) id));
    tokenOnly(many, 70, 1).measure(model, "ner");
    assertEquals(3, model.calls);
    assertEquals(InterferenceProbes.BATCH_SIZE, model.largestBatch);
  }

  // ---- entity swaps ----

  private static final List<Sentence> LABELLED = List.of(
      new Sentence(List.of("Nadim", "Ladki", "met", "Ann", "in", "Paris", "."),
          List.of(new Span(0, 2, "person"), new Span(3, 4, "person"), new Span(5, 6, "location"))),
      new Sentence(List.of("the", "visit", "to", "Rome"), List.of(new Span(3, 4, "location"))),
      new Sentence(List.of("Acme", "Corp", "in", "New", "York"),
          List.of(new Span(0, 2, "organisation"), new Span(3, 5, "location"))),
      new Sentence(List.of("UEFA", "met", "."), List.of(new Span(0, 1, "organisation"))),
      new Sentence(List.of("no", "entities"), List.of()));

  private static Map<String, List<List<String>>> pool() {
    Map<String, List<List<String>>> pool = new java.util.LinkedHashMap<>(EntitySentences.entityPool(LABELLED));
    List<List<String>> locations = new ArrayList<>(pool.get("location"));
    locations.add(List.of("PARIS"));  // the same surface as "Paris" for an uncased model: never a replacement of it
    locations.add(List.of("Berlin"));
    pool.put("location", locations);
    return pool;
  }

  private InterferenceProbes withEntities(int sampleSize, long seed) {
    return new InterferenceProbes(SENTENCES, LABELLED, pool(), sampleSize, seed, 64);
  }

  @Test
  void variantsReplaceEverySpanWithAnotherEntityOfItsType() {
    Map<String, List<List<String>>> pool = pool();
    InterferenceProbes probes = withEntities(64, 5);
    assertTrue(probes.hasEntityProbe());
    // Every sentence with a swappable entity is drawn; "no entities" is not.
    assertEquals(4, probes.swapSample().size());
    for (EntitySwap swap : probes.swapSample()) {
      Sentence original = LABELLED.stream().filter(s -> s.words().equals(swap.original())).findFirst().orElseThrow();
      assertEquals(InterferenceProbes.VARIANTS_PER_SENTENCE, swap.variants().size());
      for (List<String> variant : swap.variants()) {
        assertTrue(isSwapOf(original, 0, 0, variant, pool), variant + " is not a swap of " + original);
      }
    }
  }

  @Test
  void aSpanWhoseTypeHasNoOtherEntityKeepsItsWords() {
    // The pool has no organisations: "Acme Corp" keeps its words, and "UEFA met ." has nothing to swap.
    Map<String, List<List<String>>> pool = Map.of("location", List.of(List.of("Rome"), List.of("Berlin")));
    InterferenceProbes probes = new InterferenceProbes(SENTENCES, LABELLED.subList(2, 4), pool, 64, 1, 64);
    assertEquals(1, probes.swapSample().size());
    for (List<String> v : probes.swapSample().get(0).variants()) {
      assertEquals(List.of("Acme", "Corp", "in"), v.subList(0, 3));
      assertTrue(v.get(3).equals("Rome") || v.get(3).equals("Berlin"), v.toString());
    }
  }

  /** Whether variant[v..] is original.words[w..] with each span from w on replaced by another form of its type. */
  private static boolean isSwapOf(Sentence original, int w, int v, List<String> variant,
      Map<String, List<List<String>>> pool) {
    if (w == original.words().size()) return v == variant.size();
    Span span = original.entities().stream().filter(s -> s.start() == w).findFirst().orElse(null);
    if (span == null) {
      return v < variant.size() && variant.get(v).equals(original.words().get(w)) && isSwapOf(original, w + 1, v + 1, variant, pool);
    }
    String own = String.join(" ", original.surface(span)).toLowerCase(Locale.ROOT);
    for (List<String> form : pool.get(span.type())) {
      if (String.join(" ", form).toLowerCase(Locale.ROOT).equals(own)) continue;
      if (v + form.size() <= variant.size() && variant.subList(v, v + form.size()).equals(form)
          && isSwapOf(original, span.end(), v + form.size(), variant, pool)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void entitySwapCosineIsTheMeanCosineOfMeanPooledEmbeddings() {
    int hidden = VOCAB.size();
    FakeModel model = new FakeModel(tokenizer, hidden, (id, pos) -> oneHot(hidden, (int) id));
    InterferenceProbes probes = withEntities(64, 5);
    double measured = probes.measure(model, "tc").get(InterferenceProbes.ENTITY_SWAP_COSINE);

    // Reference: count vectors of all token ids, [CLS] and [SEP] included (= the mean pool up to a scale).
    double sum = 0;
    int n = 0;
    for (EntitySwap swap : probes.swapSample()) {
      float[] original = idCounts(tokenizer.encodeWords(swap.original()), hidden);
      for (List<String> variant : swap.variants()) {
        sum += InterferenceProbes.cosine(original, idCounts(tokenizer.encodeWords(variant), hidden));
        n++;
      }
    }
    assertEquals(sum / n, measured, 1e-6);
    assertTrue(measured > 0.3 && measured < 1, "swapping entities changes some tokens: " + measured);

    // A model blind to token identity sees every variant as the original.
    FakeModel blind = new FakeModel(tokenizer, 3, (id, pos) -> new float[] {1, 1, 0});
    assertEquals(1.0, probes.measure(blind, "").get(InterferenceProbes.ENTITY_SWAP_COSINE), 1e-6);
  }

  private static float[] idCounts(Encoding e, int hidden) {
    float[] v = new float[hidden];
    for (int id : e.ids()) v[id]++;
    return v;
  }

  @Test
  void sameSeedSameSampleAndValues() {
    List<List<String>> many = new ArrayList<>();
    for (int i = 0; i < 200; i++) many.add(List.of("the", "visit", "to", "s" + i));
    InterferenceProbes a = new InterferenceProbes(many, LABELLED, pool(), 8, 42, 64);
    InterferenceProbes b = new InterferenceProbes(many, LABELLED, pool(), 8, 42, 64);
    InterferenceProbes c = new InterferenceProbes(many, LABELLED, pool(), 8, 43, 64);
    assertEquals(a.tokenSample(), b.tokenSample());
    assertEquals(a.swapSample(), b.swapSample());
    assertNotEquals(a.tokenSample(), c.tokenSample());
    assertEquals(8, a.tokenSample().size());

    Random rng = new Random(0);
    float[][] table = new float[VOCAB.size()][6];
    for (float[] row : table) for (int k = 0; k < row.length; k++) row[k] = (float) rng.nextGaussian();
    FakeModel model = new FakeModel(tokenizer, 6, (id, pos) -> table[(int) id]);
    assertEquals(a.measure(model, ""), b.measure(model, ""));
    assertEquals(a.measure(model, ""), a.measure(model, ""));  // measuring changes nothing
  }

  @Test
  void rejectsAModelThatReturnsTheWrongShape() {
    TokenStateSource broken = new FakeModel(tokenizer, 4, (id, pos) -> new float[4]) {
      @Override
      public float[] tokenStates(Batch batch, String adapter) {
        return new float[3];
      }
    };
    MtpfException e = assertThrows(MtpfException.class, () -> tokenOnly(SENTENCES, 4, 1).measure(broken, ""));
    assertTrue(e.getMessage().contains("returned 3 values"), e.getMessage());
  }

  @Test
  void forRunWithoutConllIsTokenOnly() {
    InterferenceProbes probes = InterferenceProbes.forRun(dir, SENTENCES, 16, 1, 64);
    assertFalse(probes.hasEntityProbe());
    assertEquals(4, probes.tokenSample().size());
    assertTrue(probes.toString().contains("no entity probe"), probes.toString());
    assertThrows(MtpfException.class, () -> InterferenceProbes.forRun(null, List.of(), 16, 1, 64));
  }

  @Test
  void forRunOnTheRealConllTestSplit() {
    Path conll = EntitySentencesTest.dataFile(InterferenceProbes.CONLL_TEST);
    Path dataDir = conll.getParent().getParent();
    long start = System.nanoTime();
    InterferenceProbes probes = InterferenceProbes.forRun(dataDir, null, 64, 42, 128);
    assertTrue(probes.hasEntityProbe());
    assertEquals(64, probes.tokenSample().size());
    assertEquals(64, probes.swapSample().size());
    assertEquals(probes.swapSample(), InterferenceProbes.forRun(dataDir, null, 64, 42, 128).swapSample());

    List<Sentence> labelled = EntitySentences.read(conll, BadLines.fail());
    Map<String, List<List<String>>> pool = EntitySentences.entityPool(labelled);
    for (EntitySwap swap : probes.swapSample()) {
      Sentence original = labelled.stream().filter(s -> s.words().equals(swap.original())).findFirst().orElseThrow();
      for (List<String> variant : swap.variants()) assertTrue(isSwapOf(original, 0, 0, variant, pool), variant.toString());
    }

    // A fake model over a vocab of the split's own words, with random vectors per token id.
    TreeSet<String> words = new TreeSet<>();
    for (Sentence s : labelled) for (String w : s.words()) words.add(w.toLowerCase(Locale.ROOT));
    List<String> vocab = new ArrayList<>(VOCAB.subList(0, 5));
    words.removeAll(vocab);
    vocab.addAll(words);
    WordPieceTokenizer big = writeVocab(vocab);
    Random rng = new Random(1);
    float[][] table = new float[vocab.size()][16];
    for (float[] row : table) for (int k = 0; k < row.length; k++) row[k] = (float) rng.nextGaussian() + 0.5f;
    Map<String, Double> m = probes.measure(new FakeModel(big, 16, (id, pos) -> table[(int) id]), "");
    double token = m.get(InterferenceProbes.TOKEN_COSINE), swap = m.get(InterferenceProbes.ENTITY_SWAP_COSINE);
    assertTrue(token > 0 && token < 1, "token cosine " + token);
    assertTrue(swap > token && swap < 1, "entity swap cosine " + swap);
    System.err.printf(Locale.ROOT, "conll2003 probes on random vectors: token %.4f, entity swap %.4f (%d ms)%n", token, swap,
        (System.nanoTime() - start) / 1_000_000);
  }

  private WordPieceTokenizer writeVocab(List<String> vocab) {
    try {
      Path p = Files.createTempDirectory(dir, "vocab").resolve("vocab.txt");
      Files.write(p, vocab);
      return WordPieceTokenizer.fromVocab(p, true);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
