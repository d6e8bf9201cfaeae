package io.mtpf.report;

import io.mtpf.eval.DownstreamDatasets;
import io.mtpf.eval.EvalResults;
import io.mtpf.eval.EvalResults.DatasetResult;
import io.mtpf.eval.EvalResults.Run;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Evaluation runs side by side as Markdown in the paper's layout (scores x 100, one decimal):
 * <ul>
 *   <li>{@link #nerTable} and {@link #tcTable}: one row per run, one column per dataset and the average (Tables 5–10);
 *   <li>{@link #summary}: NER average, TC average and their mean per run; with a baseline, its row in absolute
 *       numbers and the other rows as differences to it (Tables 1–3);
 *   <li>{@link #lowResource}: NER F1 per train fraction and run, mean ± standard deviation over seeds (Table 11);
 *   <li>{@link #singleRun}: one run's results.md, every dataset with its status, scores, sizes and timings.
 * </ul>
 * A dataset's score in a run is the mean over seeds at data fraction 1 (else at the run's largest fraction). A
 * dataset that is absent, failed or not part of a run shows "–". An average is over the paper's datasets the run has,
 * and says "(n/N)" when that is fewer than the paper's N; a user's own datasets get columns of their own but stay
 * out of averages. A difference to the baseline is taken over the datasets both runs have.
 */
public final class PaperTables {
  private PaperTables() {}

  /** A run with the name its row gets. */
  public record NamedRun(String name, EvalResults results) {}

  static final String MISSING = "–";

  // ---- per-dataset tables ----

  public static String nerTable(List<NamedRun> runs) {
    return familyTable(runs, DownstreamDatasets.Family.NER, "Average");
  }

  public static String tcTable(List<NamedRun> runs) {
    return familyTable(runs, DownstreamDatasets.Family.TC, "Avg.");
  }

  private static String familyTable(List<NamedRun> runs, DownstreamDatasets.Family family, String avgHeader) {
    List<String> paper = paperNames(family);
    List<String> user = userNames(runs, family);
    List<String> header = new ArrayList<>(List.of("Run"));
    for (String n : paper) header.add(abbreviation(n));
    header.addAll(user);
    header.add(avgHeader);
    List<List<String>> rows = new ArrayList<>();
    for (NamedRun r : runs) {
      List<String> row = new ArrayList<>(List.of(r.name()));
      for (String n : paper) row.add(fmt(score(r.results(), n)));
      for (String n : user) row.add(fmt(score(r.results(), n)));
      row.add(average(r.results(), family));
      rows.add(row);
    }
    return table(header, rows) + notes(runs, family);
  }

  /** Why datasets are missing, per run, below a table. */
  private static String notes(List<NamedRun> runs, DownstreamDatasets.Family family) {
    StringBuilder sb = new StringBuilder();
    for (NamedRun r : runs) {
      List<String> why = new ArrayList<>();
      for (DatasetResult d : r.results().datasets()) {
        if (!d.family().equals(family.label()) || d.ok()) continue;
        why.add(d.name() + " " + d.status());
      }
      if (!why.isEmpty()) sb.append("\n- ").append(r.name()).append(": ").append(String.join("; ", why));
    }
    return sb.length() == 0 ? "" : "\n" + sb.substring(1) + "\n";
  }

  // ---- summary ----

  /** Tables 1–3: NER (N DS), TC (N DS), Average; differences to {@code baseline} when given (null: absolute). */
  public static String summary(List<NamedRun> runs, NamedRun baseline) {
    int nNer = paperNames(DownstreamDatasets.Family.NER).size(), nTc = paperNames(DownstreamDatasets.Family.TC).size();
    List<String> header = List.of("Run", "NER (" + nNer + " DS)", "TC (" + nTc + " DS)", "Average");
    List<List<String>> rows = new ArrayList<>();
    List<NamedRun> ordered = new ArrayList<>();
    if (baseline != null) ordered.add(baseline);
    for (NamedRun r : runs) if (baseline == null || r != baseline) ordered.add(r);
    for (NamedRun r : ordered) {
      if (baseline == null || r == baseline) {
        Double ner = mean(r.results(), DownstreamDatasets.Family.NER, null);
        Double tc = mean(r.results(), DownstreamDatasets.Family.TC, null);
        rows.add(List.of(r.name(), withCount(ner, present(r.results(), DownstreamDatasets.Family.NER, null), nNer),
            withCount(tc, present(r.results(), DownstreamDatasets.Family.TC, null), nTc), fmt(both(ner, tc))));
      } else {
        Double ner = delta(r, baseline, DownstreamDatasets.Family.NER);
        Double tc = delta(r, baseline, DownstreamDatasets.Family.TC);
        int cNer = common(r, baseline, DownstreamDatasets.Family.NER).size();
        int cTc = common(r, baseline, DownstreamDatasets.Family.TC).size();
        rows.add(List.of(r.name(), signedWithCount(ner, cNer, nNer), signedWithCount(tc, cTc, nTc),
            signed(both(ner, tc))));
      }
    }
    String note = baseline == null ? ""
        : "\nRows after " + baseline.name() + " are differences to it, over the datasets both runs have.\n";
    return table(header, rows) + note;
  }

  private static Double delta(NamedRun r, NamedRun baseline, DownstreamDatasets.Family family) {
    List<String> names = common(r, baseline, family);
    if (names.isEmpty()) return null;
    return mean(r.results(), family, names) - mean(baseline.results(), family, names);
  }

  private static List<String> common(NamedRun a, NamedRun b, DownstreamDatasets.Family family) {
    List<String> out = new ArrayList<>();
    for (String n : paperNames(family)) if (score(a.results(), n) != null && score(b.results(), n) != null) out.add(n);
    return out;
  }

  // ---- low-resource ----

  /** Table 11: rows (fraction, run), NER columns as mean ± std (sample std over seeds), and the average. */
  public static String lowResource(List<NamedRun> runs) {
    TreeSet<Double> fractions = new TreeSet<>();
    for (NamedRun r : runs)
      for (DatasetResult d : r.results().datasets())
        if (d.family().equals("ner")) for (Run run : d.runs()) fractions.add(run.fraction());
    if (fractions.stream().allMatch(f -> f >= 1.0)) return "";
    List<String> paper = paperNames(DownstreamDatasets.Family.NER);
    List<String> user = userNames(runs, DownstreamDatasets.Family.NER);
    List<String> header = new ArrayList<>(List.of("Data portion", "Run"));
    for (String n : paper) header.add(abbreviation(n));
    header.addAll(user);
    header.add("Average");
    List<List<String>> rows = new ArrayList<>();
    for (double f : fractions) {
      boolean first = true;
      for (NamedRun r : runs) {
        List<String> row = new ArrayList<>(List.of(first ? percent(f) : "", r.name()));
        first = false;
        double sum = 0;
        int n = 0;
        for (String name : paper) {
          double[] ms = meanStd(r.results(), name, f);
          row.add(ms == null ? MISSING : fmtMeanStd(ms));
          if (ms != null) {
            sum += ms[0];
            n++;
          }
        }
        for (String name : user) {
          double[] ms = meanStd(r.results(), name, f);
          row.add(ms == null ? MISSING : fmtMeanStd(ms));
        }
        row.add(withCount(n == 0 ? null : sum / n, n, paper.size()));
        rows.add(row);
      }
    }
    return table(header, rows);
  }

  /** Mean and sample standard deviation (0 for one seed) of a dataset's runs at a fraction; null when none. */
  static double[] meanStd(EvalResults r, String dataset, double fraction) {
    DatasetResult d = r.dataset(dataset);
    if (d == null || !d.ok()) return null;
    List<Run> runs = d.at(fraction);
    if (runs.isEmpty()) return null;
    double m = runs.stream().mapToDouble(Run::main).average().orElseThrow();
    double ss = runs.stream().mapToDouble(x -> (x.main() - m) * (x.main() - m)).sum();
    return new double[] {m, runs.size() > 1 ? Math.sqrt(ss / (runs.size() - 1)) : 0, runs.size()};
  }

  // ---- one run ----

  /** results.md of one run: a row per dataset (status, main score, sizes, seconds) and the throughput figures. */
  public static String singleRun(EvalResults r) {
    var c = r.config();
    StringBuilder sb = new StringBuilder();
    sb.append("# Evaluation: ").append(c.label()).append("\n\n");
    sb.append("- suite `").append(c.suite()).append("`, task `").append(c.task()).append("`, mtpf ")
        .append(r.mtpfVersion()).append(", ").append(r.created()).append('\n');
    sb.append("- model `").append(r.model().path()).append("` (sha256 ").append(shortSha(r.model().sha256()))
        .append(")\n");
    r.adapters().forEach((k, a) -> sb.append("- ").append(k).append(" adapter `").append(a.path()).append("` (sha256 ")
        .append(shortSha(a.sha256())).append(", LoRA on ").append(a.loraLayers()).append(" layers)\n"));
    sb.append("- pooling ").append(c.pooling()).append(c.prefix().isEmpty() ? "" : ", prefix \"" + c.prefix() + "\"")
        .append(c.normalize() ? ", normalised" : "").append("; seeds ").append(c.seeds()).append(", fractions ")
        .append(c.fractions()).append("; NER epochs ").append(c.ner().headEpochs()).append(" + ")
        .append(c.ner().jointEpochs())
        .append(c.ner().roundSentences() > 0 ? " of " + c.ner().roundSentences() + " sentences" : "").append('\n');
    sb.append(String.format(Locale.ROOT, "- %.0f s in all (NER %.0f s, TC %.0f s), %d threads%n%n",
        r.timing().totalSeconds(), r.timing().nerSeconds(), r.timing().tcSeconds(), c.threads()));
    List<String> header = List.of("Dataset", "Family", "Status", "Score", "Details", "Train", "Test", "Seconds");
    List<List<String>> rows = new ArrayList<>();
    for (DatasetResult d : r.datasets()) {
      if (!d.ok()) {
        rows.add(List.of(d.name(), d.family(), d.status(), MISSING, "", "", "", ""));
        continue;
      }
      for (double f : fractions(d)) {
        List<Run> runs = d.at(f);
        double[] ms = meanStd(r, d.name(), f);
        Run first = runs.get(0);
        String details;
        if (first.tc() != null) {
          var t = first.tc();
          details = String.format(Locale.ROOT, "macro F1 %.1f%s; %d/label", 100 * t.f1(),
              t.ap() == null ? "" : String.format(Locale.ROOT, ", AP %.1f", 100 * t.ap()), t.samplesPerLabel());
        } else {
          details = String.format(Locale.ROOT, "P %.1f, R %.1f; %d seed%s", 100 * avg(runs, x -> x.ner().precision()),
              100 * avg(runs, x -> x.ner().recall()), runs.size(), runs.size() > 1 ? "s" : "");
        }
        String score = runs.size() > 1 ? fmtMeanStd(ms) : fmt(ms[0]);
        rows.add(List.of(d.name() + (f < 1 ? " @" + percent(f) : ""), d.family(), d.status(), score, details,
            Integer.toString(first.trainSize()), Integer.toString(first.testSize()),
            String.format(Locale.ROOT, "%.0f", runs.stream().mapToDouble(Run::seconds).sum())));
      }
    }
    sb.append(table(header, rows));
    sb.append('\n').append(throughput(r));
    return sb.toString();
  }

  private static String throughput(EvalResults r) {
    List<List<String>> rows = new ArrayList<>();
    for (DatasetResult d : r.datasets()) {
      for (Run run : d.runs()) {
        if (run.ner() != null) {
          rows.add(List.of(d.name(), String.format(Locale.ROOT, "NER adaptation, seed %d, fraction %s", run.seed(),
              percent(run.fraction())), String.format(Locale.ROOT, "%.1f sentences/s", run.ner().trainSentencesPerSecond())));
        } else if (run.tc() != null) {
          var t = run.tc();
          rows.add(List.of(d.name(), String.format(Locale.ROOT, "embedding (%d rows, %d cached); LR fit x %d",
              t.embeddedRows(), t.cachedRows(), t.experiments()), String.format(Locale.ROOT,
              "%s embeddings/s; LR %.2f s", t.embeddedRows() == 0 ? MISSING : String.format(Locale.ROOT, "%.0f",
                  t.embeddingsPerSecond()), t.lrSeconds())));
        }
      }
    }
    if (rows.isEmpty()) return "";
    return "## Throughput\n\n" + table(List.of("Dataset", "Work", "Rate"), rows);
  }

  // ---- helpers ----

  /** The dataset's mean main score at fraction 1 (else the largest fraction it has), or null when not ok. */
  static Double score(EvalResults r, String dataset) {
    DatasetResult d = r.dataset(dataset);
    if (d == null || !d.ok() || d.runs().isEmpty()) return null;
    List<Double> fs = fractions(d);
    double f = fs.contains(1.0) ? 1.0 : fs.get(fs.size() - 1);
    return meanStd(r, dataset, f)[0];
  }

  private static List<Double> fractions(DatasetResult d) {
    return new ArrayList<>(new TreeSet<>(d.runs().stream().map(Run::fraction).toList()));
  }

  /** Mean score over the paper's datasets of a family the run has (restricted to {@code names} when given). */
  static Double mean(EvalResults r, DownstreamDatasets.Family family, List<String> names) {
    double sum = 0;
    int n = 0;
    for (String name : names != null ? names : paperNames(family)) {
      Double s = score(r, name);
      if (s != null) {
        sum += s;
        n++;
      }
    }
    return n == 0 ? null : sum / n;
  }

  static int present(EvalResults r, DownstreamDatasets.Family family, List<String> names) {
    int n = 0;
    for (String name : names != null ? names : paperNames(family)) if (score(r, name) != null) n++;
    return n;
  }

  private static String average(EvalResults r, DownstreamDatasets.Family family) {
    return withCount(mean(r, family, null), present(r, family, null), paperNames(family).size());
  }

  private static Double both(Double a, Double b) {
    return a == null || b == null ? null : (a + b) / 2;
  }

  static List<String> paperNames(DownstreamDatasets.Family family) {
    return DownstreamDatasets.of(family).stream().map(DownstreamDatasets.Dataset::name).toList();
  }

  /** Datasets of a family in any run that the registry does not know (a user's own), in first-seen order. */
  static List<String> userNames(List<NamedRun> runs, DownstreamDatasets.Family family) {
    LinkedHashSet<String> names = new LinkedHashSet<>();
    List<String> paper = paperNames(family);
    for (NamedRun r : runs)
      for (DatasetResult d : r.results().datasets())
        if (d.family().equals(family.label()) && !paper.contains(d.name())) names.add(d.name());
    return new ArrayList<>(names);
  }

  private static String abbreviation(String name) {
    return DownstreamDatasets.byName(name).map(DownstreamDatasets.Dataset::abbreviation).orElse(name);
  }

  static String fmt(Double v) {
    return v == null ? MISSING : String.format(Locale.ROOT, "%.1f", 100 * v);
  }

  static String fmtMeanStd(double[] ms) {
    return String.format(Locale.ROOT, "%.1f ± %.1f", 100 * ms[0], 100 * ms[1]);
  }

  private static String withCount(Double v, int n, int of) {
    if (v == null) return MISSING + " (0/" + of + ")";
    return fmt(v) + (n < of ? " (" + n + "/" + of + ")" : "");
  }

  private static String signed(Double v) {
    if (v == null) return MISSING;
    String s = String.format(Locale.ROOT, "%+.1f", 100 * v);
    return s.equals("-0.0") ? "+0.0" : s;
  }

  private static String signedWithCount(Double v, int n, int of) {
    return signed(v) + (n < of ? " (" + n + "/" + of + ")" : "");
  }

  /** A data fraction as a percentage: 0.05 -> "5%", 0.001 -> "0.1%" (at most 4 decimals, no float noise). */
  static String percent(double f) {
    return java.math.BigDecimal.valueOf(100 * f).setScale(4, java.math.RoundingMode.HALF_UP).stripTrailingZeros()
        .toPlainString() + "%";
  }

  private static String shortSha(String sha) {
    return sha == null ? "?" : sha.substring(0, Math.min(12, sha.length()));
  }

  private static double avg(List<Run> runs, java.util.function.ToDoubleFunction<Run> f) {
    return runs.stream().mapToDouble(f).average().orElse(Double.NaN);
  }

  /** A Markdown table: header, separator, rows. */
  static String table(List<String> header, List<List<String>> rows) {
    StringBuilder sb = new StringBuilder();
    sb.append("| ").append(String.join(" | ", header)).append(" |\n");
    sb.append("|").append("---|".repeat(header.size())).append('\n');
    for (List<String> row : rows) sb.append("| ").append(String.join(" | ", row)).append(" |\n");
    return sb.toString();
  }

  /** Runs named by their label, made unique with "#2", "#3" where labels repeat. */
  public static List<NamedRun> name(List<EvalResults> results, List<String> fallbackNames) {
    Map<String, Integer> seen = new LinkedHashMap<>();
    List<NamedRun> out = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      String label = results.get(i).config() != null && results.get(i).config().label() != null
          ? results.get(i).config().label() : fallbackNames.get(i);
      int k = seen.merge(label, 1, Integer::sum);
      out.add(new NamedRun(k == 1 ? label : label + " #" + k, results.get(i)));
    }
    return out;
  }
}
