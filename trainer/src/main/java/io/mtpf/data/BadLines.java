package io.mtpf.data;

import io.mtpf.MtpfException;
import java.util.ArrayList;
import java.util.List;

/**
 * What to do with a malformed data line: fail (the default) naming file:line and the reason, or skip it, counting
 * and remembering the first few so the run can report them (--skip-bad-lines). Never a silent drop.
 */
public final class BadLines {
  private final boolean skip;
  private int count;
  private final List<String> examples = new ArrayList<>();

  private BadLines(boolean skip) {
    this.skip = skip;
  }

  public static BadLines fail() {
    return new BadLines(false);
  }

  public static BadLines skip() {
    return new BadLines(true);
  }

  /** Reports a bad line: throws unless skipping. */
  public synchronized void report(String file, long line, String reason) {
    String where = file + ":" + line + ": " + reason;
    if (!skip) throw new MtpfException(where + " (use --skip-bad-lines to skip such lines)");
    count++;
    if (examples.size() < 5) examples.add(where);
  }

  public synchronized int count() {
    return count;
  }

  /** One line for the run's output, or empty when nothing was skipped. */
  public synchronized String summary() {
    if (count == 0) return "";
    return "skipped " + count + " malformed line(s), e.g. " + String.join("; ", examples);
  }
}
