package io.mtpf.runtime;

import io.mtpf.Encoder;
import io.mtpf.StepBatch;
import io.mtpf.Trainer;
import io.mtpf.TrainerConfig;
import io.mtpf.formats.Fp32Tensor;
import io.mtpf.formats.Safetensors;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Tiny random models and real adapters for the runtime's unit tests, made by the libtorch core: a model folder from
 * model_init_random, and NER adapters (LoRA + head) trained a few steps by a ner-adapt session and exported as
 * `mtpf adapt-ner --out` does. The session stays open as the reference for the adapter's outputs.
 */
final class TinyRuntimeModels {
  private TinyRuntimeModels() {}

  static final List<String> VOCAB = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on",
      "mat", "a", "dog", "ran", "##s", ".", ",", "!", "big", "red", "angela", "merkel", "met", "in", "paris", "berlin");
  static final List<String> LABELS = List.of("O", "B-PER", "I-PER", "B-LOC", "I-LOC");

  static String bertConfig(int hidden, int layers) {
    return "{\"model_type\":\"bert\",\"vocab_size\":" + VOCAB.size() + ",\"hidden_size\":" + hidden
        + ",\"num_hidden_layers\":" + layers + ",\"num_attention_heads\":2,\"intermediate_size\":" + 2 * hidden
        + ",\"max_position_embeddings\":24,\"type_vocab_size\":2,\"hidden_act\":\"gelu\"}";
  }

  static Path model(Path tmp, String name, String configJson, long seed) throws IOException {
    Path config = tmp.resolve(name + "-config.json");
    Files.writeString(config, configJson);
    Path dir = tmp.resolve(name);
    Encoder.initRandom(config, dir, seed);
    Files.write(dir.resolve("vocab.txt"), VOCAB, StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"do_lower_case\": true}");
    return dir;
  }

  /** A ner-adapt session (LoRA rank r on every layer + a head over LABELS) trained a few steps with a high LR. */
  static Trainer trainedSession(Path model, int r, long seed) {
    TrainerConfig config = TrainerConfig.nerAdapt(LABELS.size(), r, 2 * r);
    config.seed = seed;
    config.optimizer.lr = 0.05;
    config.optimizer.totalSteps = 100;
    Trainer s = Trainer.open(model, config);
    s.setStage(2, 0.05, 100, 0);
    WordPieceTokenizer tok = s.tokenizer();
    Random random = new Random(seed);
    List<String> words = VOCAB.subList(5, VOCAB.size());
    for (int step = 0; step < 4; step++) {
      List<Encoding> encs = new ArrayList<>();
      List<int[]> wordLabels = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        List<String> sentence = new ArrayList<>();
        int[] labels = new int[3 + random.nextInt(5)];
        for (int w = 0; w < labels.length; w++) {
          sentence.add(words.get(random.nextInt(words.size())));
          labels[w] = random.nextInt(LABELS.size());
        }
        encs.add(tok.encodeWords(sentence, 24));
        wordLabels.add(labels);
      }
      Batch b = Batch.pad(encs, tok.padId());
      List<int[]> tokenLabels = new ArrayList<>();
      for (int i = 0; i < encs.size(); i++) tokenLabels.add(encs.get(i).tokenLabels(wordLabels.get(i)));
      long[] y = b.padLabels(tokenLabels);
      s.step(StepBatch.ner(b, y), false);
    }
    return s;
  }

  /** Exports the session's adapter and head, with labels.json beside them (what `mtpf adapt-ner --out` writes). */
  static Path exportAdapter(Trainer s, Path dir) throws IOException {
    s.exportAdapter("ner", dir);
    StringBuilder json = new StringBuilder("{\"labels\": [");
    for (int i = 0; i < LABELS.size(); i++) json.append(i == 0 ? "\"" : ", \"").append(LABELS.get(i)).append('"');
    Files.writeString(dir.resolve("labels.json"), json.append("]}").toString());
    return dir;
  }

  /**
   * A head that ignores its input (zero weight) and always prefers one label (its bias): the tags are then known,
   * which pins down word grouping, BIO decoding and character offsets.
   */
  static void constantHead(Path adapterDir, int hidden, String preferred) throws IOException {
    int k = LABELS.size();
    float[] bias = new float[k];
    bias[LABELS.indexOf(preferred)] = 5f;
    Safetensors.write(adapterDir.resolve("head_ner.safetensors"), List.of(
        new Fp32Tensor("weight", new long[] {k, hidden}, new float[k * hidden]), new Fp32Tensor("bias", new long[] {k}, bias)));
    Files.writeString(adapterDir.resolve("head_ner.json"),
        "{\"name\":\"ner\",\"in_features\":" + hidden + ",\"num_labels\":" + k + ",\"labels\":[]}");
  }

  static void copyDir(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (var files = Files.list(from)) {
      for (Path p : (Iterable<Path>) files::iterator) Files.copy(p, to.resolve(p.getFileName()));
    }
  }
}
