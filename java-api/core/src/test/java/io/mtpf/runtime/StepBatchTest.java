package io.mtpf.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import io.mtpf.StepBatch;
import io.mtpf.StepMetrics;
import io.mtpf.Trainer;
import io.mtpf.TrainerConfig;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A step's input crossing to the native trainer: what Java checks, what the native side refuses (named). */
class StepBatchTest {
  @TempDir static Path tmp;

  @Test
  void javaRefusesWhatOnlyItsObjectsCanGetWrong() throws Exception {
    WordPieceTokenizer tok = WordPieceTokenizer.fromFolder(
        TinyRuntimeModels.model(tmp, "java-checks", TinyRuntimeModels.bertConfig(16, 1), 3));
    Batch two = pad(tok, "the", "cat"), one = pad(tok, "dog");
    assertTrue(assertThrows(MtpfException.class, () -> StepBatch.tc(two, one)).getMessage()
        .contains("2 anchors but 1 positives"));
    assertTrue(assertThrows(MtpfException.class, () -> new StepBatch(two, null, null, null)).getMessage()
        .contains("both anchors and positives"));
    assertTrue(assertThrows(MtpfException.class, () -> StepBatch.ner(two, new long[5])).getMessage()
        .contains("5 NER labels for 6 tokens"));  // 2 rows x [CLS] word [SEP]
  }

  @Test
  void theNativeTrainerChecksValuesAndReportsTheStep() throws Exception {
    Path model = TinyRuntimeModels.model(tmp, "step", TinyRuntimeModels.bertConfig(16, 1), 3);
    TrainerConfig config = TrainerConfig.of("mtpf");
    config.ner.classes = 5;
    config.tc.chunkSize = 0;
    try (Trainer s = Trainer.open(model, config)) {
      WordPieceTokenizer tok = s.tokenizer();
      Batch a = pad(tok, "the cat sat", "a dog ran"), p = pad(tok, "on the mat", "big red dog");
      Batch n = pad(tok, "angela merkel met", "in paris");
      long[] labels = new long[n.inputIds().length];
      for (int i = 0; i < labels.length; i++) labels[i] = n.attentionMask()[i] == 0 ? -100 : i % 5;
      StepMetrics m = s.step(new StepBatch(a, p, n, labels), true);
      assertTrue(m.read() && m.optimizerStepped());
      assertTrue(Double.isFinite(m.tcLoss()) && Double.isFinite(m.nerLoss()) && Double.isFinite(m.gradCosine()));
      assertEquals(1, s.optimizerSteps());
      labels[1] = 7;
      MtpfException e = assertThrows(MtpfException.class, () -> s.step(StepBatch.ner(n, labels), false));
      assertTrue(e.getMessage().contains("NER labels must be -100 or in [0, 5)"), e.getMessage());
      assertEquals(1, s.optimizerSteps(), "a refused step changes nothing");
    }
    // A model whose embedding table is smaller than its tokenizer's vocabulary: ids past it are refused.
    Path small = TinyRuntimeModels.model(tmp, "small-vocab",
        TinyRuntimeModels.bertConfig(16, 1).replace("\"vocab_size\":" + TinyRuntimeModels.VOCAB.size(), "\"vocab_size\":10"), 3);
    TrainerConfig ner = TrainerConfig.of("pf-ner");
    ner.ner.classes = 5;
    try (Trainer s = Trainer.open(small, ner)) {
      Batch far = pad(s.tokenizer(), "angela merkel met");
      MtpfException e = assertThrows(MtpfException.class,
          () -> s.step(StepBatch.ner(far, new long[far.inputIds().length]), false));
      assertTrue(e.getMessage().contains("NER batch: token id outside the vocabulary [0, 10)"), e.getMessage());
    }
  }

  private static Batch pad(WordPieceTokenizer tok, String... texts) {
    List<Encoding> encodings = new java.util.ArrayList<>();
    for (String t : texts) encodings.add(tok.encode(t, 24));
    return Batch.pad(encodings, tok.padId());
  }
}
