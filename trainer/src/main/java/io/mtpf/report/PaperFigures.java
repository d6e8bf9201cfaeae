package io.mtpf.report;

import io.mtpf.eval.DownstreamDatasets;
import io.mtpf.pretrain.Plots;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The paper's figures from runs, as PNG through {@link Plots}: Fig. 3, the §5 interference probes over
 * pre-finetuning steps (one panel per probe, one line per pre-finetuning run, from its metrics.jsonl), and Fig. 4,
 * downstream NER and TC averages against the number of layers that carry task-primary LoRAs (from evaluation runs
 * whose config records it; runs with the same count are averaged). Beside them, the pre-finetuning losses of every
 * run over its steps, one line per run, e.g. to see a bf16 run track its fp32 twin.
 */
public final class PaperFigures {
  private PaperFigures() {}

  /** A pre-finetuning run folder (holding metrics.jsonl) with its name. */
  public record PretrainRun(String name, Path dir) {}

  public static final String FIG3 = "fig3_probes.png";
  public static final String FIG4 = "fig4_lora_layers.png";
  public static final String LOSSES = "pretrain_losses.png";

  /** The TC and NER losses of the pre-finetuning runs, a panel each, a line per run; null when none logged a loss. */
  public static Path losses(List<PretrainRun> runs, Path outDir) {
    List<Plots.Series> tc = new ArrayList<>(), ner = new ArrayList<>();
    for (PretrainRun r : runs) {
      Map<String, Plots.Series> metrics = Plots.readSeries(r.dir().resolve("metrics.jsonl"));
      addLoss(tc, r.name(), metrics.get("tc_loss"));
      addLoss(ner, r.name(), metrics.get("ner_loss"));
    }
    List<Plots.Panel> panels = new ArrayList<>();
    if (!tc.isEmpty()) panels.add(new Plots.Panel("TC loss (InfoNCE)", tc, null));
    if (!ner.isEmpty()) panels.add(new Plots.Panel("NER loss (pseudo-label CE)", ner, null));
    if (panels.isEmpty()) return null;
    Path png = outDir.resolve(LOSSES);
    Plots.render(new Plots.Chart("Pre-finetuning losses", "pre-finetuning step", panels), png);
    return png;
  }

  private static void addLoss(List<Plots.Series> panel, String run, Plots.Series s) {
    if (s != null && !s.isEmpty()) panel.add(new Plots.Series(run, s.x(), s.y(), true));
  }

  /** Fig. 3; null when no run logged a probe. */
  public static Path probes(List<PretrainRun> runs, Path outDir) {
    Map<String, List<Plots.Series>> byProbe = new TreeMap<>();
    for (PretrainRun r : runs) {
      Map<String, Plots.Series> metrics = Plots.readSeries(r.dir().resolve("metrics.jsonl"));
      metrics.forEach((key, s) -> {
        if (!key.startsWith("probe_") || s.isEmpty()) return;
        byProbe.computeIfAbsent(key.substring("probe_".length()), k -> new ArrayList<>())
            .add(new Plots.Series(r.name(), s.x(), s.y(), false));
      });
    }
    if (byProbe.isEmpty()) return null;
    List<Plots.Panel> panels = new ArrayList<>();
    byProbe.forEach((probe, series) -> panels.add(new Plots.Panel(probe, series, null)));  // the title says cosine
    Path png = outDir.resolve(FIG3);
    Plots.render(new Plots.Chart("Interference probes over pre-finetuning (paper Fig. 3): cosines", "pre-finetuning step",
        panels), png);
    return png;
  }

  /** Fig. 4; null when fewer than one run records its LoRA layer count. */
  public static Path loraLayers(List<PaperTables.NamedRun> runs, Path outDir) {
    TreeMap<Integer, double[]> ner = new TreeMap<>(), tc = new TreeMap<>();  // layers -> {sum, count}
    for (PaperTables.NamedRun r : runs) {
      Integer layers = r.results().config() == null ? null : r.results().config().loraLayers();
      if (layers == null) continue;
      add(ner, layers, PaperTables.mean(r.results(), DownstreamDatasets.Family.NER, null));
      add(tc, layers, PaperTables.mean(r.results(), DownstreamDatasets.Family.TC, null));
    }
    if (ner.isEmpty() && tc.isEmpty()) return null;
    List<Plots.Panel> panels = new ArrayList<>();
    if (!ner.isEmpty()) panels.add(new Plots.Panel("NER average F1", List.of(series("NER", ner)), null));
    if (!tc.isEmpty()) panels.add(new Plots.Panel("TC average accuracy", List.of(series("TC", tc)), null));
    Path png = outDir.resolve(FIG4);
    Plots.render(new Plots.Chart("Downstream score vs layers with task-primary LoRAs (paper Fig. 4)",
        "layers carrying task-primary LoRAs", panels), png);
    return png;
  }

  private static void add(TreeMap<Integer, double[]> m, int layers, Double v) {
    if (v == null) return;
    double[] acc = m.computeIfAbsent(layers, k -> new double[2]);
    acc[0] += 100 * v;
    acc[1]++;
  }

  private static Plots.Series series(String name, TreeMap<Integer, double[]> m) {
    double[] x = new double[m.size()], y = new double[m.size()];
    int i = 0;
    for (var e : m.entrySet()) {
      x[i] = e.getKey();
      y[i++] = e.getValue()[0] / e.getValue()[1];
    }
    return new Plots.Series(name, x, y, false);
  }

  /** Whether a folder is a pre-finetuning run (metrics.jsonl) rather than an evaluation run (results.json). */
  public static boolean isPretrainRun(Path dir) {
    return Files.isDirectory(dir) && Files.isRegularFile(dir.resolve("metrics.jsonl"))
        && !Files.isRegularFile(dir.resolve("results.json"));
  }
}
