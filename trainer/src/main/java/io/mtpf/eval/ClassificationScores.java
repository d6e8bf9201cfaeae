package io.mtpf.eval;

import java.util.List;
import java.util.TreeSet;

/**
 * The scores of one MTEB classification evaluation: each experiment's, and their mean and population standard
 * deviation (numpy's default, ddof 0). The main score is accuracy, as MTEB's. The metrics are scikit-learn's, as
 * mteb 1.x's logRegClassificationEvaluator calls them: {@code accuracy_score}, {@code f1_score(average="macro")}
 * and {@code "weighted"} (over the labels present in the truth or the predictions), and for a binary task (two
 * labels in the experiment's training sample) {@code average_precision_score(y_test, y_pred)} on the hard
 * predictions, as mteb passes them (not on probabilities); otherwise ap is NaN.
 *
 * @param experiments one entry per experiment, in order
 */
public record ClassificationScores(
    double accuracy, double accuracyStd, double f1, double f1Std, double f1Weighted, double f1WeightedStd,
    double ap, double apStd, List<Experiment> experiments) {

  /**
   * One experiment: a logistic regression fitted on one undersampled training set, scored on the test set.
   *
   * @param ap NaN unless the training sample had exactly two labels
   * @param iterations L-BFGS iterations of the fit
   * @param converged false where the fit stopped at its iteration limit (sklearn's ConvergenceWarning)
   */
  public record Experiment(double accuracy, double f1, double f1Weighted, double ap, int iterations,
                           boolean converged) {}

  public ClassificationScores {
    experiments = List.copyOf(experiments);
  }

  /** Means and standard deviations of the experiments. */
  public static ClassificationScores of(List<Experiment> experiments) {
    if (experiments.isEmpty()) throw new IllegalArgumentException("no experiments to summarise");
    double[] acc = experiments.stream().mapToDouble(Experiment::accuracy).toArray();
    double[] f1 = experiments.stream().mapToDouble(Experiment::f1).toArray();
    double[] f1w = experiments.stream().mapToDouble(Experiment::f1Weighted).toArray();
    double[] ap = experiments.stream().mapToDouble(Experiment::ap).toArray();
    return new ClassificationScores(mean(acc), std(acc), mean(f1), std(f1), mean(f1w), std(f1w), mean(ap), std(ap),
        experiments);
  }

  /** MTEB's main score for classification. */
  public double mainScore() {
    return accuracy;
  }

  public boolean binary() {
    return !Double.isNaN(ap);
  }

  /** Fraction of equal entries. */
  public static double accuracy(int[] truth, int[] predicted) {
    checkLengths(truth, predicted);
    int correct = 0;
    for (int i = 0; i < truth.length; i++) if (truth[i] == predicted[i]) correct++;
    return (double) correct / truth.length;
  }

  /** Unweighted mean of the per-label F1 over the labels in truth or predictions (F1 = 0 where tp = 0). */
  public static double macroF1(int[] truth, int[] predicted) {
    return f1(truth, predicted, false);
  }

  /** Per-label F1 averaged with weights = each label's count in truth. */
  public static double weightedF1(int[] truth, int[] predicted) {
    return f1(truth, predicted, true);
  }

  /**
   * scikit-learn's average_precision_score(truth == positive, score) for a score that takes two values, here
   * predicted == positive: the precision at the threshold "predicted positive" times its recall, plus the base rate
   * times the remaining recall. NaN when truth has no positive.
   */
  public static double averagePrecisionOfHardPredictions(int[] truth, int[] predicted, int positive) {
    checkLengths(truth, predicted);
    int positives = 0, tp = 0, fp = 0;
    for (int i = 0; i < truth.length; i++) {
      boolean isPositive = truth[i] == positive;
      if (isPositive) positives++;
      if (predicted[i] == positive) {
        if (isPositive) tp++;
        else fp++;
      }
    }
    if (positives == 0) return Double.NaN;
    double baseRate = (double) positives / truth.length;
    if (tp + fp == 0) return baseRate;  // one threshold only: everything positive
    double recall = (double) tp / positives;
    double precision = (double) tp / (tp + fp);
    return recall * precision + (1 - recall) * baseRate;
  }

  private static double f1(int[] truth, int[] predicted, boolean weighted) {
    checkLengths(truth, predicted);
    TreeSet<Integer> labels = new TreeSet<>();
    for (int v : truth) labels.add(v);
    for (int v : predicted) labels.add(v);
    double sum = 0, weights = 0;
    for (int label : labels) {
      int tp = 0, fp = 0, fn = 0;
      for (int i = 0; i < truth.length; i++) {
        boolean t = truth[i] == label, p = predicted[i] == label;
        if (t && p) tp++;
        else if (p) fp++;
        else if (t) fn++;
      }
      double f1 = tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
      double w = weighted ? tp + fn : 1;
      sum += w * f1;
      weights += w;
    }
    return weights == 0 ? 0 : sum / weights;
  }

  private static void checkLengths(int[] truth, int[] predicted) {
    if (truth.length != predicted.length || truth.length == 0)
      throw new IllegalArgumentException(
          "truth and predictions must be non-empty and equally long, got " + truth.length + " and " + predicted.length);
  }

  private static double mean(double[] v) {
    double s = 0;
    for (double x : v) s += x;
    return s / v.length;
  }

  private static double std(double[] v) {
    double m = mean(v), s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return Math.sqrt(s / v.length);
  }
}
