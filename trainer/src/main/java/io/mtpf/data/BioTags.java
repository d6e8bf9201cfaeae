package io.mtpf.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * BIO tag sequences: the entities they spell, the tagging scheme a file uses, conversion to IOB2, and tag validation.
 *
 * <p>Entities follow seqeval's {@code get_entities} (its default, conlleval-compatible mode) rule for rule: a tag is
 * its first character (B, I, E, S, O) and a type (what follows the first '-'); B- and S- always start an entity, an I-
 * or E- after O (or after an entity of another type) starts one too, a type change ends one, and E- / S- end one.
 * So IOB1, IOB2, IOE and IOBES sequences all decode, and a stray I- after O counts as an entity, as in seqeval.
 */
public final class BioTags {
  private BioTags() {}

  /** An entity: words {@code first..last} (both inclusive, as in seqeval) of one sequence have this type. */
  public record Entity(String type, int first, int last) {}

  /** How a file marks entity starts. Declared from least to most telling: a file's scheme is its sentences' maximum. */
  public enum Scheme {
    /** Every entity starts with B- (or there are no entities). */
    IOB2,
    /** Some entity starts with I- (B- only splits two adjacent entities of one type). */
    IOB1,
    /** E- or S- tags appear (IOBES / BIOES, or IOE). */
    IOBES
  }

  /**
   * seqeval's {@code get_entities} on one flat sequence: entities in order, {@code first}/{@code last} indexes into
   * {@code tags}. Any string is accepted as seqeval accepts it (a tag without '-' has type "_").
   */
  public static List<Entity> entities(List<String> tags) {
    List<Entity> chunks = new ArrayList<>();
    String prevTag = "O";
    String prevType = "";
    int begin = 0;
    int n = tags.size();
    for (int i = 0; i <= n; i++) {
      String chunk = i < n ? tags.get(i) : "O";  // seqeval appends one 'O' so that a last entity is closed
      if (chunk.isEmpty()) throw new IllegalArgumentException("empty tag at position " + i);
      int tagEnd = Character.charCount(chunk.codePointAt(0));
      String tag = chunk.substring(0, tagEnd);
      String rest = chunk.substring(tagEnd);
      int dash = rest.indexOf('-');
      String type = dash >= 0 ? rest.substring(dash + 1) : rest;  // Python: chunk[1:].split('-', 1)[-1] or '_'
      if (type.isEmpty()) type = "_";
      if (endOfChunk(prevTag, tag, prevType, type)) chunks.add(new Entity(prevType, begin, i - 1));
      if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
      prevTag = tag;
      prevType = type;
    }
    return chunks;
  }

  /**
   * seqeval on a list of sentences: the sentences are joined with one 'O' after each (so no entity crosses a
   * sentence boundary), and {@code first}/{@code last} index that joined sequence.
   */
  public static List<Entity> entitiesOfSentences(List<? extends List<String>> sentences) {
    int total = 0;
    for (List<String> s : sentences) total += s.size() + 1;
    List<String> joined = new ArrayList<>(total);
    for (List<String> s : sentences) {
      joined.addAll(s);
      joined.add("O");
    }
    return entities(joined);
  }

  private static boolean endOfChunk(String prevTag, String tag, String prevType, String type) {
    boolean end = false;
    if (prevTag.equals("E")) end = true;
    if (prevTag.equals("S")) end = true;
    if (prevTag.equals("B") && tag.equals("B")) end = true;
    if (prevTag.equals("B") && tag.equals("S")) end = true;
    if (prevTag.equals("B") && tag.equals("O")) end = true;
    if (prevTag.equals("I") && tag.equals("B")) end = true;
    if (prevTag.equals("I") && tag.equals("S")) end = true;
    if (prevTag.equals("I") && tag.equals("O")) end = true;
    if (!prevTag.equals("O") && !prevTag.equals(".") && !prevType.equals(type)) end = true;
    return end;
  }

  private static boolean startOfChunk(String prevTag, String tag, String prevType, String type) {
    boolean start = false;
    if (tag.equals("B")) start = true;
    if (tag.equals("S")) start = true;
    if (prevTag.equals("E") && tag.equals("E")) start = true;
    if (prevTag.equals("E") && tag.equals("I")) start = true;
    if (prevTag.equals("S") && tag.equals("E")) start = true;
    if (prevTag.equals("S") && tag.equals("I")) start = true;
    if (prevTag.equals("O") && tag.equals("E")) start = true;
    if (prevTag.equals("O") && tag.equals("I")) start = true;
    if (!tag.equals("O") && !tag.equals(".") && !prevType.equals(type)) start = true;
    return start;
  }

  /**
   * The same entities written as IOB2: B-type on each entity's first word, I-type on the rest, O elsewhere. IOB2
   * input comes back unchanged; IOB1's entity-starting I- becomes B-; IOBES's S- becomes B- and E- becomes I-.
   * Tags should be valid ({@link #whyInvalid}).
   */
  public static List<String> toIob2(List<String> tags) {
    String[] out = new String[tags.size()];
    Arrays.fill(out, "O");
    for (Entity e : entities(tags)) {
      out[e.first()] = "B-" + e.type();
      String inside = "I-" + e.type();
      for (int k = e.first() + 1; k <= e.last(); k++) out[k] = inside;
    }
    return List.of(out);
  }

  /** The scheme one sentence's tags show. */
  public static Scheme schemeOf(List<String> tags) {
    Scheme scheme = Scheme.IOB2;
    String prevType = null;  // the previous word's entity type; null after O
    for (String tag : tags) {
      if (tag.startsWith("E-") || tag.startsWith("S-")) return Scheme.IOBES;
      String type = tag.length() > 2 && tag.charAt(1) == '-' ? tag.substring(2) : null;
      if (tag.startsWith("I-") && !Objects.equals(type, prevType)) scheme = Scheme.IOB1;
      prevType = type;
    }
    return scheme;
  }

  /** The scheme a file's sentences show: IOBES if any sentence uses E-/S-, else IOB1 if any entity starts with I-. */
  public static Scheme detect(List<? extends List<String>> sentences) {
    Scheme scheme = Scheme.IOB2;
    for (List<String> s : sentences) scheme = wider(scheme, schemeOf(s));
    return scheme;
  }

  /** The more telling of two schemes (for combining sentences one at a time). */
  public static Scheme wider(Scheme a, Scheme b) {
    return a.ordinal() >= b.ordinal() ? a : b;
  }

  /**
   * Why a tag read from a file is not usable, or null when it is: it must be O, or B-, I-, E- or S- followed by a
   * non-empty type without whitespace. Readers report the reason with file:line.
   */
  public static String whyInvalid(String tag) {
    if (tag.equals("O")) return null;
    if (tag.length() < 2 || tag.charAt(1) != '-' || "BIES".indexOf(tag.charAt(0)) < 0) {
      return "tag '" + tag + "' has an unknown prefix (expected O, or B-, I-, E-, S- and an entity type)";
    }
    String type = tag.substring(2);
    if (type.isEmpty()) return "tag '" + tag + "' has no entity type";
    for (int i = 0; i < type.length(); i++) {
      if (Character.isWhitespace(type.charAt(i))) return "tag '" + tag + "' has whitespace in its entity type";
    }
    return null;
  }
}
