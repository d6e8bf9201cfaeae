package io.mtpf.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.Encoder;
import io.mtpf.data.BadLines;
import io.mtpf.data.NerDataset;
import io.mtpf.data.NerReaders;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Downstream NER by LoRA on a tiny random model: stages, epoch selection, export, determinism. */
class NerAdaptationTest {
  @TempDir Path tmp;

  static final List<String> VOCAB = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "paris", "london", "anna",
      "tom", "went", "to", "met", "in", ".");

  Path tinyModel() throws Exception {
    Path config = tmp.resolve("config.json");
    Files.writeString(config, """
        {"model_type":"bert","vocab_size":14,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,
         "intermediate_size":32,"max_position_embeddings":32,"type_vocab_size":2,"hidden_act":"gelu"}""");
    Path dir = tmp.resolve("model");
    Encoder.initRandom(config, dir, 5);
    Files.write(dir.resolve("vocab.txt"), VOCAB);
    return dir;
  }

  Path conll(String name, int copies) throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < copies; i++) {
      lines.addAll(List.of("anna\tB-PER", "went\tO", "to\tO", "paris\tB-LOC", ".\tO", ""));
      lines.addAll(List.of("tom\tB-PER", "met\tO", "anna\tB-PER", "in\tO", "london\tB-LOC", ""));
    }
    Path f = tmp.resolve(name);
    Files.write(f, lines);
    return f;
  }

  /** Epochs as passes draw what the per-epoch shuffle always drew; rounds cut the same stream of passes. */
  @Test
  void sentenceStreamIsPassesOfFreshShuffles() {
    java.util.Random ref = new java.util.Random(5);
    NerAdaptation.SentenceStream passes = new NerAdaptation.SentenceStream(7, new java.util.Random(5));
    for (int epoch = 0; epoch < 3; epoch++) {
      List<Integer> order = new java.util.ArrayList<>(List.of(0, 1, 2, 3, 4, 5, 6));
      java.util.Collections.shuffle(order, ref);
      assertEquals(order, passes.next(7), "epoch " + epoch);
    }
    NerAdaptation.SentenceStream rounds = new NerAdaptation.SentenceStream(7, new java.util.Random(5));
    List<Integer> drawn = new java.util.ArrayList<>();
    for (int round = 0; round < 7; round++) drawn.addAll(rounds.next(3));  // 21 = 3 whole passes
    NerAdaptation.SentenceStream again = new NerAdaptation.SentenceStream(7, new java.util.Random(5));
    assertEquals(drawn, new java.util.ArrayList<>() {{ for (int i = 0; i < 3; i++) addAll(again.next(7)); }});
  }

  @Test
  void roundsTrainOnTheirSentenceBudget() throws Exception {
    Path model = tinyModel();
    NerDataset train = NerReaders.read(conll("train.txt", 8), BadLines.fail());
    var r = NerAdaptation.run(model, null, train, null, train,
        new NerAdaptation.Settings(1, 2, 20, 8, 5e-2, 0.01, 4, 8, 16, 3, "cpu"), null, line -> {});
    assertEquals(3, r.history().size());
    for (NerAdaptation.Epoch e : r.history()) assertEquals(20, e.sentences());
    assertEquals(3, r.selectedEpoch(), "no dev split: the last epoch");
  }

  @Test
  void learnsATrivialTaggingAndExportsItsAdapter() throws Exception {
    Path model = tinyModel();
    NerDataset train = NerReaders.read(conll("train.txt", 8), BadLines.fail());
    NerDataset dev = NerReaders.read(conll("dev.txt", 1), train.labels(), BadLines.fail());
    var settings = new NerAdaptation.Settings(2, 6, 0, 8, 5e-2, 0.01, 4, 8, 16, 3, "cpu");
    Path export = tmp.resolve("adapter");
    var r = NerAdaptation.run(model, null, train, dev, dev, settings, export, line -> {});
    assertEquals(8, r.history().size());
    assertEquals(1, r.history().get(0).stage());
    assertEquals(2, r.history().get(7).stage());
    assertTrue(r.history().get(7).loss() < r.history().get(0).loss(), "the loss falls: " + r.history());
    assertTrue(r.test().f1() > 0.5, "a trivial tagging is learnt: " + r.test().f1());
    assertEquals(r.devF1(), r.history().get(r.selectedEpoch() - 1).devF1(), 0.0);
    assertTrue(Files.exists(export.resolve("adapter_config.json")));
    assertTrue(Files.exists(export.resolve("head_ner.safetensors")));
    assertTrue(Files.exists(export.resolve("labels.json")));
    // The exported adapter tags raw text, with character offsets into it.
    try (EntityTagger tagger = EntityTagger.load(model, export, 16)) {
      String text = "Anna went to  Paris.";
      List<io.mtpf.runtime.Entity> entities = tagger.tag(List.of(text)).get(0);
      assertTrue(!entities.isEmpty(), "entities found");
      for (io.mtpf.runtime.Entity e : entities) {
        assertTrue(e.score() > 0 && e.score() <= 1, "a probability: " + e);
        assertEquals(text.substring(e.start(), e.end()), e.text());
        assertTrue(List.of("PER", "LOC").contains(e.type()), e.toString());
      }
    }
    // Same seed, same result.
    var again = NerAdaptation.run(model, null, train, dev, dev, settings, null, line -> {});
    assertEquals(r.test().f1(), again.test().f1(), 0.0);
    // The selected epoch's adapter kept aside and scored once at the end gives what scoring the test split at each
    // selection gives.
    assertTrue(r.selectedEpoch() < r.history().size(), "an earlier epoch must be selected, or this compares nothing");
    var reference = NerAdaptation.run(model, null, train, dev, dev, settings, null, line -> {}, true);
    assertEquals(reference.selectedEpoch(), r.selectedEpoch());
    assertEquals(reference.test(), r.test());
  }
}
