package io.mtpf.benchmarks;

import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.MtpfException;
import io.mtpf.runtime.Adapter;
import io.mtpf.runtime.Backbone;
import io.mtpf.runtime.BackboneOptions;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

/**
 * Native memory under a long run of calls through the Java API, on both engines: N calls (default 10,000) of embed /
 * encode / token embeddings / tag, loading and closing adapters (runtime) or whole encoders (libtorch core) as they
 * go, with use-after-close and double close tried on each closed object. Prints the resident set every N/20 calls
 * and the slope over the second half (after allocator and JIT warm-up): a leak shows as a slope that does not
 * fall with N. Short texts, so the 10,000 calls take minutes, not hours.
 *
 * <pre>java -Xms256m -Xmx256m -XX:+AlwaysPreTouch -cp benchmarks/target/benchmarks.jar \
 *     io.mtpf.benchmarks.LeakCheck [runtime|torch] [calls] [model]</pre>
 *
 * The fixed, pre-touched Java heap is required: without it the resident set grows as G1 first touches heap regions
 * (measured: +270 MiB over 2,000 torch calls that leak nothing), which reads as a native leak.
 */
public final class LeakCheck {
  private LeakCheck() {}

  public static void main(String[] args) throws Exception {
    List<String> jvm = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments();
    if (!jvm.contains("-XX:+AlwaysPreTouch") || jvm.stream().noneMatch(a -> a.startsWith("-Xms"))) {
      System.err.println("LeakCheck: start the JVM with -Xms256m -Xmx256m -XX:+AlwaysPreTouch (a fixed, pre-touched heap),"
          + " else heap pages touched late read as native growth");
      System.exit(2);
    }
    String engine = args.length > 0 ? args[0] : "runtime";
    int calls = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
    Path dir = RuntimeBenchmark.modelDir(args.length > 2 ? args[2] : "all-minilm-l6-v2");
    List<String> texts = List.of("Angela Merkel met Emmanuel Macron in Paris.", "The card has not arrived yet.",
        "EU rejects German call to boycott British lamb.");
    long[] rss = engine.equals("torch") ? torch(dir, texts, calls) : runtime(dir, texts, calls);
    report(engine, calls, rss);
  }

  /** The runtime: one backbone; every 100 calls a new adapter is loaded, used, closed, and tried after close. */
  static long[] runtime(Path dir, List<String> texts, int calls) throws IOException {
    com.fasterxml.jackson.databind.JsonNode config =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("config.json").toFile());
    Path root = Files.createTempDirectory("mtpf-leak-adapters");
    List<Path> adapterDirs = RandomAdapters.write(root, 4, config.get("num_hidden_layers").asInt(), 2,
        config.get("hidden_size").asInt(), config.get("intermediate_size").asInt(), 8);
    long[] rss = new long[21];
    try (Backbone bb = Backbone.load(dir, BackboneOptions.defaults().withThreads(2))) {
      Adapter adapter = Adapter.load(adapterDirs.get(0));
      rss[0] = RuntimeMemory.rssBytes();
      for (int i = 0; i < calls; i++) {
        if (i % 100 == 99) {
          Adapter closed = adapter;
          closed.close();
          closed.close();  // double close: no effect
          expectRefused(() -> bb.embed(texts, closed), "an embed with a closed adapter");
          adapter = Adapter.load(adapterDirs.get((i / 100) % adapterDirs.size()));
        }
        switch (i % 4) {
          case 0 -> bb.embed(texts);
          case 1 -> bb.embed(texts, adapter);
          case 2 -> bb.tag(texts.get(i % 3), adapter);
          default -> bb.tokenEmbeddings(texts, adapter);
        }
        if ((i + 1) % (calls / 20) == 0) rss[(i + 1) / (calls / 20)] = RuntimeMemory.rssBytes();
      }
      adapter.close();
    } finally {
      try (var files = Files.walk(root)) {
        files.sorted(Collections.reverseOrder()).map(Path::toFile).forEach(File::delete);
      }
    }
    return rss;
  }

  /** The libtorch core: every 250 calls the encoder is closed (twice), tried after close, and loaded again. */
  static long[] torch(Path dir, List<String> texts, int calls) throws IOException {
    long[] rss = new long[21];
    EncoderOptions options = EncoderOptions.defaults().withThreads(2);
    Encoder enc = Encoder.load(dir, options);
    rss[0] = RuntimeMemory.rssBytes();
    try {
      for (int i = 0; i < calls; i++) {
        if (i % 250 == 249) {
          Encoder closed = enc;
          closed.close();
          closed.close();
          expectRefused(() -> closed.encode(texts), "an encode on a closed encoder");
          enc = Encoder.load(dir, options);
        }
        if (i % 2 == 0) enc.encode(texts);
        else enc.tokenEmbeddings(texts);
        if ((i + 1) % (calls / 20) == 0) rss[(i + 1) / (calls / 20)] = RuntimeMemory.rssBytes();
      }
    } finally {
      enc.close();
    }
    return rss;
  }

  static void expectRefused(Runnable call, String what) {
    try {
      call.run();
    } catch (MtpfException expected) {
      return;
    }
    throw new IllegalStateException(what + " was not refused");
  }

  static void report(String engine, int calls, long[] rss) {
    System.out.printf("LeakCheck %s, %d calls; resident MiB after every %d calls:%n", engine, calls, calls / 20);
    StringBuilder line = new StringBuilder();
    for (long r : rss) line.append(String.format(" %.1f", RuntimeMemory.mib(r)));
    System.out.println(line.toString().trim());
    // Least squares over the second half: KiB per 1,000 calls.
    int n = 0;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int k = 10; k <= 20; k++, n++) {
      double x = k * (calls / 20.0) / 1000.0, y = rss[k] / 1024.0;
      sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    System.out.printf("slope over the second half: %.1f KiB per 1,000 calls (total growth %.1f MiB from the start)%n",
        slope, RuntimeMemory.mib(rss[20] - rss[0]));
    // Reloads make the allocator's footprint oscillate; a leak also raises the peak from one half to the next.
    long peakEarly = 0, peakLate = 0;
    for (int k = 5; k <= 10; k++) peakEarly = Math.max(peakEarly, rss[k]);
    for (int k = 15; k <= 20; k++) peakLate = Math.max(peakLate, rss[k]);
    System.out.printf("peak resident MiB, calls %d-%d: %.1f; calls %d-%d: %.1f (%+.1f)%n", calls / 4, calls / 2,
        RuntimeMemory.mib(peakEarly), calls * 3 / 4, calls, RuntimeMemory.mib(peakLate),
        RuntimeMemory.mib(peakLate - peakEarly));
  }
}
