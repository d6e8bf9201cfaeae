package io.mtpf.pretrain;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mtpf.MtpfException;
import io.mtpf.data.DataFiles;
import io.mtpf.files.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * PNG line charts of a pre-finetuning run's metrics.jsonl, drawn with java.awt (headless, no dependency):
 * losses.png (tc_loss and ner_loss, one panel each since their scales differ), grad_cosine.png, probes.png (every
 * probe_* key) and lr.png. A chart with no data is not written. The drawing works on named series, so charts of
 * several runs side by side need only other {@link Chart}s.
 */
public final class Plots {
  static {
    // No display on training machines; must be set before the first AWT class loads.
    System.setProperty("java.awt.headless", "true");
  }

  public static final int WIDTH = 900;
  public static final int HEIGHT = 500;
  /** Charts of more panels grow taller, so that no panel is lower than this. */
  static final int MIN_PANEL_HEIGHT = 160;
  static final String PROBE_PREFIX = "probe_";

  private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
  private static final Color[] PALETTE = {  // matplotlib's tab10: distinct, and familiar to readers of papers
      new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd),
      new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};
  private static final Color GRID = new Color(0xe6e6e6);
  private static final Color AXIS = new Color(0x555555);
  private static final Color TEXT = new Color(0x222222);
  private static final Font TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 16);
  private static final Font LABEL_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
  private static final Font TICK_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
  /** Above this many points a smoothed series is drawn faint with its moving average on top. */
  private static final int SMOOTH_FROM = 100;
  /** Up to this many points each one gets a marker (probes are measured rarely). */
  private static final int MARKERS_UP_TO = 40;

  private Plots() {}

  /** y over x, both finite; {@code smooth}: noisy per-step values that read better with a moving average. */
  public record Series(String name, double[] x, double[] y, boolean smooth) {
    public Series {
      if (x.length != y.length) throw new IllegalArgumentException(name + ": " + x.length + " x but " + y.length + " y");
    }

    public boolean isEmpty() {
      return x.length == 0;
    }
  }

  /** One plot area; {@code reference} (nullable) is a dashed horizontal line kept in range, e.g. cosine 0. */
  public record Panel(String yLabel, List<Series> series, Double reference) {
    public boolean isEmpty() {
      return series.stream().allMatch(Series::isEmpty);
    }
  }

  /** Panels stacked vertically over a shared x axis. */
  public record Chart(String title, String xLabel, List<Panel> panels) {}

  /** Writes the charts that have data into {@code outDir}; returns the files written. */
  public static List<Path> write(Path metricsJsonl, Path outDir) {
    Map<String, Series> metrics = readSeries(metricsJsonl);
    Map<String, Chart> charts = new LinkedHashMap<>();
    charts.put("losses.png", new Chart("Training losses", "step", List.of(
        panel("TC loss (InfoNCE)", metrics, List.of("tc_loss"), null),
        panel("NER loss", metrics, List.of("ner_loss"), null))));
    charts.put("grad_cosine.png", new Chart("Cosine of the TC and NER gradients on shared parameters", "step",
        List.of(panel("cosine", metrics, List.of("grad_cosine"), 0.0))));
    List<String> probeKeys = metrics.keySet().stream().filter(k -> k.startsWith(PROBE_PREFIX)).toList();
    charts.put("probes.png", new Chart("Interference probes (paper §5): higher = more alike", "step",
        List.of(panel("cosine", metrics, probeKeys, null))));
    charts.put("lr.png", new Chart("Learning rate", "step", List.of(panel("lr", metrics, List.of("lr"), null))));

    List<Path> written = new ArrayList<>();
    charts.forEach((file, chart) -> {
      if (chart.panels().stream().allMatch(Panel::isEmpty)) return;
      Path png = outDir.resolve(file);
      render(chart, png);
      written.add(png);
    });
    return written;
  }

  /** A panel of the given metric keys; keys with no values are left out, "probe_" is dropped from names. */
  private static Panel panel(String yLabel, Map<String, Series> metrics, List<String> keys, Double reference) {
    List<Series> series = new ArrayList<>();
    for (String key : keys) {
      Series s = metrics.get(key);
      if (s == null || s.isEmpty()) continue;
      String name = key.startsWith(PROBE_PREFIX) ? key.substring(PROBE_PREFIX.length()) : key;
      series.add(new Series(name, s.x(), s.y(), key.endsWith("_loss") || key.equals("grad_cosine")));
    }
    return new Panel(yLabel, series, reference);
  }

  /**
   * Every numeric key of metrics.jsonl as a series over "step" (a line without a step gets the previous one + 1).
   * null, NaN, infinities and non-numbers are no point. A malformed last line (cut by an interrupted run) is
   * ignored with a note on stderr; a malformed line anywhere else is an error naming file:line.
   */
  public static Map<String, Series> readSeries(Path metricsJsonl) {
    Map<String, List<double[]>> points = new LinkedHashMap<>();
    double[] lastStep = {0};
    String[] pendingError = {null};
    DataFiles.forEachLine(metricsJsonl, (lineNo, line) -> {
      if (line.isBlank()) return;
      if (pendingError[0] != null) throw new MtpfException(pendingError[0]);
      JsonNode row;
      try {
        row = JSON.readTree(line);
      } catch (JsonProcessingException e) {
        row = null;
      }
      if (row == null || !row.isObject()) {
        pendingError[0] = metricsJsonl + ":" + lineNo + ": not a JSON object";
        return;
      }
      double step = number(row.get("step"));
      double x = Double.isFinite(step) ? step : lastStep[0] + 1;
      lastStep[0] = x;
      row.fields().forEachRemaining(field -> {
        if (field.getKey().equals("step")) return;
        double y = number(field.getValue());
        if (Double.isFinite(y)) points.computeIfAbsent(field.getKey(), k -> new ArrayList<>()).add(new double[] {x, y});
      });
    });
    if (pendingError[0] != null) System.err.println("plots: ignoring the cut last line: " + pendingError[0]);
    Map<String, Series> out = new LinkedHashMap<>();
    points.forEach((key, list) -> {
      double[] xs = new double[list.size()], ys = new double[list.size()];
      for (int i = 0; i < xs.length; i++) {
        xs[i] = list.get(i)[0];
        ys[i] = list.get(i)[1];
      }
      out.put(key, new Series(key, xs, ys, false));
    });
    return out;
  }

  private static double number(JsonNode v) {
    if (v == null || v.isNull()) return Double.NaN;
    if (v.isNumber()) return v.asDouble();
    if (v.isTextual()) {
      try {
        return Double.parseDouble(v.asText());  // "NaN", "Infinity" or a quoted number
      } catch (NumberFormatException e) {
        return Double.NaN;
      }
    }
    return Double.NaN;
  }

  /** Draws the chart and writes it as PNG (through a temporary file, so a reader never sees half an image). */
  public static void render(Chart chart, Path png) {
    BufferedImage image = draw(chart);
    AtomicFiles.write(png, "the plot", tmp -> {
      if (!ImageIO.write(image, "png", tmp.toFile())) throw new IOException("no PNG writer");
    });
  }

  public static BufferedImage draw(Chart chart) {
    List<Panel> panels = chart.panels().stream().filter(p -> !p.isEmpty()).toList();
    int top = 42, left = 78, right = WIDTH - 24, gap = 28, margins = top + 48;
    int height = Math.max(HEIGHT, margins + panels.size() * MIN_PANEL_HEIGHT + gap * (panels.size() - 1));
    BufferedImage image = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, WIDTH, height);
      g.setColor(TEXT);
      g.setFont(TITLE_FONT);
      FontMetrics fm = g.getFontMetrics();
      g.drawString(chart.title(), (WIDTH - fm.stringWidth(chart.title())) / 2, 26);

      double[] xRange = range(panels.stream().flatMap(p -> p.series().stream()).map(Series::x).toList(), null);
      int bottom = height - 48;
      int panelHeight = (bottom - top - gap * (panels.size() - 1)) / Math.max(1, panels.size());
      // A colour per series name, the same in every panel: a run keeps its colour across a comparison's panels.
      Map<String, Color> colors = new LinkedHashMap<>();
      for (Panel p : panels) p.series().forEach(sr -> colors.computeIfAbsent(sr.name(), k -> color(colors.size())));
      for (int i = 0; i < panels.size(); i++) {
        Rectangle area = new Rectangle(left, top + i * (panelHeight + gap), right - left, panelHeight);
        boolean lastPanel = i == panels.size() - 1;
        drawPanel(g, panels.get(i), area, xRange, lastPanel ? chart.xLabel() : null, colors);
      }
    } finally {
      g.dispose();
    }
    return image;
  }

  private static void drawPanel(Graphics2D g, Panel panel, Rectangle area, double[] xRange, String xLabel,
      Map<String, Color> colors) {
    List<double[]> ys = new ArrayList<>(panel.series().stream().map(Series::y).toList());
    double[] yRange = range(ys, panel.reference());
    double yPad = (yRange[1] - yRange[0]) * 0.06;
    yRange = new double[] {yRange[0] - yPad, yRange[1] + yPad};
    Axis xAxis = new Axis(xRange[0], xRange[1], area.x, area.x + area.width);
    Axis yAxis = new Axis(yRange[0], yRange[1], area.y + area.height, area.y);

    // Grid and tick labels.
    g.setFont(TICK_FONT);
    FontMetrics fm = g.getFontMetrics();
    g.setStroke(new BasicStroke(1f));
    double[] yTicks = ticks(yRange[0], yRange[1], Math.max(4, area.height / 35));
    for (double t : yTicks) {
      int py = (int) Math.round(yAxis.toPixel(t));
      g.setColor(GRID);
      g.drawLine(area.x, py, area.x + area.width, py);
      String label = tickLabel(t, yTicks);
      g.setColor(TEXT);
      g.drawString(label, area.x - 6 - fm.stringWidth(label), py + fm.getAscent() / 2 - 1);
    }
    double[] xTicks = ticks(xRange[0], xRange[1], 9);
    for (double t : xTicks) {
      int px = (int) Math.round(xAxis.toPixel(t));
      g.setColor(GRID);
      g.drawLine(px, area.y, px, area.y + area.height);
      if (xLabel != null) {
        String label = tickLabel(t, xTicks);
        g.setColor(TEXT);
        g.drawString(label, px - fm.stringWidth(label) / 2, area.y + area.height + 4 + fm.getAscent());
      }
    }
    if (panel.reference() != null) {
      int py = (int) Math.round(yAxis.toPixel(panel.reference()));
      g.setColor(AXIS);
      g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {5f, 4f}, 0f));
      g.drawLine(area.x, py, area.x + area.width, py);
    }
    g.setColor(AXIS);
    g.setStroke(new BasicStroke(1f));
    g.drawRect(area.x, area.y, area.width, area.height);

    // Axis labels.
    g.setFont(LABEL_FONT);
    fm = g.getFontMetrics();
    g.setColor(TEXT);
    if (xLabel != null) {
      g.drawString(xLabel, area.x + (area.width - fm.stringWidth(xLabel)) / 2, area.y + area.height + 36);
    }
    AffineTransform saved = g.getTransform();
    g.rotate(-Math.PI / 2);
    g.drawString(panel.yLabel(), -(area.y + (area.height + fm.stringWidth(panel.yLabel())) / 2), area.x - 60);
    g.setTransform(saved);

    // Series, clipped to the plot area.
    java.awt.Shape clip = g.getClip();
    g.clipRect(area.x, area.y, area.width + 1, area.height + 1);
    for (int s = 0; s < panel.series().size(); s++) {
      drawSeries(g, panel.series().get(s), colors.get(panel.series().get(s).name()), xAxis, yAxis);
    }
    g.setClip(clip);
    drawLegend(g, panel, area, xAxis, yAxis, colors);
  }

  private static void drawSeries(Graphics2D g, Series series, Color color, Axis xAxis, Axis yAxis) {
    int n = series.x().length;
    boolean smoothed = series.smooth() && n >= SMOOTH_FROM;
    if (smoothed) {
      g.setColor(new Color(color.getRed(), color.getGreen(), color.getBlue(), 70));
      g.setStroke(new BasicStroke(1f));
      g.draw(line(series.x(), series.y(), xAxis, yAxis));
    }
    g.setColor(color);
    g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
    g.draw(line(series.x(), smoothed ? movingAverage(series.y()) : series.y(), xAxis, yAxis));
    if (n <= MARKERS_UP_TO) {
      for (int i = 0; i < n; i++) {
        g.fill(new Ellipse2D.Double(xAxis.toPixel(series.x()[i]) - 3, yAxis.toPixel(series.y()[i]) - 3, 6, 6));
      }
    }
  }

  private static Path2D line(double[] x, double[] y, Axis xAxis, Axis yAxis) {
    Path2D.Double path = new Path2D.Double();
    for (int i = 0; i < x.length; i++) {
      if (i == 0) path.moveTo(xAxis.toPixel(x[i]), yAxis.toPixel(y[i]));
      else path.lineTo(xAxis.toPixel(x[i]), yAxis.toPixel(y[i]));
    }
    return path;
  }

  /** A centred moving average over about 2% of the points, narrowing at the ends. */
  static double[] movingAverage(double[] y) {
    int half = Math.max(1, y.length / 100);
    double[] prefix = new double[y.length + 1];
    for (int i = 0; i < y.length; i++) prefix[i + 1] = prefix[i] + y[i];
    double[] out = new double[y.length];
    for (int i = 0; i < y.length; i++) {
      int from = Math.max(0, i - half), to = Math.min(y.length, i + half + 1);
      out[i] = (prefix[to] - prefix[from]) / (to - from);
    }
    return out;
  }

  /** The legend in the corner of the panel that covers the fewest points. */
  private static void drawLegend(Graphics2D g, Panel panel, Rectangle area, Axis xAxis, Axis yAxis,
      Map<String, Color> colors) {
    g.setFont(LABEL_FONT);
    FontMetrics fm = g.getFontMetrics();
    int rowHeight = fm.getHeight() + 2, swatch = 22, pad = 8;
    int textWidth = panel.series().stream().mapToInt(s -> fm.stringWidth(s.name())).max().orElse(0);
    int width = pad * 2 + swatch + 6 + textWidth, height = pad * 2 + rowHeight * panel.series().size() - 2;
    Rectangle best = null;
    long bestCovered = Long.MAX_VALUE;
    int[][] corners = {{1, 0}, {0, 0}, {1, 1}, {0, 1}};  // top-right first: losses fall, so it is often free
    for (int[] c : corners) {
      int bx = c[0] == 1 ? area.x + area.width - width - 10 : area.x + 10;
      int by = c[1] == 0 ? area.y + 10 : area.y + area.height - height - 10;
      Rectangle box = new Rectangle(bx, by, width, height);
      long covered = 0;
      for (Series s : panel.series()) {
        for (int i = 0; i < s.x().length; i++) {
          if (box.contains(xAxis.toPixel(s.x()[i]), yAxis.toPixel(s.y()[i]))) covered++;
        }
      }
      if (covered < bestCovered) {
        best = box;
        bestCovered = covered;
      }
    }
    g.setColor(new Color(255, 255, 255, 225));
    g.fill(best);
    g.setColor(GRID.darker());
    g.setStroke(new BasicStroke(1f));
    g.draw(best);
    for (int s = 0; s < panel.series().size(); s++) {
      int baseline = best.y + pad + s * rowHeight + fm.getAscent();
      int mid = baseline - fm.getAscent() / 2 + 1;
      g.setColor(colors.get(panel.series().get(s).name()));
      g.setStroke(new BasicStroke(2.5f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
      g.drawLine(best.x + pad, mid, best.x + pad + swatch, mid);
      g.setColor(TEXT);
      g.drawString(panel.series().get(s).name(), best.x + pad + swatch + 6, baseline);
    }
  }

  private static Color color(int i) {
    return PALETTE[i % PALETTE.length];
  }

  /** Maps values in [min, max] linearly onto pixels [from, to]. */
  private record Axis(double min, double max, double from, double to) {
    double toPixel(double v) {
      return from + (v - min) / (max - min) * (to - from);
    }
  }

  /** [min, max] of all values (and the reference), widened when flat so the axis is never empty. */
  static double[] range(List<double[]> values, Double reference) {
    double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
    for (double[] v : values) {
      for (double d : v) {
        min = Math.min(min, d);
        max = Math.max(max, d);
      }
    }
    if (reference != null) {
      min = Math.min(min, reference);
      max = Math.max(max, reference);
    }
    if (min > max) return new double[] {0, 1};
    if (min == max) {
      double pad = min == 0 ? 1 : Math.abs(min) * 0.1;
      return new double[] {min - pad, max + pad};
    }
    return new double[] {min, max};
  }

  /** Round tick values (1, 2 or 5 times a power of ten apart) inside [min, max], about {@code target} of them. */
  static double[] ticks(double min, double max, int target) {
    double step = niceStep((max - min) / Math.max(1, target - 1));
    double first = Math.ceil(min / step - 1e-9) * step;
    List<Double> out = new ArrayList<>();
    for (int i = 0; first + i * step <= max + step * 1e-9; i++) {
      double t = first + i * step;
      out.add(Math.abs(t) < step * 1e-9 ? 0 : t);  // no "-0"
    }
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }

  private static double niceStep(double raw) {
    double power = Math.pow(10, Math.floor(Math.log10(raw)));
    double f = raw / power;
    double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;  // the nearest round step
    return nice * power;
  }

  /** Labels with just the decimals the tick spacing needs; tiny or huge values (learning rates) in e-notation. */
  static String tickLabel(double value, double[] allTicks) {
    double step = allTicks.length > 1 ? allTicks[1] - allTicks[0] : Math.max(Math.abs(value), 1);
    double largest = Arrays.stream(allTicks).map(Math::abs).max().orElse(Math.abs(value));
    if (value == 0) return "0";
    if (largest < 1e-3 || largest >= 1e7) {
      int digits = Math.max(0, exponent(largest) - exponent(step));
      String s = String.format(java.util.Locale.ROOT, "%." + digits + "e", value);
      return s.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e");
    }
    if (largest >= 10000 && step >= 1000 && step % 1000 == 0) return formatPlain(value / 1000, step / 1000) + "k";
    return formatPlain(value, step);
  }

  private static int exponent(double v) {
    return (int) Math.floor(Math.log10(v) + 1e-9);
  }

  private static String formatPlain(double value, double step) {
    int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step) - 1e-9));
    return String.format(java.util.Locale.ROOT, "%." + decimals + "f", value);
  }
}
