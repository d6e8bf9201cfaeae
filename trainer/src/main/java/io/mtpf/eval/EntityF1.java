package io.mtpf.eval;

import io.mtpf.runtime.BioDecoder.Chunk;
import io.mtpf.runtime.BioDecoder;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Entity-level precision, recall and F1 for NER, computed as seqeval does in its default (conlleval-compatible)
 * mode: {@code f1_score}, {@code precision_score}, {@code recall_score} (micro) and {@code classification_report}
 * (per type, micro, macro, weighted). Entities come from {@link BioDecoder#chunksOfSentences}; a predicted entity is
 * correct only when its type, first and last word all match a gold one. A ratio whose denominator is 0 is 0.0
 * (seqeval's default {@code zero_division}); the macro average over no entity types at all is NaN, as numpy's mean
 * of an empty array. Sums follow numpy's pairwise summation so that macro and weighted averages agree with seqeval to
 * the last bit.
 */
public final class EntityF1 {
  private EntityF1() {}

  /**
   * One row of the report. {@code support} is the number of gold entities (seqeval's name); {@code predicted} and
   * {@code correct} are the predicted and the correctly predicted entities (summed over types for the averages).
   */
  public record Scores(double precision, double recall, double f1, int support, int predicted, int correct) {}

  /** The report: averages and one row per entity type (types in sorted order, every type gold or predicted). */
  public record Report(Scores micro, Scores macro, Scores weighted, SortedMap<String, Scores> byType) {
    /** The number the paper reports: micro F1 over all entities. */
    public double f1() {
      return micro.f1();
    }

    /** A text table in the layout of seqeval's classification_report. */
    public String table(int digits) {
      int width = "weighted avg".length();
      for (String type : byType.keySet()) width = Math.max(width, type.length());
      StringBuilder sb = new StringBuilder();
      sb.append(String.format(Locale.ROOT, "%" + width + "s  %9s %9s %9s %9s%n%n", "", "precision", "recall", "f1-score", "support"));
      String row = "%" + width + "s  %9." + digits + "f %9." + digits + "f %9." + digits + "f %9d%n";
      byType.forEach((type, s) -> sb.append(String.format(Locale.ROOT, row, type, s.precision(), s.recall(), s.f1(), s.support())));
      sb.append(String.format("%n"));
      String[] names = {"micro avg", "macro avg", "weighted avg"};
      Scores[] averages = {micro, macro, weighted};
      for (int i = 0; i < names.length; i++) {
        Scores s = averages[i];
        sb.append(String.format(Locale.ROOT, row, names[i], s.precision(), s.recall(), s.f1(), s.support()));
      }
      return sb.toString();
    }
  }

  /** Micro F1, seqeval's {@code f1_score(gold, predicted)}. */
  public static double f1(List<? extends List<String>> gold, List<? extends List<String>> predicted) {
    return evaluate(gold, predicted).micro().f1();
  }

  /**
   * The full report for gold and predicted tag sequences, one list per sentence. Both must have the same number of
   * sentences and the same length sentence by sentence (seqeval's {@code check_consistent_length}).
   */
  public static Report evaluate(List<? extends List<String>> gold, List<? extends List<String>> predicted) {
    checkConsistentLength(gold, predicted);
    List<Chunk> goldEntities = BioDecoder.chunksOfSentences(gold);
    Set<Chunk> predictedEntities = new HashSet<>(BioDecoder.chunksOfSentences(predicted));

    // Per type: [gold, predicted, correct]; a TreeMap gives seqeval's sorted(target_names).
    TreeMap<String, int[]> counts = new TreeMap<>();
    for (Chunk e : goldEntities) {
      int[] c = counts.computeIfAbsent(e.type(), t -> new int[3]);
      c[0]++;
      if (predictedEntities.contains(e)) c[2]++;
    }
    for (Chunk e : predictedEntities) counts.computeIfAbsent(e.type(), t -> new int[3])[1]++;

    int types = counts.size();
    double[] precision = new double[types], recall = new double[types], f1 = new double[types], weight = new double[types];
    TreeMap<String, Scores> byType = new TreeMap<>();
    int goldSum = 0, predictedSum = 0, correctSum = 0, k = 0;
    for (Map.Entry<String, int[]> entry : counts.entrySet()) {
      int[] c = entry.getValue();
      Scores s = scores(c[0], c[1], c[2]);
      byType.put(entry.getKey(), s);
      precision[k] = s.precision();
      recall[k] = s.recall();
      f1[k] = s.f1();
      weight[k] = c[0];
      k++;
      goldSum += c[0];
      predictedSum += c[1];
      correctSum += c[2];
    }

    Scores micro = scores(goldSum, predictedSum, correctSum);
    Scores macro = new Scores(mean(precision), mean(recall), mean(f1), goldSum, predictedSum, correctSum);
    Scores weighted;
    if (goldSum == 0) {
      // seqeval: with no gold entities the weighted average is the zero_division value (0.0) everywhere.
      weighted = new Scores(0.0, 0.0, 0.0, 0, predictedSum, correctSum);
    } else {
      weighted = new Scores(weightedMean(precision, weight), weightedMean(recall, weight), weightedMean(f1, weight),
          goldSum, predictedSum, correctSum);
    }
    return new Report(micro, macro, weighted, Collections.unmodifiableSortedMap(byType));
  }

  /** Precision, recall and F1 from counts, with seqeval's zero_division=0 and its F1 formula (from p and r). */
  private static Scores scores(int gold, int predicted, int correct) {
    double p = predicted == 0 ? 0.0 : (double) correct / predicted;
    double r = gold == 0 ? 0.0 : (double) correct / gold;
    double denominator = p + r;
    double f = 2.0 * p * r / (denominator == 0.0 ? 1.0 : denominator);
    return new Scores(p, r, f, gold, predicted, correct);
  }

  private static void checkConsistentLength(List<? extends List<String>> gold, List<? extends List<String>> predicted) {
    boolean same = gold.size() == predicted.size();
    for (int i = 0; same && i < gold.size(); i++) same = gold.get(i).size() == predicted.get(i).size();
    if (!same) {
      throw new IllegalArgumentException("gold and predicted tags differ in shape: " + gold.size() + " vs "
          + predicted.size() + " sentences, or a sentence's length differs (every predicted sentence needs one tag per word)");
    }
  }

  /** numpy's {@code np.mean}: pairwise sum / n; NaN for no values. */
  static double mean(double[] values) {
    return pairwiseSum(values, 0, values.length) / values.length;
  }

  /** numpy's {@code np.average(a, weights=w)}: sum(a * w) / sum(w), both summed pairwise. */
  static double weightedMean(double[] values, double[] weights) {
    double[] products = new double[values.length];
    for (int i = 0; i < values.length; i++) products[i] = values[i] * weights[i];
    return pairwiseSum(products, 0, products.length) / pairwiseSum(weights, 0, weights.length);
  }

  /**
   * numpy's pairwise summation of float64 (what {@code np.sum} does on a contiguous array): a plain loop below 8
   * values, 8 interleaved partial sums up to 128, halves (at a multiple of 8) above. Same order, same rounding.
   */
  static double pairwiseSum(double[] a, int from, int n) {
    if (n < 8) {
      double res = 0.0;
      for (int i = 0; i < n; i++) res += a[from + i];
      return res;
    } else if (n <= 128) {
      double[] r = new double[8];
      System.arraycopy(a, from, r, 0, 8);
      int i;
      for (i = 8; i < n - (n % 8); i += 8) {
        for (int j = 0; j < 8; j++) r[j] += a[from + i + j];
      }
      double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < n; i++) res += a[from + i];
      return res;
    } else {
      int n2 = n / 2;
      n2 -= n2 % 8;
      return pairwiseSum(a, from, n2) + pairwiseSum(a, from + n2, n - n2);
    }
  }
}
