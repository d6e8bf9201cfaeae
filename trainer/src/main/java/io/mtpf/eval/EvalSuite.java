package io.mtpf.eval;

import io.mtpf.MtpfException;
import java.util.List;
import java.util.Locale;

/**
 * Which datasets an evaluation runs and how hard: {@link #paper()} is §3 and Appendix A as written (all 21 datasets,
 * 10 + 30 epochs, batch 64, learning rate 5e-4, whole splits); {@link #quick()} is a check that fits a small CPU
 * (2 NER and 3 classification sets; NER on 300 train sentences for 1 + 3 epochs at batch 16 and learning rate 2e-3,
 * so that a few minutes of training give a telling F1; classification runs MTEB's protocol unchanged, which is
 * cheap since it only embeds the rows its 10 experiments draw, so its scores compare with published MTEB ones).
 *
 * @param ner NER dataset names (registry names)
 * @param tc classification dataset names
 * @param headEpochs NER stage 1 epochs (head only)
 * @param jointEpochs NER stage 2 epochs (LoRA + head)
 * @param nerRoundSentences 0: an NER epoch is a pass over the train split; &gt; 0: that many sentences (one budget
 *     for every train size)
 * @param nerBatchSize NER adaptation batch size
 * @param nerLr NER adaptation learning rate
 * @param nerTrainLimit cap on NER train sentences before any low-resource fraction (0 = all)
 * @param nerDevLimit cap on dev sentences (0 = all)
 * @param nerTestLimit cap on test sentences (0 = all)
 * @param tcTestLimit cap on classification test rows, stratified (0 = MTEB's own test size)
 */
public record EvalSuite(String name, List<String> ner, List<String> tc, int headEpochs, int jointEpochs,
                        int nerRoundSentences, int nerBatchSize, double nerLr, int nerTrainLimit, int nerDevLimit, int nerTestLimit, int tcTestLimit) {
  public EvalSuite {
    ner = List.copyOf(ner);
    tc = List.copyOf(tc);
  }

  public static EvalSuite paper() {
    return new EvalSuite("paper", DownstreamDatasets.NER.stream().map(DownstreamDatasets.Dataset::name).toList(),
        DownstreamDatasets.TC.stream().map(DownstreamDatasets.Dataset::name).toList(), 10, 30, 0, 64, 5e-4, 0, 0, 0, 0);
  }

  public static EvalSuite quick() {
    return new EvalSuite("quick", List.of("CoNLL-2003", "MIT Restaurant"),
        List.of("Banking77", "Emotion", "AmazonCounterfactual"), 1, 3, 0, 16, 2e-3, 300, 200, 500, 0);
  }

  /**
   * The replication study on a small CPU (scripts/study.sh, docs/replication.md): the paper's four NER benchmarks
   * here (CoNLL-2003, MIT Restaurant, CrossNER, BioNLP) with the paper's adaptation (LoRA r 32 on query, key, MLP;
   * head warm-up, then LoRA + head) on one budget per adaptation — 2 + 8 epochs of 256 sentences (80 steps of 32),
   * whatever the train fraction, at learning rate 2e-3 so that so few steps train the adapter (at the paper's 5e-4,
   * 32 steps left CoNLL-2003 at 1 % near F1 0) — so that 36 adaptations per model fit in about an hour rather than
   * the ten 10 + 30 full epochs would take; dev capped at 200 and test at 500 sentences; every classification set
   * under MTEB's protocol, unchanged.
   */
  public static EvalSuite study() {
    return new EvalSuite("study", List.of("CoNLL-2003", "MIT Restaurant", "CrossNER", "BioNLP"),
        DownstreamDatasets.TC.stream().map(DownstreamDatasets.Dataset::name).toList(), 2, 8, 256, 32, 2e-3, 0, 200, 500,
        0);
  }

  public static EvalSuite named(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "paper" -> paper();
      case "quick" -> quick();
      case "study" -> study();
      default -> throw new MtpfException("--suite must be paper, quick or study, got '" + name + "'");
    };
  }
}
