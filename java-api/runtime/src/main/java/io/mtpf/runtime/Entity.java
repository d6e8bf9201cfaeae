package io.mtpf.runtime;

import java.util.Objects;

/**
 * One tagged entity: its type (the label without "B-" / "I-"), the [start, end) character offsets in the input
 * (UTF-16 indices: {@code text.substring(start, end)}), the text it covers, and a score: the mean, over the
 * entity's words, of the softmax probability of each word's predicted tag.
 */
public final class Entity {
  private final String type;
  private final int start;
  private final int end;
  private final String text;
  private final double score;

  public Entity(String type, int start, int end, String text, double score) {
    this.type = type;
    this.start = start;
    this.end = end;
    this.text = text;
    this.score = score;
  }

  public String type() {
    return type;
  }

  public int start() {
    return start;
  }

  public int end() {
    return end;
  }

  public String text() {
    return text;
  }

  public double score() {
    return score;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Entity)) return false;
    Entity e = (Entity) o;
    return start == e.start && end == e.end && type.equals(e.type) && text.equals(e.text)
        && Double.compare(score, e.score) == 0;
  }

  @Override
  public int hashCode() {
    return Objects.hash(type, start, end, text, score);
  }

  @Override
  public String toString() {
    return type + "[" + start + "," + end + ")'" + text + "' " + String.format(java.util.Locale.ROOT, "%.3f", score);
  }
}
