package io.mtpf.benchmarks;

import io.mtpf.formats.Fp32Tensor;
import io.mtpf.formats.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Writes random LoRA adapters in PEFT format (alpha 2r on query, key and MLP, plus a 9-label CoNLL head), for
 * throughput and memory measurements only: the runtime's cost does not depend on the values, and writing them here
 * keeps libtorch out of the benchmark process.
 */
final class RandomAdapters {
  private RandomAdapters() {}

  static final List<String> LABELS = List.of("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC");

  /**
   * One adapter folder per seed under {@code root}, for a BERT model of the given shape, on the last
   * {@code lastLayers} layers (0: all; the task-primary adapters of pre-finetuning use 2).
   */
  static List<Path> write(Path root, int count, int layers, int lastLayers, int hidden, int intermediate, int rank)
      throws IOException {
    List<Path> out = new ArrayList<>();
    for (int i = 0; i < count; i++)
      out.add(writeOne(root.resolve("adapter-" + i), layers, lastLayers, hidden, intermediate, rank, i));
    return out;
  }

  static Path writeOne(Path dir, int layers, int lastLayers, int hidden, int intermediate, int rank, long seed)
      throws IOException {
    Files.createDirectories(dir);
    Random random = new Random(seed);
    List<String> modules = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    List<long[]> shapes = new ArrayList<>();
    for (int l = lastLayers == 0 ? 0 : layers - lastLayers; l < layers; l++) {
      String p = "encoder.layer." + l + ".";
      // [name, in_features, out_features]
      Object[][] targets = {{p + "attention.self.query", hidden, hidden}, {p + "attention.self.key", hidden, hidden},
          {p + "intermediate.dense", hidden, intermediate}, {p + "output.dense", intermediate, hidden}};
      for (Object[] t : targets) {
        String name = (String) t[0];
        modules.add(name);
        keys.add("base_model.model." + name + ".lora_A.weight");
        shapes.add(new long[] {rank, (int) t[1]});
        keys.add("base_model.model." + name + ".lora_B.weight");
        shapes.add(new long[] {(int) t[2], rank});
      }
    }
    writeSafetensors(dir.resolve("adapter_model.safetensors"), keys, shapes, random, 0.02f);
    StringBuilder config = new StringBuilder("{\"peft_type\":\"LORA\",\"r\":" + rank + ",\"lora_alpha\":" + 2 * rank
        + ",\"lora_dropout\":0.0,\"use_rslora\":false,\"bias\":\"none\",\"task_type\":\"FEATURE_EXTRACTION\","
        + "\"base_model_name_or_path\":null,\"inference_mode\":true,\"target_modules\":[");
    for (int i = 0; i < modules.size(); i++) config.append(i == 0 ? "" : ",").append('"').append(modules.get(i)).append('"');
    Files.writeString(dir.resolve("adapter_config.json"), config.append("]}").toString());

    int k = LABELS.size();
    writeSafetensors(dir.resolve("head_ner.safetensors"), List.of("weight", "bias"),
        List.of(new long[] {k, hidden}, new long[] {k}), random, 0.1f);
    StringBuilder head = new StringBuilder("{\"name\":\"ner\",\"in_features\":" + hidden + ",\"num_labels\":" + k + ",\"labels\":[");
    for (int i = 0; i < k; i++) head.append(i == 0 ? "" : ",").append('"').append(LABELS.get(i)).append('"');
    Files.writeString(dir.resolve("head_ner.json"), head.append("]}").toString());
    return dir;
  }

  private static void writeSafetensors(Path file, List<String> keys, List<long[]> shapes, Random random, float scale)
      throws IOException {
    List<Fp32Tensor> tensors = new ArrayList<>();
    for (int i = 0; i < keys.size(); i++) {
      long n = 1;
      for (long d : shapes.get(i)) n *= d;
      float[] v = new float[Math.toIntExact(n)];
      for (int j = 0; j < v.length; j++) v[j] = (float) random.nextGaussian() * scale;
      tensors.add(new Fp32Tensor(keys.get(i), shapes.get(i), v));
    }
    Safetensors.write(file, tensors);
  }
}
