package io.mtpf.cli;

import io.mtpf.pretrain.Pretrainer;
import io.mtpf.pretrain.RunConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** mtpf pretrain: a pre-finetuning run (pf-tc, pf-ner, mtpf, mtpf-tpl, pf-l; PCGrad) from a run.yaml. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
    description = "Pre-finetune an encoder as run.yaml says (strategy, models, data, steps, batch sizes, LoRAs).")
final class PretrainCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, paramLabel = "FILE", description = "run config (see configs/)")
  Path config;

  @Option(names = "--steps", description = "override the number of optimiser steps")
  Long steps;

  @Option(names = "--data", paramLabel = "DIR", description = "override the data folder (pairs_* and NER corpora)")
  String data;

  @Option(names = "--out", paramLabel = "DIR", description = "override the output folder")
  String out;

  @Option(names = "--device", description = "override the device (cpu, cuda, cuda:N)")
  String device;

  @Option(names = "--precision", description = "override the precision: fp32, bf16 (autocast) or auto (bf16 where the device has bf16 matrix units)")
  String precision;

  @Option(names = "--resume", description = "continue from OUT/checkpoints/latest")
  boolean resume;

  @Option(names = "--skip-bad-lines", description = "skip (and count) malformed data lines instead of failing")
  boolean skipBadLines;

  @Option(names = "--models-dir", defaultValue = "models", paramLabel = "DIR", description = "where catalog models are pulled")
  Path modelsDir;

  @Option(names = "--offline", description = "use only the local Maven repository")
  boolean offline;

  @Option(names = "--nproc", defaultValue = "1", paramLabel = "N",
      description = "data-parallel on this host: start N ranks (Gloo; batch sizes are global and must divide by N)."
          + " Under torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) this process is one rank already")
  int nproc;

  @Override
  public Integer call() {
    RunConfig c = RunConfig.read(config);
    if (steps != null) c.steps = steps;
    if (data != null) c.data = data;
    if (out != null) c.out = out;
    if (device != null) c.device = device;
    if (precision != null) c.precision = precision;
    if (skipBadLines) c.skipBadLines = true;
    c.validate(config.toString());
    if ("bf16".equals(c.precision) && c.device.startsWith("cpu"))
      System.err.println("note: bf16 autocast on the CPU runs the matmuls in bf16, which is slower than fp32 unless the"
          + " CPU has bf16 matrix units; --precision fp32 to train in fp32");
    if (nproc < 1) throw new io.mtpf.MtpfException("--nproc must be >= 1, got " + nproc);
    Pretrainer.Result r =
        new Pretrainer(c, new Pretrainer.Options(resume, offline, modelsDir, System.err, nproc)).run();
    // One line for the run: from rank 0, or from the launcher of --nproc ranks.
    if (io.mtpf.Distributed.Env.fromEnvironment().rank() != 0 || System.getenv("MTPF_LAUNCHED") != null) return 0;
    if (r.stopped()) {
      System.out.printf("stopped at step %d (exit signal); `mtpf pretrain --config ... --resume` continues%n", r.steps());
      return 143;
    }
    String stepTime =
        Double.isNaN(r.stepSeconds()) ? "" : String.format(" (%.1f s of them training steps)", r.stepSeconds());
    System.out.printf("done: %d steps in %.1f s%s; tc loss %s -> %s, ner loss %s -> %s; outputs in %s%n", r.steps(),
        r.seconds(), stepTime, f(r.firstTcLoss()), f(r.lastTcLoss()), f(r.firstNerLoss()), f(r.lastNerLoss()), r.out());
    return 0;
  }

  static String f(double v) {
    return Double.isNaN(v) ? "-" : String.format("%.4f", v);
  }
}
