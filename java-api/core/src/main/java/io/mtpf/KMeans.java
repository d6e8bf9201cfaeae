package io.mtpf;

import io.mtpf.nativebind.MtpfNative;

/**
 * Mini-batch k-means in the native core, following scikit-learn's MiniBatchKMeans (k-means++ init, per-centre
 * learning rate 1/count, reassignment of starved centres, early stop on smoothed inertia); runs on the GPU when
 * given a CUDA device. The NER pseudo-labels of the paper are its cluster ids over teacher word embeddings.
 */
public final class KMeans {
  private KMeans() {}

  /** Centres [k * d], labels [n], and the fit's statistics. */
  public record Result(float[] centers, int k, int dim, int[] labels, double inertia, long steps, long passes) {}

  /** @param x row-major [n, dim] */
  public static Result fit(float[] x, int dim, int k, int batchSize, int maxIter, long seed, String device) {
    if (dim <= 0 || x.length == 0 || x.length % dim != 0)
      throw new MtpfException("k-means: " + x.length + " values are not rows of dimension " + dim);
    long n = x.length / dim;
    if (k < 1 || k > n) throw new MtpfException("k-means: k = " + k + " needs between 1 and n = " + n + " points");
    for (float v : x) if (!Float.isFinite(v)) throw new MtpfException("k-means: input contains NaN or Inf");
    NativeCore.ensureThreads();
    float[] centers = new float[k * dim];
    int[] labels = new int[(int) n];
    double[] stats = new double[3];
    NativeCore.call("kmeans_fit", () -> {
      MtpfNative.kmeans_fit(x, n, dim, k, batchSize, maxIter, seed, device, centers, labels, stats);
      return null;
    });
    return new Result(centers, k, dim, labels, stats[0], (long) stats[1], (long) stats[2]);
  }

  /** Nearest-centre ids of x [n, dim]. */
  public static int[] assign(float[] x, int dim, float[] centers, int k) {
    if (dim <= 0 || x.length % dim != 0 || centers.length != k * dim)
      throw new MtpfException("k-means assign: shapes do not match (dim " + dim + ", k " + k + ")");
    int[] labels = new int[x.length / dim];
    NativeCore.call("kmeans_assign", () -> {
      MtpfNative.kmeans_assign(x, x.length / dim, dim, centers, k, labels);
      return null;
    });
    return labels;
  }
}
