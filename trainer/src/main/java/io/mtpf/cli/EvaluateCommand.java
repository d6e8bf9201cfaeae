package io.mtpf.cli;

import io.mtpf.MtpfException;
import io.mtpf.eval.DownstreamDatasets;
import io.mtpf.eval.EvalResults;
import io.mtpf.eval.EvalSuite;
import io.mtpf.eval.Evaluation;
import io.mtpf.eval.SentenceEmbedder;
import io.mtpf.report.PaperTables;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

/** mtpf evaluate: the paper's downstream evaluation (or the quick check) of a backbone and its adapters. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Evaluate a backbone (and its task-primary adapters) on the paper's downstream datasets: NER by "
        + "LoRA adaptation, text classification by MTEB's logistic-regression protocol. Writes RUN/results.json and "
        + "RUN/results.md.",
        "Classification alone (e.g. to check a public model against its MTEB scores): --task tc; "
            + "e5-small-v2: --prefix 'query: ' (its MTEB script pools by mean and does not normalise for "
            + "classification)."})
final class EvaluateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR", description = "backbone (HF folder)")
  Path model;

  @Option(names = "--adapter", paramLabel = "ner=DIR|tc=DIR",
      description = "task-primary adapter (PEFT folder): ner seeds the NER LoRA, tc stays active for classification")
  Map<String, Path> adapters = new java.util.LinkedHashMap<>();

  @Option(names = "--suite", defaultValue = "paper", description = "paper (all 21 datasets, App. A settings), "
      + "quick (2 NER + 3 TC sets, NER on 300 sentences for 1 + 3 epochs) or study (the replication study: 4 NER "
      + "benchmarks with App. A's recipe, test capped at 1,000 sentences; every TC set); default ${DEFAULT-VALUE}")
  String suite;

  @Option(names = "--task", defaultValue = "all", description = "all, ner or tc (default ${DEFAULT-VALUE})")
  String task;

  @Option(names = "--data", paramLabel = "DIR", description = "folder holding the datasets (e.g. ../shared/data)")
  Path data;

  @Option(names = "--dataset", paramLabel = "NAME=PATH[:ner|tc]",
      description = "a dataset of your own: a folder with train/test (and dev) files, family detected or given")
  List<String> userDatasets = new ArrayList<>();

  @Option(names = "--only", split = ",", paramLabel = "NAME", description = "only these registry datasets")
  List<String> only = new ArrayList<>();

  @Option(names = "--out", required = true, paramLabel = "RUN", description = "run folder for results")
  Path out;

  @Option(names = "--resume", description = "keep the datasets and NER adaptations that RUN/results.json already "
      + "holds for this same configuration, model and adapters; run the rest")
  boolean resume;

  @Option(names = "--label", description = "the run's name in reports (default: the RUN folder name)")
  String label;

  @Option(names = "--pooling", defaultValue = "mean", description = "mean (the paper) or cls")
  String pooling;

  @Option(names = "--prefix", defaultValue = "", description = "text prefix for classification, e.g. 'query: '")
  String prefix;

  @Option(names = "--normalize", description = "L2-normalise classification embeddings (sentence-transformers "
      + "models that end in Normalize, as MTEB ran them)")
  boolean normalize;

  @Option(names = "--max-length", defaultValue = "0", description = "token limit for classification texts (0: model's)")
  int maxLength;

  @Option(names = "--seeds", defaultValue = "1", paramLabel = "N", description = "NER seeds 42, 43, ... (N of them)")
  int seeds;

  @Option(names = "--fractions", split = ",", defaultValue = "1.0", paramLabel = "F",
      description = "NER train fractions, e.g. 0.01,0.1,1.0 (low-resource table)")
  List<Double> fractions;

  @Option(names = "--lr", description = "NER adaptation learning rate (default: the suite's, paper 5e-4)")
  Double lr;

  @Option(names = "--cache", paramLabel = "DIR", description = "embedding cache (default RUN/cache)")
  Path cache;

  @Option(names = "--threads", defaultValue = "0", description = "libtorch threads (default: all cores)")
  int threads;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or cuda:N")
  String device;

  @Option(names = "--skip-bad-lines", description = "skip malformed data lines (counted) instead of failing")
  boolean skipBadLines;

  @Override
  public Integer call() throws IOException {
    for (String k : adapters.keySet())
      if (!k.equals("ner") && !k.equals("tc"))
        throw new MtpfException("--adapter " + k + "=...: the adapter name must be ner or tc");
    for (Path p : adapters.values())
      if (!Files.isDirectory(p)) throw new MtpfException("--adapter: " + p + " is not a folder");
    if (!Files.isDirectory(model)) throw new MtpfException("--model: " + model + " is not a folder");
    if (data != null && !Files.isDirectory(data)) throw new MtpfException("--data: " + data + " is not a folder");
    if (seeds < 1) throw new MtpfException("--seeds must be at least 1, got " + seeds);
    List<Long> seedList = new ArrayList<>();
    for (int i = 0; i < seeds; i++) seedList.add(42L + i);
    List<DownstreamDatasets.Resolved> user = new ArrayList<>();
    for (String spec : userDatasets) user.add(DownstreamDatasets.user(spec));
    var request = new Evaluation.Request(model, adapters.get("ner"), adapters.get("tc"), EvalSuite.named(suite),
        task.toLowerCase(Locale.ROOT), data, user, only, out, cache,
        new SentenceEmbedder.Options(pooling, prefix, normalize, maxLength, 64, device), seedList, fractions, lr,
        threads, label, skipBadLines, resume);
    if (Evaluation.select(request).isEmpty())
      throw new MtpfException("evaluate: nothing to run (suite " + suite + ", task " + task + ")");
    Files.createDirectories(out);
    EvalResults results = Evaluation.run(request, System.err::println);
    String md = PaperTables.singleRun(results);
    Files.writeString(out.resolve("results.md"), md);
    java.io.PrintWriter stdout = spec.commandLine().getOut();
    stdout.print(md);
    stdout.println("\nwrote " + out.resolve("results.json") + " and " + out.resolve("results.md"));
    stdout.flush();
    return results.datasets().stream().anyMatch(d -> d.status().startsWith("failed")) ? 1 : 0;
  }
}
