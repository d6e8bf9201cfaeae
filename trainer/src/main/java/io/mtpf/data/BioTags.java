package io.mtpf.data;

import io.mtpf.runtime.BioDecoder.Chunk;
import io.mtpf.runtime.BioDecoder;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * BIO tag sequences read from files: the tagging scheme a file uses, conversion to IOB2, and tag validation. The
 * entities a sequence spells are {@link BioDecoder#chunks} (seqeval's {@code get_entities}), shared with the taggers.
 */
public final class BioTags {
  private BioTags() {}

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
   * The same entities written as IOB2: B-type on each entity's first word, I-type on the rest, O elsewhere. IOB2
   * input comes back unchanged; IOB1's entity-starting I- becomes B-; IOBES's S- becomes B- and E- becomes I-.
   * Tags should be valid ({@link #whyInvalid}).
   */
  public static List<String> toIob2(List<String> tags) {
    String[] out = new String[tags.size()];
    Arrays.fill(out, "O");
    for (Chunk e : BioDecoder.chunks(tags)) {
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
