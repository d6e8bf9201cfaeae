package io.mtpf.cli;

import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.NativeCore;
import io.mtpf.models.MavenArtifacts;
import io.mtpf.models.ModelCatalog;
import io.mtpf.models.ModelPuller;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * mtpf quickstart: the first thing to run. Pulls bge-small-en-v1.5 from Maven Central into an HF folder, loads
 * it into the native core, encodes a few sentences, and prints their cosine similarities.
 */
@Command(name = "quickstart", mixinStandardHelpOptions = true,
    description = "Pull bge-small-en-v1.5, encode a few sentences, print their similarities.")
final class QuickstartCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--models-dir", defaultValue = "models", paramLabel = "DIR",
      description = "where pulled models are kept (default: ${DEFAULT-VALUE})")
  Path modelsDir;

  @Option(names = "--model", defaultValue = "bge-small-en-v15", description = "catalog name (default: ${DEFAULT-VALUE})")
  String model;

  @Option(names = "--offline", description = "use only the local Maven repository")
  boolean offline;

  static final List<String> SENTENCES = List.of(
      "The central bank raised interest rates by half a point.",
      "Borrowing costs went up after the monetary authority's decision.",
      "Barcelona beat Real Madrid 3-1 at the Camp Nou on Sunday.",
      "I lost my card, how do I block it?");

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    ModelCatalog.Entry entry = ModelCatalog.get(model);
    Path dir = modelsDir.resolve(model);
    MavenArtifacts maven =
        new MavenArtifacts(MavenArtifacts.defaultLocalRepo(), URI.create(MavenArtifacts.CENTRAL), offline);
    long t0 = System.nanoTime();
    ModelPuller.Result pulled = new ModelPuller(maven).pull(entry, dir, false);
    out.printf("model     %s -> %s (%s)%n", entry.artifact(), dir, pulled.reused() ? "already there" : "imported");
    try (Encoder enc = Encoder.load(dir, EncoderOptions.defaults().withNormalize(true))) {
      out.printf("encoder   %s, %d layers, hidden %d, libtorch %s, %d threads, %s%n", enc.modelType(), enc.numLayers(),
          enc.hiddenSize(), NativeCore.torchVersion(), NativeCore.threads(), enc.device());
      long t1 = System.nanoTime();
      float[][] v = enc.encode(SENTENCES);
      out.printf("encoded   %d sentences in %.1f ms (setup %.1f s)%n%n", SENTENCES.size(), (System.nanoTime() - t1) / 1e6,
          (t1 - t0) / 1e9);
      out.println("cosine similarity (mean-pooled, L2-normalised):");
      for (int i = 0; i < v.length; i++) {
        StringBuilder row = new StringBuilder(String.format("  [%d]", i));
        for (float[] w : v) row.append(String.format(" %6.3f", dot(v[i], w)));
        out.println(row + "   " + SENTENCES.get(i));
      }
    }
    out.println();
    out.println("next: ./mtpf encode --model " + dir + " \"your text\"   |   ./mtpf --help");
    out.flush();
    return 0;
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  }
}
