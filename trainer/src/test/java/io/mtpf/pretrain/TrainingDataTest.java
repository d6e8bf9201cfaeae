package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import io.mtpf.data.PairDataset;
import io.mtpf.data.TextPair;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each step's batches: a pure function of (seed, step), hierarchical TC sampling, NER labels on first sub-tokens. */
class TrainingDataTest {
  @TempDir Path dir;
  WordPieceTokenizer tokenizer;
  /** Dataset sizes: x is twice y, z smaller than a TC batch. */
  static final Map<String, Integer> SIZES = Map.of("x", 40, "y", 20, "z", 4);
  static final int TC_BATCH = 8;
  List<PairDataset> pairs;
  /** Vocabulary id of each anchor word -> "dataset:row". */
  final Map<Long, String> anchorOf = new HashMap<>();

  static final List<String> NER_WORDS = List.of("alpha", "beta", "gamma", "delta", "play", "##ing", "un", "##aff",
      "##able", "the", "cat", ".");
  static final List<PseudoLabels.Sentence> SENTENCES = List.of(
      new PseudoLabels.Sentence(List.of("alpha", "playing", "the"), new int[] {0, 1, 2}),
      new PseudoLabels.Sentence(List.of("beta", "unaffable", "cat", "."), new int[] {2, -100, 1, 0}),
      new PseudoLabels.Sentence(List.of("gamma"), new int[] {1}),
      // A word that normalises to nothing has no token, so its label cannot be placed.
      new PseudoLabels.Sentence(List.of("delta", "\u200b", "cat"), new int[] {1, 2, 0}));

  @BeforeEach
  void data() throws IOException {
    List<String> vocab = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "pos"));
    vocab.addAll(NER_WORDS);
    pairs = new ArrayList<>();
    for (String name : List.of("x", "y", "z")) {
      List<TextPair> p = new ArrayList<>();
      for (int i = 0; i < SIZES.get(name); i++) {
        String w = name + "w" + i;
        vocab.add(w);
        anchorOf.put((long) vocab.size() - 1, name + ":" + i);
        // Anchors of 1 to 3 words, so that sorting by length and padding both happen.
        p.add(new TextPair(String.join(" ", java.util.Collections.nCopies(i % 3 + 1, w)), "pos " + w));
      }
      pairs.add(new PairDataset(name, p));
    }
    Path file = dir.resolve("vocab.txt");
    Files.write(file, vocab);
    tokenizer = WordPieceTokenizer.fromVocab(file, true);
  }

  TrainingData data(long seed, int nerBatch, int nerMaxLength) {
    return new TrainingData(pairs, SENTENCES, tokenizer, TC_BATCH, 16, nerBatch, nerMaxLength, seed);
  }

  static long at(Batch b, int row, int col) {
    return b.inputIds()[row * b.seqLen() + col];
  }

  @Test
  void batchesArePureFunctionsOfSeedAndStep() {
    TrainingData a = data(7, 2, 16), b = data(7, 2, 16);
    for (long step : new long[] {0, 1, 5, 1000}) {
      StepBatches x = a.prepare(step, true, true), y = b.prepare(step, true, true);
      assertEquals(step, x.step());
      assertEquals(x.tcDataset(), y.tcDataset());
      assertArrayEquals(x.anchors().inputIds(), y.anchors().inputIds());
      assertArrayEquals(x.positives().inputIds(), y.positives().inputIds());
      assertArrayEquals(x.ner().inputIds(), y.ner().inputIds());
      assertArrayEquals(x.nerLabels(), y.nerLabels());
      assertEquals(x.tokens(), y.tokens());
    }
    // Another step (or seed) draws other rows; any order of calls gives the same batches.
    Set<String> distinctBatches = new HashSet<>();
    for (long step = 0; step < 20; step++) distinctBatches.add(Arrays.toString(a.prepare(step, true, false).anchors().inputIds()));
    assertTrue(distinctBatches.size() >= 18, "only " + distinctBatches.size() + " distinct batches in 20 steps");
    assertFalse(Arrays.equals(a.prepare(3, true, false).anchors().inputIds(), a.prepare(4, true, false).anchors().inputIds()));
    assertFalse(Arrays.equals(a.prepare(3, true, false).anchors().inputIds(),
        data(8, 2, 16).prepare(3, true, false).anchors().inputIds()));
    assertArrayEquals(a.prepare(3, true, false).anchors().inputIds(), b.prepare(3, true, false).anchors().inputIds());
  }

  @Test
  void tcBatchComesFromOneDatasetWithDistinctAlignedRows() {
    TrainingData d = data(1, 2, 16);
    for (long step = 0; step < 300; step++) {
      StepBatches s = d.prepare(step, true, false);
      assertNull(s.ner());
      assertNull(s.nerLabels());
      Batch a = s.anchors(), p = s.positives();
      int expected = Math.min(TC_BATCH, SIZES.get(s.tcDataset()));
      assertEquals(expected, a.batchSize(), "batch size is capped by the dataset's size");
      assertEquals(expected, p.batchSize());
      Set<String> rows = new HashSet<>();
      int previousLength = 0;
      long tokens = 0;
      for (int r = 0; r < a.batchSize(); r++) {
        String row = anchorOf.get(at(a, r, 1));
        assertTrue(row.startsWith(s.tcDataset() + ":"), "row " + row + " in a batch of " + s.tcDataset());
        rows.add(row);
        // The positive of anchor r is row r of the positives: "[CLS] pos w [SEP]".
        assertEquals(at(a, r, 1), at(p, r, 2), "anchor and positive rows stay aligned after sorting");
        int length = 0;
        for (int t = 0; t < a.seqLen(); t++) length += (int) a.attentionMask()[r * a.seqLen() + t];
        assertTrue(length >= previousLength, "anchors sorted by length");
        previousLength = length;
        for (int t = length; t < a.seqLen(); t++) assertEquals(tokenizer.padId(), at(a, r, t));
        tokens += length + 4;  // positives: [CLS] pos w [SEP]
      }
      assertEquals(a.batchSize(), rows.size(), "rows of a batch are distinct");
      assertEquals(tokens, s.tokens());
    }
  }

  @Test
  void datasetsAreDrawnInProportionToTheirSize() {
    TrainingData d = data(3, 2, 16);
    Map<String, Integer> counts = new HashMap<>();
    int steps = 3000;
    for (long step = 0; step < steps; step++) counts.merge(d.prepare(step, true, false).tcDataset(), 1, Integer::sum);
    double total = SIZES.values().stream().mapToInt(Integer::intValue).sum();
    for (String name : SIZES.keySet()) {
      double share = counts.getOrDefault(name, 0) / (double) steps, expected = SIZES.get(name) / total;
      assertEquals(expected, share, 0.035, name + " drawn " + counts + " times");
    }
  }

  @Test
  void nerLabelsSitOnFirstSubTokensOnly() {
    // [CLS] alpha play ##ing the [SEP] / [CLS] beta un ##aff ##able cat . [SEP] / [CLS] gamma [SEP] / [CLS] delta cat [SEP]
    Map<String, long[]> expected = Map.of(
        "alpha", new long[] {-100, 0, 1, -100, 2, -100},
        "beta", new long[] {-100, 2, -100, -100, -100, 1, 0, -100},
        "gamma", new long[] {-100, 1, -100},
        "delta", new long[] {-100, 1, 0, -100});
    checkNer(data(5, 16, 16).prepare(2, false, true), expected, 4);
    // Truncated to 4 tokens: words past the cut carry no label.
    Map<String, long[]> cut = Map.of(
        "alpha", new long[] {-100, 0, 1, -100},
        "beta", new long[] {-100, 2, -100, -100},
        "gamma", new long[] {-100, 1, -100},
        "delta", new long[] {-100, 1, 0, -100});
    checkNer(data(5, 16, 4).prepare(9, false, true), cut, 4);
    // A batch smaller than the corpus: distinct sentences.
    StepBatches two = data(5, 2, 16).prepare(0, true, true);
    assertEquals(2, two.ner().batchSize());
    assertTrue(at(two.ner(), 0, 1) != at(two.ner(), 1, 1));
    assertEquals(TC_BATCH, two.anchors().batchSize());
  }

  private void checkNer(StepBatches s, Map<String, long[]> expected, int rows) {
    assertNull(s.anchors());
    assertNull(s.tcDataset());
    Batch b = s.ner();
    assertEquals(rows, b.batchSize());
    assertEquals(b.inputIds().length, s.nerLabels().length);
    Set<String> seen = new HashSet<>();
    long tokens = 0;
    for (int r = 0; r < rows; r++) {
      String first = tokenizer.idToToken((int) at(b, r, 1));
      seen.add(first);
      long[] want = Arrays.copyOf(expected.get(first), b.seqLen());
      Arrays.fill(want, expected.get(first).length, want.length, -100);  // padding carries no label
      assertArrayEquals(want, Arrays.copyOfRange(s.nerLabels(), r * b.seqLen(), (r + 1) * b.seqLen()), first);
      tokens += expected.get(first).length;
    }
    assertEquals(expected.keySet(), seen);
    assertEquals(tokens, s.tokens());
  }

  @Test
  void tooSmallDatasetIsAnError() {
    List<PairDataset> one = List.of(new PairDataset("tiny", List.of(new TextPair("a", "b"))));
    MtpfException e = assertThrows(MtpfException.class, () -> new TrainingData(one, null, tokenizer, 4, 16, 4, 16, 1));
    assertTrue(e.getMessage().contains("'tiny' has fewer than 2 pairs"), e.getMessage());
    TrainingData none = new TrainingData(null, null, tokenizer, 4, 16, 4, 16, 1);
    assertFalse(none.hasTc() || none.hasNer());
    assertTrue(data(1, 2, 16).hasTc() && data(1, 2, 16).hasNer());
  }

  @ParameterizedTest
  @CsvSource({"1, 1", "5, 1", "5, 5", "10, 3", "1000, 64", "64, 64"})
  void distinctDrawsKDifferentIndicesBelowN(int n, int k) {
    SplittableRandom rng = new SplittableRandom(n * 31L + k);
    for (int trial = 0; trial < 50; trial++) {
      int[] draw = TrainingData.distinct(rng, n, k);
      assertEquals(k, draw.length);
      assertEquals(k, IntStream.of(draw).distinct().count(), Arrays.toString(draw));
      assertTrue(IntStream.of(draw).allMatch(i -> i >= 0 && i < n), Arrays.toString(draw));
    }
  }

  @Test
  void distinctIsUniformOverIndices() {
    SplittableRandom rng = new SplittableRandom(11);
    int n = 10, k = 3, trials = 20000;
    int[] hits = new int[n];
    for (int t = 0; t < trials; t++) for (int i : TrainingData.distinct(rng, n, k)) hits[i]++;
    for (int h : hits) assertEquals(trials * k / (double) n, h, trials * k / (double) n * 0.08, Arrays.toString(hits));
  }
}
