package io.mtpf.pretrain;

import java.io.PrintStream;

/**
 * A one-line console progress bar with ETA, redrawn in place on a terminal; off a terminal (logs, CI) it prints
 * a plain line every {@code every} steps instead.
 */
final class ProgressBar {
  private final PrintStream out;
  private final long total;
  private final long start;
  private final boolean terminal;
  private final long startNanos = System.nanoTime();

  ProgressBar(PrintStream out, long start, long total, boolean enabled) {
    this.out = out;
    this.start = start;
    this.total = total;
    this.terminal = enabled && System.console() != null;
  }

  void update(long step, String status, boolean logLine) {
    double done = (double) (step - start) / Math.max(1, total - start);
    double elapsed = (System.nanoTime() - startNanos) / 1e9;
    double eta = done > 0 ? elapsed / done - elapsed : Double.NaN;
    String line = String.format("step %d/%d %s %3.0f%% %s eta %s", step, total, bar(step / (double) total), 100.0 * step / total,
        status, format(eta));
    if (terminal) {
      out.print("\r" + line + "   ");
      out.flush();
    } else if (logLine) {
      out.println(line);
    }
  }

  void finish() {
    if (terminal) out.println();
  }

  private static String bar(double f) {
    int width = 24, full = (int) Math.round(Math.max(0, Math.min(1, f)) * width);
    return "[" + "=".repeat(full) + " ".repeat(width - full) + "]";
  }

  static String format(double seconds) {
    if (!Double.isFinite(seconds)) return "--";
    long s = Math.round(seconds);
    return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60) : String.format("%dm%02ds", s / 60, s % 60);
  }
}
