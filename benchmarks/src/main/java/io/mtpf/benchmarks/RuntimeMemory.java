package io.mtpf.benchmarks;

import io.mtpf.runtime.Adapter;
import io.mtpf.runtime.Backbone;
import io.mtpf.runtime.BackboneOptions;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Resident memory of the runtime: the backbone (fp32 and int8) and each extra adapter, as the runtime counts it
 * (weight_bytes, adapter_bytes) and as the process's resident set grows (VmRSS of /proc/self/status; it also counts
 * allocator and JVM noise). Each (model, weights) case runs in a fresh JVM, so that no freed memory is reused. Two
 * adapter shapes: the task-primary adapters of pre-finetuning (r 32 on query, key and MLP of the last 2 layers) and
 * the downstream NER adapters (r 32 on every layer). Goal of the issue: an extra adapter under 2% of the backbone.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar io.mtpf.benchmarks.RuntimeMemory [model ...]</pre>
 */
public final class RuntimeMemory {
  private RuntimeMemory() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 4 && args[0].equals("--one")) {
      report(args[1], args[2].equals("int8"), Integer.parseInt(args[3]));
      return;
    }
    List<String> models = args.length > 0 ? List.of(args) : List.of("bge-small-en-v15", "all-minilm-l6-v2");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    for (String model : models) {
      for (String weights : List.of("fp32", "int8")) {
        for (String lastLayers : List.of("2", "0")) {
          Process p = new ProcessBuilder(java, "-Dmtpf.models.dir=" + System.getProperty("mtpf.models.dir", "models"),
              "-cp", System.getProperty("java.class.path"), RuntimeMemory.class.getName(), "--one", model, weights,
              lastLayers).inheritIO().start();
          if (p.waitFor() != 0) throw new IllegalStateException("RuntimeMemory " + model + " " + weights + " failed");
        }
      }
    }
  }

  static void report(String model, boolean int8, int lastLayers) throws IOException {
    Path dir = RuntimeBenchmark.modelDir(model);
    com.fasterxml.jackson.databind.JsonNode config =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("config.json").toFile());
    Path root = Files.createTempDirectory("mtpf-memory-adapters");
    List<Path> adapterDirs = RandomAdapters.write(root, RuntimeBenchmark.ADAPTERS, config.get("num_hidden_layers").asInt(),
        lastLayers, config.get("hidden_size").asInt(), config.get("intermediate_size").asInt(), 32);
    List<String> texts = RuntimeBenchmark.texts(8);
    String what = model + " " + (int8 ? "int8" : "fp32");
    String shape = "r 32, query/key/MLP of " + (lastLayers == 0 ? "every layer" : "the last " + lastLayers + " layers");
    List<Adapter> adapters = new ArrayList<>();
    // Load the native libraries and warm the tokenizer first, so the deltas below are the backbone's and adapters'
    // (not a throwaway backbone: its freed memory would be reused and hide the next one).
    Backbone.runtimeVersion();
    io.mtpf.tokenizer.WordPieceTokenizer.fromFolder(dir).encode(texts.get(0), RuntimeBenchmark.LENGTH);
    long before = rssBytes();
    try (Backbone bb = Backbone.load(dir, BackboneOptions.defaults().withInt8(int8).withMaxLength(RuntimeBenchmark.LENGTH))) {
      bb.embed(texts);  // working buffers allocated once, so later deltas are the adapters'
      long backboneRss = rssBytes() - before;
      long weights = bb.weightBytes();
      long last = rssBytes();
      long adapterBytesSum = 0, rssSum = 0;
      for (Path a : adapterDirs) {
        Adapter adapter = Adapter.load(a);
        adapters.add(adapter);
        bb.embed(texts, adapter);
        long now = rssBytes();
        adapterBytesSum += bb.adapterBytes(adapter);
        rssSum += now - last;
        last = now;
      }
      double perAdapter = (double) adapterBytesSum / adapters.size(), perAdapterRss = (double) rssSum / adapters.size();
      System.out.printf("%s: backbone weight_bytes %.2f MiB, RSS +%.2f MiB | per extra adapter (%s, 9-label head, "
              + "mean of %d): adapter_bytes %.3f MiB = %.2f%% of weight_bytes, RSS +%.3f MiB = %.2f%% of the backbone's RSS%n",
          what, mib(weights), mib(backboneRss), shape, adapters.size(), perAdapter / (1 << 20), 100 * perAdapter / weights,
          perAdapterRss / (1 << 20), 100 * perAdapterRss / backboneRss);
    } finally {
      for (Adapter a : adapters) a.close();
      try (var files = Files.walk(root)) {
        files.sorted(Collections.reverseOrder()).map(Path::toFile).forEach(File::delete);
      }
    }
  }

  static double mib(long bytes) {
    return bytes / (double) (1 << 20);
  }

  /** VmRSS of this process (Linux). */
  static long rssBytes() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
    }
    throw new IOException("/proc/self/status has no VmRSS");
  }
}
