package io.mtpf.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mtpf.eval.LogisticRegressionTest.Data;
import io.mtpf.eval.MtebClassification.NumpyRandomState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MTEB's classification protocol: numpy's RNG bit for bit, the undersampling, the metrics against hand-worked and
 * scikit-learn values, and the whole protocol against scripts/logreg_oracle.py's replica of mteb 1.x where present.
 */
class MtebClassificationTest {
  @TempDir Path tmp;

  @Test
  void numpyRandomStateMatchesNumpy() {
    // /usr/bin/python3, numpy 1.24.2:
    //   np.random.RandomState(s).randint(0, 2**32, size=n, dtype=np.uint64) (the raw 32-bit words)
    //   np.random.RandomState(42).permutation(10)
    //   a = np.arange(1000); np.random.RandomState(42).shuffle(a); a[:8], a[-4:]; shuffled again the same way: a[:8]
    //   l = list(range(20)); np.random.RandomState(7).shuffle(l)
    long[][] words = {{42, 1608637542L, 3421126067L, 4083286876L, 787846414L, 3143890026L},
        {0, 2357136044L, 2546248239L, 3071714933L}, {4294967295L, 419326371L, 479346978L, 3918654476L}};
    for (long[] w : words) {
      NumpyRandomState rng = new NumpyRandomState(w[0]);
      for (int i = 1; i < w.length; i++) assertEquals(w[i], rng.nextUint32(), "seed " + w[0] + ", word " + i);
    }
    assertArrayEquals(new int[] {8, 1, 5, 0, 7, 2, 9, 4, 3, 6}, new NumpyRandomState(42).permutation(10));
    int[] a = new NumpyRandomState(42).permutation(1000);
    assertArrayEquals(new int[] {521, 737, 740, 660, 411, 678, 626, 513}, Arrays.copyOf(a, 8));
    assertArrayEquals(new int[] {270, 860, 435, 102}, Arrays.copyOfRange(a, 996, 1000));
    new NumpyRandomState(42).shuffle(a);
    assertArrayEquals(new int[] {666, 129, 784, 152, 920, 945, 48, 15}, Arrays.copyOf(a, 8));
    assertArrayEquals(new int[] {1, 17, 2, 5, 11, 0, 18, 6, 13, 19, 10, 14, 8, 16, 9, 12, 7, 3, 4, 15},
        new NumpyRandomState(7).permutation(20));
    assertThrows(IllegalArgumentException.class, () -> new NumpyRandomState(1L << 32));
  }

  @Test
  void undersamplingKeepsSamplesPerLabelAndCarriesTheOrderOver() {
    int n = 500;
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) labels[i] = i < 10 ? 3 : i % 4;  // label 3 also has extra rows; 4 labels
    labels[499] = 7;  // a label with one row: kept once
    int[][] kept = MtebClassification.undersample(labels, 8, 10, 42);
    assertEquals(10, kept.length);
    int[] order = new int[n];
    for (int i = 0; i < n; i++) order[i] = i;
    int[] perm = new NumpyRandomState(42).permutation(n);
    for (int e = 0; e < 10; e++) {
      // The index order is the previous one permuted by RandomState(42)'s permutation: the shuffle carries over.
      int[] next = new int[n];
      for (int i = 0; i < n; i++) next[i] = order[perm[i]];
      order = next;
      Map<Integer, Integer> counts = new HashMap<>();
      for (int i : kept[e]) counts.merge(labels[i], 1, Integer::sum);
      assertEquals(Map.of(0, 8, 1, 8, 2, 8, 3, 8, 7, 1), counts, "experiment " + e);
      // ... and the kept rows are the first ones of each label in that order, in that order.
      int[] expected = Arrays.stream(order).filter(new java.util.function.IntPredicate() {
        final Map<Integer, Integer> seen = new HashMap<>();

        @Override
        public boolean test(int i) {
          return seen.merge(labels[i], 1, Integer::sum) <= 8;
        }
      }).toArray();
      assertArrayEquals(expected, kept[e], "experiment " + e);
    }
    assertFalse(Arrays.equals(kept[0], kept[1]));
    assertArrayEquals(kept[3], MtebClassification.undersample(labels, 8, 10, 42)[3]);  // deterministic
    assertFalse(Arrays.equals(kept[0], MtebClassification.undersample(labels, 8, 1, 43)[0]));
  }

  @Test
  void metricsMatchHandWorkedValues() {
    int[] truth = {0, 0, 1, 1, 2, 2};
    int[] pred = {0, 1, 1, 1, 0, 3};  // label 3 only predicted: it joins the macro average with F1 0
    assertEquals(0.5, ClassificationScores.accuracy(truth, pred), 1e-12);
    // F1: label 0: tp 1, fp 1, fn 1 -> 0.5; label 1: tp 2, fp 1 -> 0.8; label 2: 0; label 3: 0.
    assertEquals((0.5 + 0.8) / 4, ClassificationScores.macroF1(truth, pred), 1e-12);
    assertEquals((2 * 0.5 + 2 * 0.8) / 6, ClassificationScores.weightedF1(truth, pred), 1e-12);
    // sklearn: average_precision_score([0,0,1,1,1,0], [0,1,1,0,1,0]) = 2/3 * 2/3 + 1/3 * 1/2 = 0.6111...
    assertEquals(2.0 / 3 * 2.0 / 3 + 1.0 / 3 * 0.5,
        ClassificationScores.averagePrecisionOfHardPredictions(new int[] {0, 0, 1, 1, 1, 0},
            new int[] {0, 1, 1, 0, 1, 0}, 1), 1e-12);
    assertEquals(0.5, ClassificationScores.averagePrecisionOfHardPredictions(new int[] {0, 1}, new int[] {0, 0}, 1));
  }

  @Test
  void evaluateReportsMeansOverExperiments() {
    Data multi = LogisticRegressionTest.gaussian(4, 16, 400, 400, 1.5, 0.0, 5);
    ClassificationScores s =
        MtebClassification.evaluate(multi.x(), multi.y(), multi.xTest(), multi.yTest(), 8, 10, 42);
    assertEquals(10, s.experiments().size());
    assertEquals(s.experiments().stream().mapToDouble(ClassificationScores.Experiment::accuracy).average().orElseThrow(),
        s.accuracy(), 1e-12);
    assertTrue(s.accuracy() > 0.5 && s.accuracy() <= 1, "accuracy " + s.accuracy());
    assertTrue(s.accuracyStd() > 0, "experiments on different samples should differ");
    assertFalse(s.binary());
    assertTrue(Double.isNaN(s.ap()));
    assertEquals(s, MtebClassification.evaluate(multi.x(), multi.y(), multi.xTest(), multi.yTest(), 8, 10, 42));

    Data binary = LogisticRegressionTest.gaussian(2, 16, 200, 200, 0.5, 0.0, 6);
    ClassificationScores b = MtebClassification.evaluate(MtebTasks.byName("AmazonCounterfactual").orElseThrow(),
        binary.x(), binary.y(), binary.xTest(), binary.yTest());
    assertTrue(b.binary());
    assertTrue(b.ap() > 0.5 && b.ap() <= 1, "ap " + b.ap());
  }

  @Test
  void taskTableFollowsMteb() {
    assertEquals(16, MtebTasks.ALL.size());
    assertEquals(8, MtebTasks.availableHere().size());
    assertEquals(16, MtebTasks.byName("EmotionClassification").orElseThrow().samplesPerLabel());
    assertEquals(32, MtebTasks.byName("TweetSentiment").orElseThrow().samplesPerLabel());
    assertEquals(32, MtebTasks.byName("AmazonCounterfactualClassification").orElseThrow().samplesPerLabel());
    var toxic = MtebTasks.byName("ToxicConversations").orElseThrow();
    assertEquals(16, toxic.samplesPerLabel());
    assertEquals(2048, toxic.testSubsample());
    assertFalse(toxic.availableHere());
    assertEquals("banking77", MtebTasks.byName("banking77").orElseThrow().folder());
    assertEquals("Bank.", MtebTasks.byName("banking77").orElseThrow().abbreviation());
    for (var t : MtebTasks.ALL) assertEquals(10, t.experiments(), t.mtebName());
    Path data = Path.of(System.getProperty("mtpf.data.dir", "../shared/data"));
    if (Files.isDirectory(data)) {
      for (var t : MtebTasks.availableHere()) {
        assertTrue(Files.exists(data.resolve(t.folder()).resolve(t.trainFile() + ".jsonl.gz")), t.folder() + "/" + t.trainFile());
        assertTrue(Files.exists(data.resolve(t.folder()).resolve(t.evalFile() + ".jsonl.gz")), t.folder() + "/" + t.evalFile());
      }
    } else {
      System.out.println("SKIPPED (file check): " + data.toAbsolutePath() + " not found");
    }
  }

  @Test
  void protocolMatchesMtebReplicaWithSklearn() throws Exception {
    LogisticRegressionTest.assumeSklearn();
    // A 6-class and a binary task of unscaled, offset "embeddings"; the replica (numpy's RandomState, sklearn's
    // LogisticRegression and metrics) keeps the same rows and scores each experiment the same.
    Data[] cases = {LogisticRegressionTest.gaussian(6, 64, 600, 800, 0.4, 1.0, 7),
        LogisticRegressionTest.gaussian(2, 64, 300, 600, 0.3, 1.0, 8)};
    int[] samplesPerLabel = {8, 32};
    for (int c = 0; c < cases.length; c++) {
      Data d = cases[c];
      Path dir = Files.createDirectories(tmp.resolve("case" + c));
      JsonNode theirs = LogisticRegressionTest.oracle(dir, "mteb", d, "--samples-per-label",
          Integer.toString(samplesPerLabel[c]), "--n-experiments", "10", "--seed", "42");
      int[][] kept = MtebClassification.undersample(d.y(), samplesPerLabel[c], 10, 42);
      ClassificationScores ours =
          MtebClassification.evaluate(d.x(), d.y(), d.xTest(), d.yTest(), samplesPerLabel[c], 10, 42);
      for (int e = 0; e < 10; e++) {
        JsonNode exp = theirs.get("experiments").get(e);
        assertArrayEquals(LogisticRegressionTest.ints(exp.get("train_indices")), kept[e], "case " + c + ", experiment " + e);
        JsonNode sc = exp.get("scores");
        var mine = ours.experiments().get(e);
        assertEquals(sc.get("accuracy").asDouble(), mine.accuracy(), 0.005, "case " + c + ", experiment " + e);
        assertEquals(sc.get("f1").asDouble(), mine.f1(), 0.01, "case " + c + ", experiment " + e);
        assertEquals(sc.get("f1_weighted").asDouble(), mine.f1Weighted(), 0.01, "case " + c + ", experiment " + e);
        if (sc.has("ap")) assertEquals(sc.get("ap").asDouble(), mine.ap(), 0.01, "case " + c + ", experiment " + e);
        else assertTrue(Double.isNaN(mine.ap()));
      }
      JsonNode means = theirs.get("means");
      System.out.printf("case %d: accuracy %.5f (replica %.5f), f1 %.5f (%.5f)%s%n", c, ours.accuracy(),
          means.get("accuracy").asDouble(), ours.f1(), means.get("f1").asDouble(),
          means.has("ap") ? String.format(", ap %.5f (%.5f)", ours.ap(), means.get("ap").asDouble()) : "");
      assertEquals(means.get("accuracy").asDouble(), ours.accuracy(), 0.005);
      assertNotEquals(0.0, ours.accuracyStd());
    }
  }
}
