package io.mtpf.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.MtpfException;
import io.mtpf.data.BadLines;
import io.mtpf.data.NerDataset;
import io.mtpf.data.NerReaders;
import io.mtpf.eval.Evaluation;
import io.mtpf.eval.NerAdaptation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** mtpf adapt-ner: downstream NER by LoRA (head warm-up, then LoRA + head), entity F1 over seeds and data fractions. */
@Command(name = "adapt-ner", mixinStandardHelpOptions = true,
    description = "Adapt a backbone (optionally seeded by a task-primary ner adapter) to a NER dataset; report entity F1.")
final class AdaptNerCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "DIR", description = "backbone (HF folder)")
  Path model;

  @Option(names = "--adapter", paramLabel = "DIR", description = "task-primary ner adapter (PEFT folder) to start from")
  Path adapter;

  @Option(names = "--train", required = true, paramLabel = "FILE") Path train;
  @Option(names = "--dev", paramLabel = "FILE", description = "selects the epoch by dev F1 (else the last)") Path dev;
  @Option(names = "--test", required = true, paramLabel = "FILE") Path test;

  @Option(names = "--head-epochs", defaultValue = "10") int headEpochs;
  @Option(names = "--joint-epochs", defaultValue = "30") int jointEpochs;
  @Option(names = "--batch-size", defaultValue = "64") int batchSize;
  @Option(names = "--lr", defaultValue = "5e-4") double lr;
  @Option(names = "--max-length", defaultValue = "128") int maxLength;
  @Option(names = "--device", defaultValue = "cpu") String device;

  @Option(names = "--fraction", defaultValue = "1.0", description = "train on this fraction of the train split (low-resource)")
  double fraction;

  @Option(names = "--seeds", split = ",", defaultValue = "42", description = "seeds, e.g. 1,2,3 (mean and spread reported)")
  List<Long> seeds;

  @Option(names = "--out", paramLabel = "DIR", description = "results.json, and the adapter + head of the first seed")
  Path out;

  @Option(names = "--skip-bad-lines") boolean skipBadLines;

  @Override
  public Integer call() throws IOException {
    if (fraction <= 0 || fraction > 1) throw new MtpfException("--fraction must be in (0, 1], got " + fraction);
    BadLines bad = skipBadLines ? BadLines.skip() : BadLines.fail();
    NerDataset trainSet = NerReaders.read(train, bad);
    NerDataset devSet = dev == null ? null : NerReaders.read(dev, trainSet.labels(), bad);
    NerDataset testSet = NerReaders.read(test, trainSet.labels(), bad);
    ObjectMapper json = new ObjectMapper();
    ObjectNode results = json.createObjectNode();
    results.put("model", model.toString());
    results.put("adapter", adapter == null ? null : adapter.toString());
    results.put("train", train.toString());
    results.put("fraction", fraction);
    ArrayNode runs = results.putArray("runs");
    List<Double> f1s = new ArrayList<>();
    for (int i = 0; i < seeds.size(); i++) {
      long seed = seeds.get(i);
      NerDataset part = fraction < 1 ? Evaluation.subsample(trainSet, fraction, seed) : trainSet;
      var settings = new NerAdaptation.Settings(headEpochs, jointEpochs, 0, batchSize, lr, 0.01, 32, 64, maxLength, seed,
          device);
      var r = NerAdaptation.run(model, adapter, part, devSet, testSet, settings,
          out != null && i == 0 ? out.resolve("adapter") : null, System.err::println);
      f1s.add(r.test().f1());
      ObjectNode run = runs.addObject();
      run.put("seed", seed);
      run.put("train_sentences", part.size());
      run.put("selected_epoch", r.selectedEpoch());
      run.put("dev_f1", Double.isFinite(r.devF1()) ? r.devF1() : null);
      run.put("test_f1", r.test().f1());
      System.out.printf("seed %d: test entity F1 %.4f (epoch %d, %d train sentences)%n%s%n", seed, r.test().f1(),
          r.selectedEpoch(), part.size(), r.test().table(4));
    }
    double mean = f1s.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    double var = f1s.stream().mapToDouble(f -> (f - mean) * (f - mean)).sum() / Math.max(1, f1s.size() - 1);
    results.put("test_f1_mean", mean);
    results.put("test_f1_std", f1s.size() > 1 ? Math.sqrt(var) : 0.0);
    System.out.printf("test entity F1 over %d seed(s): %.4f ± %.4f%n", f1s.size(), mean, f1s.size() > 1 ? Math.sqrt(var) : 0.0);
    if (out != null) {
      Files.createDirectories(out);
      Files.writeString(out.resolve("results.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(results));
    }
    return 0;
  }
}
