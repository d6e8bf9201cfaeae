package io.mtpf.cli;

import io.mtpf.MtpfException;
import io.mtpf.eval.EvalResults;
import io.mtpf.report.PaperFigures;
import io.mtpf.report.PaperTables;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** mtpf report: evaluation runs side by side in the paper's tables, and its figures. */
@Command(name = "report", mixinStandardHelpOptions = true,
    description = {"Lay evaluation runs (folders with results.json) side by side in the paper's layout: per-dataset "
        + "NER and TC tables (Tables 5-10), the summary (Tables 1-3, differences to --baseline), the low-resource "
        + "table (Table 11); figures: probes over pre-finetuning steps (Fig. 3, from pre-finetuning run folders "
        + "given as RUN), their losses, and score vs layers with task-primary LoRAs (Fig. 4).",
        "Writes DIR/report.md and the PNGs, and prints the Markdown."})
final class ReportCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "RUN", arity = "1..*",
      description = "evaluation run folders (or results.json files) and pre-finetuning run folders (metrics.jsonl)")
  List<Path> runs;

  @Option(names = "--baseline", paramLabel = "RUN", description = "the run the summary's differences are taken to")
  Path baseline;

  @Option(names = "--out", defaultValue = "report", paramLabel = "DIR", description = "default: ${DEFAULT-VALUE}")
  Path out;

  @Override
  public Integer call() throws IOException {
    List<EvalResults> evals = new ArrayList<>();
    List<String> names = new ArrayList<>();
    List<Path> evalPaths = new ArrayList<>();
    List<PaperFigures.PretrainRun> pretrain = new ArrayList<>();
    for (Path p : runs) {
      if (!Files.exists(p)) throw new MtpfException(p + ": run folder not found");
      if (PaperFigures.isPretrainRun(p)) {
        pretrain.add(new PaperFigures.PretrainRun(String.valueOf(p.toAbsolutePath().normalize().getFileName()), p));
        continue;
      }
      evals.add(EvalResults.read(p));
      evalPaths.add(p.toAbsolutePath().normalize());
      names.add(runName(p));
    }
    int baselineIndex = -1;
    if (baseline != null) {
      Path b = baseline.toAbsolutePath().normalize();
      baselineIndex = evalPaths.indexOf(b);
      if (baselineIndex < 0) {
        evals.add(0, EvalResults.read(baseline));
        evalPaths.add(0, b);
        names.add(0, runName(baseline));
        baselineIndex = 0;
      }
    }
    List<PaperTables.NamedRun> named = PaperTables.name(evals, names);
    PaperTables.NamedRun base = baselineIndex < 0 ? null : named.get(baselineIndex);
    StringBuilder md = new StringBuilder("# Evaluation report\n");
    if (!named.isEmpty()) {
      md.append("\n## Summary (Tables 1–3)\n\n").append(PaperTables.summary(named, base));
      md.append("\n## NER (Tables 5, 7, 9)\n\n").append(PaperTables.nerTable(named));
      md.append("\n## Text classification (Tables 6, 8, 10)\n\n").append(PaperTables.tcTable(named));
      String low = PaperTables.lowResource(named);
      if (!low.isEmpty()) md.append("\n## NER with limited data (Table 11)\n\n").append(low);
    }
    Files.createDirectories(out);
    List<String> figures = new ArrayList<>();
    Path fig3 = PaperFigures.probes(pretrain, out);
    if (fig3 != null) figures.add("![Fig. 3: interference probes](" + fig3.getFileName() + ")");
    else if (!pretrain.isEmpty()) figures.add("Fig. 3: the pre-finetuning runs logged no probe_* metrics.");
    Path losses = PaperFigures.losses(pretrain, out);
    if (losses != null) figures.add("![pre-finetuning losses](" + losses.getFileName() + ")");
    Path fig4 = named.isEmpty() ? null : PaperFigures.loraLayers(named, out);
    if (fig4 != null) figures.add("![Fig. 4: score vs layers with task-primary LoRAs](" + fig4.getFileName() + ")");
    if (!figures.isEmpty()) md.append("\n## Figures\n\n").append(String.join("\n\n", figures)).append('\n');
    Files.writeString(out.resolve("report.md"), md.toString());
    java.io.PrintWriter stdout = spec.commandLine().getOut();
    stdout.print(md);
    stdout.println("\nwrote " + out.resolve("report.md"));
    stdout.flush();
    return 0;
  }

  private static String runName(Path p) {
    Path abs = p.toAbsolutePath().normalize();
    if (Files.isRegularFile(abs) && abs.getParent() != null) abs = abs.getParent();
    return String.valueOf(abs.getFileName());
  }
}
