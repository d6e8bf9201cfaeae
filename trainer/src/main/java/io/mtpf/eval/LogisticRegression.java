package io.mtpf.eval;

import io.mtpf.MtpfException;
import io.mtpf.NativeCore;
import io.mtpf.nativebind.MtpfNative;

/**
 * scikit-learn's {@code LogisticRegression(C=c, max_iter=maxIter)} in the native core (native/src/logistic_regression.h):
 * lbfgs with tol 1e-4 on the sum of the log-losses plus ||W||^2 / (2C), intercept unpenalised, in float64; multinomial
 * (softmax) for more than two labels, one logistic for two, as sklearn chooses. Its L-BFGS follows scipy's L-BFGS-B
 * iterate for iterate, so a fit stopped at maxIter (common on raw embeddings) still gives sklearn's answer. The linear
 * probe of MTEB classification ({@link MtebClassification}).
 */
public final class LogisticRegression {
  private LogisticRegression() {}

  /**
   * Predictions for the test rows, from the labels seen in training only.
   *
   * @param probabilities row-major [test rows, classes]; 0 for labels absent from the training labels
   * @param classes the largest label + 1 over the training labels
   * @param converged false where the fit stopped at maxIter (sklearn's ConvergenceWarning)
   * @param objective the minimised objective at the result
   */
  public record Result(int[] predictions, float[] probabilities, int classes, int iterations, boolean converged,
                       double objective) {
    public float probability(int row, int label) {
      return probabilities[row * classes + label];
    }
  }

  /** Fits on xTrain / yTrain (labels >= 0, at least two distinct) and predicts xTest; rows of equal length. */
  public static Result fitPredict(float[][] xTrain, int[] yTrain, float[][] xTest, double c, int maxIter) {
    if (xTrain.length == 0) throw new MtpfException("logistic regression: no training rows");
    int dim = xTrain[0].length;
    return fitPredict(flatten(xTrain, dim, "training"), dim, yTrain, flatten(xTest, dim, "test"), c, maxIter);
  }

  /** The same on row-major arrays: xTrain [yTrain.length * dim], xTest [test rows * dim]. */
  public static Result fitPredict(float[] xTrain, int dim, int[] yTrain, float[] xTest, double c, int maxIter) {
    if (dim <= 0 || xTrain.length != (long) yTrain.length * dim || yTrain.length == 0)
      throw new MtpfException("logistic regression: " + xTrain.length + " training values are not "
          + yTrain.length + " rows of dimension " + dim);
    if (xTest.length % dim != 0)
      throw new MtpfException("logistic regression: " + xTest.length + " test values are not rows of dimension " + dim);
    if (!(c > 0)) throw new MtpfException("logistic regression: C must be positive, got " + c);
    if (maxIter < 1) throw new MtpfException("logistic regression: maxIter must be positive, got " + maxIter);
    int maxLabel = -1, first = yTrain[0];
    boolean twoLabels = false;
    for (int i = 0; i < yTrain.length; i++) {
      if (yTrain[i] < 0) throw new MtpfException("logistic regression: label " + yTrain[i] + " at row " + i + " is negative");
      maxLabel = Math.max(maxLabel, yTrain[i]);
      twoLabels |= yTrain[i] != first;
    }
    if (!twoLabels) throw new MtpfException("logistic regression needs at least two labels, got only " + first);
    checkFinite(xTrain, "training");
    checkFinite(xTest, "test");
    int classes = maxLabel + 1, nTest = xTest.length / dim;
    int[] predictions = new int[nTest];
    float[] probabilities = new float[nTest * classes];
    double[] stats = new double[3];
    NativeCore.ensureThreads();
    NativeCore.call("logistic regression", () -> {
      MtpfNative.logistic_regression_fit_predict(xTrain, yTrain.length, dim, yTrain, classes, xTest, nTest, c, maxIter,
          predictions, probabilities, stats);
      return null;
    });
    return new Result(predictions, probabilities, classes, (int) stats[0], stats[1] != 0, stats[2]);
  }

  static float[] flatten(float[][] rows, int dim, String what) {
    float[] flat = new float[rows.length * dim];
    for (int i = 0; i < rows.length; i++) {
      if (rows[i].length != dim)
        throw new MtpfException(what + " row " + i + " has " + rows[i].length + " values, expected " + dim);
      System.arraycopy(rows[i], 0, flat, i * dim, dim);
    }
    return flat;
  }

  private static void checkFinite(float[] x, String what) {
    for (int i = 0; i < x.length; i++)
      if (!Float.isFinite(x[i])) throw new MtpfException("logistic regression: " + what + " features contain NaN or Inf");
  }
}
