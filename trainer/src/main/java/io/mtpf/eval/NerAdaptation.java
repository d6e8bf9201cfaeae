package io.mtpf.eval;

import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.MtpfException;
import io.mtpf.StepBatch;
import io.mtpf.StepMetrics;
import io.mtpf.Trainer;
import io.mtpf.TrainerConfig;
import io.mtpf.data.LabelMap;
import io.mtpf.data.NerDataset;
import io.mtpf.runtime.BioDecoder;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.LengthBatches;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Downstream NER by LoRA (paper §3, Appendix A): LoRA rank 32, alpha 64 on query, key and the MLP of every layer, a
 * linear head over the dataset's BIO labels; first the head alone with the encoder frozen, then LoRA and head
 * together; batch 64, AdamW with weight decay 0.01. A task-primary ner adapter, when given, seeds the LoRA of the
 * layers it covers. Labels go on each word's first sub-token (-100 elsewhere), as HF's run_ner does. The epoch is
 * selected by dev F1 when there is a dev split, else the last one is taken. Scores: seqeval's entity F1.
 *
 * <p>An epoch is one pass over the train split, or — with {@code roundSentences} &gt; 0 — that many sentences drawn
 * from a stream of reshuffled passes, so that every train size gets the same budget (a small CPU's study).
 */
public final class NerAdaptation {

  /**
   * The protocol's knobs; {@link #paper()} is Appendix A's setting. {@code roundSentences}: 0, an epoch is a pass
   * over the train split; &gt; 0, an epoch is that many sentences (see the class comment).
   */
  public record Settings(int headEpochs, int jointEpochs, int roundSentences, int batchSize, double lr,
      double weightDecay, int r, double alpha, int maxLength, long seed, String device) {
    public Settings {
      if (headEpochs < 0 || jointEpochs < 0 || headEpochs + jointEpochs == 0)
        throw new MtpfException("NER adaptation needs at least one epoch, got " + headEpochs + " + " + jointEpochs);
      if (roundSentences < 0) throw new MtpfException("NER round size must be >= 0, got " + roundSentences);
      if (batchSize <= 0) throw new MtpfException("NER batch size must be positive, got " + batchSize);
    }

    public static Settings paper() {
      return new Settings(10, 30, 0, 64, 5e-4, 0.01, 32, 64, 128, 42, "cpu");
    }

    public Settings withEpochs(int head, int joint, int round) {
      return new Settings(head, joint, round, batchSize, lr, weightDecay, r, alpha, maxLength, seed, device);
    }

    public Settings withSeed(long s) {
      return new Settings(headEpochs, jointEpochs, roundSentences, batchSize, lr, weightDecay, r, alpha, maxLength, s,
          device);
    }

    /** Sentences one epoch trains on. */
    int epochSentences(int trainSize) {
      return roundSentences > 0 ? roundSentences : trainSize;
    }
  }

  /**
   * One epoch: its stage (1 head, 2 LoRA + head), mean training loss, dev F1 (NaN without dev), and the seconds its
   * training steps took (dev scoring excluded) over the sentences it trained on.
   */
  public record Epoch(int epoch, int stage, double loss, double devF1, double trainSeconds, int sentences) {
    public double sentencesPerSecond() {
      return trainSeconds > 0 ? sentences / trainSeconds : Double.NaN;
    }
  }

  /** The selected epoch's scores. */
  public record Result(EntityF1.Report test, double devF1, int selectedEpoch, List<Epoch> history, long seed) {}

  private NerAdaptation() {}

  /**
   * Adapts {@code backbone} (an HF folder) to {@code train}; {@code nerAdapter} (a PEFT folder) may be null.
   * {@code exportDir}, when given, receives the final adapter with its head and the label map.
   */
  public static Result run(Path backbone, Path nerAdapter, NerDataset train, NerDataset dev, NerDataset test,
      Settings s, Path exportDir, Consumer<String> log) {
    return run(backbone, nerAdapter, train, dev, test, s, exportDir, log, false);
  }

  /**
   * {@code testEachSelection}: score the test split whenever dev selects an epoch (the reference the tests compare
   * with), instead of once, at the end, with the selected epoch's adapter kept aside: the same scores for a
   * fraction of the test passes (most epochs improve dev early on).
   */
  static Result run(Path backbone, Path nerAdapter, NerDataset train, NerDataset dev, NerDataset test,
      Settings s, Path exportDir, Consumer<String> log, boolean testEachSelection) {
    if (train.size() == 0) throw new MtpfException("adapt-ner: the train split '" + train.name() + "' is empty");
    LabelMap labels = train.labels();
    if (dev != null) dev.labels().requireSame(labels, "dev split " + dev.name());
    test.labels().requireSame(labels, "test split " + test.name());
    int epochSentences = s.epochSentences(train.size());
    int stepsPerEpoch = (epochSentences + s.batchSize() - 1) / s.batchSize();
    TrainerConfig config = TrainerConfig.nerAdapt(labels.size(), s.r(), s.alpha());  // LoRA on query, key, MLP
    config.optimizer.lr = s.lr();
    config.optimizer.weightDecay = s.weightDecay();
    config.optimizer.totalSteps = Math.max(1, s.headEpochs() * stepsPerEpoch);
    config.optimizer.schedule = "linear";
    config.seed = s.seed();
    config.device = s.device();
    config.adapt.init = nerAdapter == null ? "" : nerAdapter.toString();
    try (Trainer session = Trainer.open(backbone, config)) {
      WordPieceTokenizer tok = session.tokenizer();
      List<Encoding> encodings = new ArrayList<>(train.size());
      List<int[]> tokenLabels = new ArrayList<>(train.size());
      for (int i = 0; i < train.size(); i++) {
        Encoding e = tok.encodeWords(train.sentences().get(i).words(), s.maxLength());
        encodings.add(e);
        tokenLabels.add(e.tokenLabels(train.tagIds(i)));
      }
      List<Epoch> history = new ArrayList<>();
      EntityF1.Report bestTest = null;
      double bestDev = Double.NEGATIVE_INFINITY;
      int bestEpoch = 0;
      Path best = null;  // the selected epoch's adapter and head while later epochs train on
      try {
        Random rng = new Random(s.seed());
        SentenceStream stream = new SentenceStream(train.size(), rng);
        int epochs = s.headEpochs() + s.jointEpochs();
        for (int epoch = 1; epoch <= epochs; epoch++) {
          int stage = epoch <= s.headEpochs() ? 1 : 2;
          if (epoch == s.headEpochs() + 1)
            session.setStage(2, s.lr(), Math.max(1, (long) s.jointEpochs() * stepsPerEpoch), 0);
          List<Integer> order = stream.next(epochSentences);
          double lossSum = 0;
          int batches = 0;
          long started = System.nanoTime();
          for (int start = 0; start < order.size(); start += s.batchSize()) {
            List<Integer> rows = order.subList(start, Math.min(order.size(), start + s.batchSize()));
            List<Encoding> part = new ArrayList<>(rows.size());
            for (int r : rows) part.add(encodings.get(r));
            Batch b = Batch.pad(part, tok.padId());
            List<int[]> partLabels = new ArrayList<>(rows.size());
            for (int r : rows) partLabels.add(tokenLabels.get(r));
            StepMetrics m = session.step(StepBatch.ner(b, b.padLabels(partLabels)), false);
            lossSum += m.nerLoss();
            batches++;
          }
          double trainSeconds = (System.nanoTime() - started) / 1e9;
          double devF1 = dev == null ? Double.NaN : EntityF1.f1(dev.tagSequences(), predict(b -> session.nerLogits(b, labels.size()), tok, dev, labels, s));
          history.add(new Epoch(epoch, stage, lossSum / batches, devF1, trainSeconds, epochSentences));
          log.accept(String.format("adapt-ner %s seed %d epoch %d/%d (stage %d): loss %.4f%s", train.name(), s.seed(),
              epoch, epochs, stage, lossSum / batches, dev == null ? "" : String.format(", dev F1 %.4f", devF1)));
          boolean select = dev == null ? epoch == epochs : devF1 > bestDev;
          if (select) {
            bestDev = devF1;
            bestEpoch = epoch;
            if (testEachSelection) {
              bestTest = EntityF1.evaluate(test.tagSequences(), predict(b -> session.nerLogits(b, labels.size()), tok, test, labels, s));
            } else if (epoch < epochs) {
              if (best == null) best = Files.createTempDirectory("mtpf-ner-selected");
              session.exportAdapter("ner", best);
            }
          }
        }
        if (!testEachSelection)
          bestTest = bestEpoch == epochs
              ? EntityF1.evaluate(test.tagSequences(), predict(b -> session.nerLogits(b, labels.size()), tok, test, labels, s))
              : testSelected(backbone, best, test, labels, s);
      } catch (IOException e) {
        throw new MtpfException("adapt-ner: cannot keep the selected epoch's adapter: " + e.getMessage(), e);
      } finally {
        deleteTree(best);
      }
      if (exportDir != null) {
        session.exportAdapter("ner", exportDir);
        labels.save(exportDir.resolve("labels.json"));
      }
      return new Result(bestTest, bestDev, bestEpoch, history, s.seed());
    }
  }

  /** The test split scored with the selected epoch's adapter and head, exported to {@code dir}, on an Encoder. */
  private static EntityF1.Report testSelected(Path backbone, Path dir, NerDataset test, LabelMap labels, Settings s) {
    try (Encoder selected = Encoder.load(backbone, EncoderOptions.defaults().withDevice(s.device()))) {
      selected.loadAdapter("ner", dir, "ner");
      return EntityF1.evaluate(test.tagSequences(),
          predict(b -> selected.tokenLogits(b, "ner"), selected.tokenizer(), test, labels, s));
    }
  }

  private static void deleteTree(Path dir) {
    if (dir == null) return;
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // a temporary folder left behind is not worth failing a finished evaluation for
    }
  }

  /** Train sentence indices as a stream of passes, each in a fresh seeded order; an epoch takes the next n. */
  static final class SentenceStream {
    private final List<Integer> order = new ArrayList<>();
    private final Random rng;
    private int next;

    SentenceStream(int size, Random rng) {
      for (int i = 0; i < size; i++) order.add(i);
      this.rng = rng;
      this.next = size;
    }

    List<Integer> next(int n) {
      List<Integer> out = new ArrayList<>(n);
      while (out.size() < n) {
        if (next == order.size()) {
          Collections.sort(order);  // each pass shuffles 0..n-1 afresh, as the per-epoch shuffle always did
          Collections.shuffle(order, rng);
          next = 0;
        }
        int take = Math.min(n - out.size(), order.size() - next);
        out.addAll(order.subList(next, next + take));
        next += take;
      }
      return out;
    }
  }

  /** Sentences per forward pass when predicting (no gradients: larger than the training batch). */
  static final int PREDICT_BATCH = 64;

  /**
   * Predicted tags per word ({@link BioDecoder#wordTags} of {@code tokenLogits}, [batch, seq, labels] of a padded
   * batch): the argmax at each word's first sub-token; a word without tokens gets "O".
   * Sentences are batched by length (little padding), the tags returned in the data's order.
   */
  static List<List<String>> predict(Function<Batch, float[]> tokenLogits, WordPieceTokenizer tok, NerDataset data,
      LabelMap labels, Settings s) {
    List<Encoding> encodings = new ArrayList<>(data.size());
    for (int i = 0; i < data.size(); i++) encodings.add(tok.encodeWords(data.sentences().get(i).words(), s.maxLength()));
    List<List<String>> out = new ArrayList<>(Collections.nCopies(data.size(), (List<String>) null));
    int k = labels.size();
    LengthBatches.forEach(encodings, PREDICT_BATCH, tok.padId(), (b, rows) -> {
      float[] logits = tokenLogits.apply(b);
      for (int i = 0; i < rows.length; i++) {
        Encoding e = encodings.get(rows[i]);
        float[][] tokenRows = new float[e.length()][];
        for (int t = 0; t < tokenRows.length; t++) {
          int base = (i * b.seqLen() + t) * k;
          tokenRows[t] = Arrays.copyOfRange(logits, base, base + k);
        }
        List<String> tags = List.of(BioDecoder.wordTags(e, tokenRows, labels.names(), null));
        out.set(rows[i], tags);
      }
    });
    return out;
  }
}
