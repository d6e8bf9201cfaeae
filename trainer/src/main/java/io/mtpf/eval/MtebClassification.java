package io.mtpf.eval;

import io.mtpf.MtpfException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * MTEB's classification protocol (paper §3, Appendix A), as mteb 1.x's AbsTaskClassification runs it with its
 * default "logReg" method, on embeddings the caller computed (train and test; the test ones once for all
 * experiments):
 * <ol>
 *   <li>n_experiments times (10): shuffle the index order carried over from the previous experiment (0..n-1 at
 *       first) with a fresh numpy {@code RandomState(seed)} (seed 42), and keep, in that order, the first
 *       samples_per_label rows of each label (mteb's {@code _undersample_data});
 *   <li>fit sklearn's {@code LogisticRegression(n_jobs=-1, max_iter=100)} on the kept rows' raw (unscaled) embeddings
 *       and predict the test set ({@link LogisticRegression});
 *   <li>score it ({@link ClassificationScores}); the result is each score's mean over the experiments.
 * </ol>
 * Why a fresh RandomState every experiment: mteb 1.x shuffles with numpy's global RNG ({@code np.random.shuffle}),
 * and the evaluator it builds right after each shuffle reseeds that RNG ({@code Evaluator.__init__:
 * np.random.seed(42)}); so every shuffle but the first starts from seed 42 (the first too: the task's constructor
 * seeds it). mteb 2 writes exactly this ({@code np.random.RandomState(self.seed).shuffle(idxs)}, "for backward
 * compatibility with v1"). The permutation is the same each time; the order it permutes is what carries over.
 * {@link NumpyRandomState} is numpy's legacy MT19937 and shuffle, bit for bit.
 */
public final class MtebClassification {
  /** mteb's defaults. */
  public static final int EXPERIMENTS = 10;
  public static final int SAMPLES_PER_LABEL = 8;
  public static final long SEED = 42;
  public static final int MAX_ITER = 100;
  public static final double C = 1.0;

  private MtebClassification() {}

  /** The protocol with a task's settings from {@link MtebTasks} (its samples_per_label and n_experiments, seed 42). */
  public static ClassificationScores evaluate(MtebTasks.Task task, float[][] trainEmb, int[] trainLabels,
                                              float[][] testEmb, int[] testLabels) {
    return evaluate(trainEmb, trainLabels, testEmb, testLabels, task.samplesPerLabel(), task.experiments(), SEED);
  }

  /**
   * The protocol on embeddings [rows][dim] with labels >= 0 (for a binary task the positive label, the one
   * average precision is of, is the larger one, as 1 of mteb's 0/1 labels).
   */
  public static ClassificationScores evaluate(float[][] trainEmb, int[] trainLabels, float[][] testEmb,
                                              int[] testLabels, int samplesPerLabel, int nExperiments, long seed) {
    if (trainEmb.length != trainLabels.length || testEmb.length != testLabels.length)
      throw new MtpfException("MTEB classification: " + trainEmb.length + " train embeddings for " + trainLabels.length
          + " labels, " + testEmb.length + " test embeddings for " + testLabels.length + " labels");
    if (trainEmb.length == 0 || testEmb.length == 0) throw new MtpfException("MTEB classification: empty split");
    for (int label : testLabels)
      if (label < 0) throw new MtpfException("MTEB classification: negative test label " + label);
    int dim = trainEmb[0].length;
    float[] test = LogisticRegression.flatten(testEmb, dim, "test");
    List<ClassificationScores.Experiment> experiments = new ArrayList<>();
    for (int[] kept : undersample(trainLabels, samplesPerLabel, nExperiments, seed)) {
      float[] x = new float[kept.length * dim];
      int[] y = new int[kept.length];
      for (int r = 0; r < kept.length; r++) {
        float[] row = trainEmb[kept[r]];
        if (row.length != dim)
          throw new MtpfException("training row " + kept[r] + " has " + row.length + " values, expected " + dim);
        System.arraycopy(row, 0, x, r * dim, dim);
        y[r] = trainLabels[kept[r]];
      }
      var fit = LogisticRegression.fitPredict(x, dim, y, test, C, MAX_ITER);
      int[] labels = distinct(y);
      double ap = labels.length == 2
          ? ClassificationScores.averagePrecisionOfHardPredictions(testLabels, fit.predictions(), labels[1])
          : Double.NaN;
      experiments.add(new ClassificationScores.Experiment(
          ClassificationScores.accuracy(testLabels, fit.predictions()),
          ClassificationScores.macroF1(testLabels, fit.predictions()),
          ClassificationScores.weightedF1(testLabels, fit.predictions()),
          ap, fit.iterations(), fit.converged()));
    }
    return ClassificationScores.of(experiments);
  }

  /**
   * The training rows each experiment keeps, in mteb's order: per experiment, the carried-over index order is
   * shuffled by a fresh {@code RandomState(seed)}, then the first samplesPerLabel indices of each label are kept.
   */
  public static int[][] undersample(int[] labels, int samplesPerLabel, int nExperiments, long seed) {
    if (samplesPerLabel < 1 || nExperiments < 1)
      throw new MtpfException("MTEB classification: samplesPerLabel (" + samplesPerLabel + ") and experiments ("
          + nExperiments + ") must be positive");
    int[] idxs = new int[labels.length];
    for (int i = 0; i < idxs.length; i++) idxs[i] = i;
    int[][] kept = new int[nExperiments][];
    for (int e = 0; e < nExperiments; e++) {
      new NumpyRandomState(seed).shuffle(idxs);
      Map<Integer, Integer> counter = new HashMap<>();
      int[] out = new int[idxs.length];
      int count = 0;
      for (int i : idxs) {
        int seen = counter.getOrDefault(labels[i], 0);
        if (seen < samplesPerLabel) {
          out[count++] = i;
          counter.put(labels[i], seen + 1);
        }
      }
      kept[e] = Arrays.copyOf(out, count);
    }
    return kept;
  }

  private static int[] distinct(int[] y) {
    return Arrays.stream(y).distinct().sorted().toArray();
  }

  /**
   * numpy's legacy {@code RandomState} (MT19937) for an integer seed, with its {@code shuffle}: seeding is
   * init_genrand(seed) (numpy's {@code mt19937_seed}; not init_by_array, which numpy uses for array seeds), the
   * output is MT19937's tempered 32-bit words, and {@code shuffle} is Fisher-Yates from the end with
   * {@code random_interval(i)} (the smallest all-ones mask >= i, redrawn until the masked word is <= i).
   */
  public static final class NumpyRandomState {
    private static final int N = 624, M = 397;
    private final int[] mt = new int[N];
    private int pos;

    /** @param seed in [0, 2^32), as numpy requires */
    public NumpyRandomState(long seed) {
      if (seed < 0 || seed > 0xFFFFFFFFL)
        throw new IllegalArgumentException("numpy seed must be between 0 and 2**32 - 1, got " + seed);
      mt[0] = (int) seed;
      for (int i = 1; i < N; i++) mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
      pos = N;
    }

    /** The next 32-bit word, as an unsigned value (numpy's next_uint32). */
    public long nextUint32() {
      if (pos == N) generate();
      int y = mt[pos++];
      y ^= y >>> 11;
      y ^= (y << 7) & 0x9d2c5680;
      y ^= (y << 15) & 0xefc60000;
      y ^= y >>> 18;
      return y & 0xFFFFFFFFL;
    }

    /** Uniform in [0, max] (numpy's random_interval). */
    public long randomInterval(long max) {
      if (max < 0) throw new IllegalArgumentException("max must be >= 0, got " + max);
      if (max == 0) return 0;
      long mask = max;
      mask |= mask >>> 1;
      mask |= mask >>> 2;
      mask |= mask >>> 4;
      mask |= mask >>> 8;
      mask |= mask >>> 16;
      mask |= mask >>> 32;
      long value;
      if (max <= 0xFFFFFFFFL) {
        while ((value = nextUint32() & mask) > max) {}
      } else {  // next_uint64: the high word first
        while ((value = ((nextUint32() << 32) | nextUint32()) & mask) > max) {}
      }
      return value;
    }

    /** numpy's RandomState.shuffle of a 1-D array, in place. */
    public void shuffle(int[] x) {
      for (int i = x.length - 1; i > 0; i--) {
        int j = (int) randomInterval(i);
        int t = x[i];
        x[i] = x[j];
        x[j] = t;
      }
    }

    /** numpy's RandomState.permutation(n). */
    public int[] permutation(int n) {
      int[] p = new int[n];
      for (int i = 0; i < n; i++) p[i] = i;
      shuffle(p);
      return p;
    }

    private void generate() {
      for (int k = 0; k < N; k++) {
        int y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
        mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
      }
      pos = 0;
    }
  }
}
