package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The PNG charts of metrics.jsonl: written, readable, the right size, and skipped when there is nothing to draw. */
class PlotsTest {
  @TempDir Path dir;

  /** A run's metrics as Pretrainer logs them: losses every step, probes now and then, nulls where not measured. */
  private Path fullRun() throws IOException {
    List<String> lines = new ArrayList<>();
    for (int step = 0; step <= 400; step++) {
      StringBuilder line = new StringBuilder("{\"step\": " + step);
      if (step > 0) {
        double noise = Math.sin(step * 1.7) * 0.2;
        line.append(String.format(Locale.ROOT, ", \"tc_loss\": %.4f, \"ner_loss\": %.4f", 4 * Math.exp(-step / 120.0) + 0.5 + noise,
            step % 7 == 0 ? Double.NaN : 1.5 * Math.exp(-step / 200.0) + 0.1 + noise / 4).replace("NaN", "null"));
        line.append(String.format(Locale.ROOT, ", \"lr\": %.3e, \"tokens_per_s\": 12000", 5e-5 * Math.min(1, step / 40.0)));
        if (step % 10 == 0) line.append(String.format(Locale.ROOT, ", \"grad_cosine\": %.4f", Math.cos(step / 30.0) * 0.3));
      }
      if (step % 50 == 0) {
        line.append(String.format(Locale.ROOT, ", \"probe_token_cosine\": %.4f, \"probe_entity_swap_cosine\": %.4f,"
            + " \"probe_tc_token_cosine\": NaN", 0.3 + step / 2000.0, 0.8 + step / 4000.0));
      }
      lines.add(line.append('}').toString());
    }
    Path metrics = dir.resolve("metrics.jsonl");
    Files.write(metrics, lines);
    return metrics;
  }

  @Test
  void writesEveryChartAsAReadablePng() throws IOException {
    Path out = dir.resolve("plots");
    List<Path> written = Plots.write(fullRun(), out);
    assertEquals(List.of("losses.png", "grad_cosine.png", "probes.png", "lr.png"),
        written.stream().map(p -> p.getFileName().toString()).toList());
    for (Path png : written) {
      assertTrue(Files.size(png) > 5000, png + " is " + Files.size(png) + " bytes");
      BufferedImage image = ImageIO.read(png.toFile());
      assertEquals(Plots.WIDTH, image.getWidth());
      assertEquals(Plots.HEIGHT, image.getHeight());
      assertTrue(hasColor(image, 0x1f77b4), png + " has no line in the first series colour");
    }
    try (var files = Files.list(out)) {
      assertEquals(4, files.count(), "no temporary files are left");
    }
  }

  @Test
  void chartsWithoutDataAreSkipped() throws IOException {
    Path metrics = dir.resolve("metrics.jsonl");
    Files.write(metrics, List.of(
        "{\"step\": 1, \"tc_loss\": 3.1, \"ner_loss\": null, \"lr\": 1e-5, \"grad_cosine\": NaN}",
        "",
        "{\"step\": 2, \"tc_loss\": 2.9, \"ner_loss\": null, \"lr\": 2e-5, \"grad_cosine\": \"NaN\"}",
        "{\"step\": 3, \"tc_loss\": 2.7, \"lr\": 3e-5}"));
    List<Path> written = Plots.write(metrics, dir.resolve("plots"));
    assertEquals(List.of("losses.png", "lr.png"), written.stream().map(p -> p.getFileName().toString()).toList());
    assertFalse(Files.exists(dir.resolve("plots/probes.png")));
    assertFalse(Files.exists(dir.resolve("plots/grad_cosine.png")));
  }

  @Test
  void readsSeriesSkippingMissingValues() throws IOException {
    Path metrics = dir.resolve("m.jsonl");
    Files.write(metrics, List.of("{\"step\": 10, \"a\": 1.5, \"b\": null}", "{\"a\": 2.5, \"b\": 7, \"note\": \"warm\"}",
        "{\"step\": 30, \"a\": Infinity, \"b\": \"8\"}"));
    Map<String, Plots.Series> series = Plots.readSeries(metrics);
    assertEquals(List.of("a", "b"), List.copyOf(series.keySet()));
    assertArrayEquals(new double[] {10, 11}, series.get("a").x());  // no step: the previous one + 1
    assertArrayEquals(new double[] {1.5, 2.5}, series.get("a").y());
    assertArrayEquals(new double[] {11, 30}, series.get("b").x());
    assertArrayEquals(new double[] {7, 8}, series.get("b").y());
  }

  @Test
  void aCutLastLineIsIgnoredButABadLineElsewhereIsAnError() throws IOException {
    Path cut = dir.resolve("cut.jsonl");
    Files.writeString(cut, "{\"step\": 1, \"lr\": 1e-5}\n{\"step\": 2, \"lr\": 2e-5}\n{\"step\": 3, \"l");
    assertEquals(2, Plots.readSeries(cut).get("lr").x().length);

    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(bad, "{\"step\": 1, \"lr\": 1e-5}\nnot json\n{\"step\": 3, \"lr\": 2e-5}\n");
    MtpfException e = assertThrows(MtpfException.class, () -> Plots.readSeries(bad));
    assertTrue(e.getMessage().contains(bad + ":2:"), e.getMessage());
  }

  @Test
  void drawsAnyListOfNamedSeries() {
    // Several runs in one chart, as a comparison of runs will need: one colour per series.
    List<Plots.Series> runs = new ArrayList<>();
    for (int r = 0; r < 3; r++) {
      double[] x = {0, 100, 200, 300};
      double[] y = {0.3, 0.32 + r * 0.05, 0.35 + r * 0.1, 0.36 + r * 0.15};
      runs.add(new Plots.Series("run " + r, x, y, false));
    }
    BufferedImage image = Plots.draw(new Plots.Chart("token cosine by run", "step",
        List.of(new Plots.Panel("cosine", runs, null))));
    assertTrue(hasColor(image, 0x1f77b4) && hasColor(image, 0xff7f0e) && hasColor(image, 0x2ca02c));
  }

  @Test
  void ticksAreRoundAndLabelsReadable() {
    assertArrayEquals(new double[] {0, 0.2, 0.4, 0.6, 0.8, 1.0}, Plots.ticks(0, 1, 6), 1e-12);
    assertArrayEquals(new double[] {100, 200, 300}, Plots.ticks(55, 340, 4), 1e-9);
    double[] lr = Plots.ticks(0, 5e-5, 6);
    assertEquals("1e-5", Plots.tickLabel(lr[1], lr));
    assertEquals("0", Plots.tickLabel(lr[0], lr));
    double[] lr2 = {1.0e-4, 1.5e-4, 2.0e-4};
    assertEquals("1.5e-4", Plots.tickLabel(1.5e-4, lr2));
    double[] steps = Plots.ticks(0, 50_000, 6);
    assertEquals("20k", Plots.tickLabel(20_000, steps));
    double[] cos = Plots.ticks(0.91, 0.97, 4);
    assertEquals("0.92", Plots.tickLabel(cos[0], cos));
    assertArrayEquals(new double[] {4.5, 5.5}, Plots.range(List.of(new double[] {5, 5}), null), 1e-12);  // flat: widened
    assertArrayEquals(new double[] {0, 0.3}, Plots.range(List.of(new double[] {0.1, 0.3}), 0.0), 1e-12);
  }

  private static boolean hasColor(BufferedImage image, int rgb) {
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) if ((image.getRGB(x, y) & 0xffffff) == rgb) return true;
    }
    return false;
  }
}
