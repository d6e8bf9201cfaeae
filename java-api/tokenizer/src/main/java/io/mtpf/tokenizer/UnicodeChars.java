package io.mtpf.tokenizer;

/**
 * The character classes of HF tokenizers' BERT normalizer and pre-tokenizer, on code points. They mirror the Rust
 * definitions (char::is_whitespace, unicode_categories' is_other / is_punctuation / is_mark_nonspacing, see
 * {@link UnicodeTables}), which differ from Java's Character.isWhitespace and Character.getType.
 */
final class UnicodeChars {
  private UnicodeChars() {}

  /** Unicode White_Space, as Rust's char::is_whitespace (Java's isWhitespace skips no-break spaces and adds U+001C..1F). */
  static boolean isWhitespace(int cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    switch (cp) {
      case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
      default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
  }

  /**
   * BERT's "control": Cc, Cf and Co (HF's is_other), except tab, newline and carriage return, which count as
   * whitespace. Unassigned code points are not included (HF keeps them), lone surrogates are (HF never sees them).
   */
  static boolean isControl(int cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    if (cp >= 0x20 && cp < 0x7F) return false;
    return UnicodeTables.contains(UnicodeTables.CONTROL_OR_FORMAT, cp) || (cp >= 0xE000 && cp <= 0xF8FF)
        || (cp >= 0xF0000 && cp <= 0xFFFFD) || (cp >= 0x100000 && cp <= 0x10FFFD) || (cp >= 0xD800 && cp <= 0xDFFF);
  }

  /** BERT's punctuation: every ASCII non-alphanumeric symbol (so "$", "^", "`" count) plus Unicode categories P*. */
  static boolean isPunctuation(int cp) {
    if (cp < 0x80) return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    return UnicodeTables.contains(UnicodeTables.PUNCTUATION, cp);
  }

  /**
   * The CJK ideograph blocks BERT splits into single characters. 0x2B920 (not 0x2B820, where Extension E starts) is
   * what HF's Rust code says, so the first 256 Extension E ideographs are not split there; we follow HF.
   */
  static boolean isChinese(int cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
  }

  static boolean isNonSpacingMark(int cp) {
    return cp >= 0x300 && UnicodeTables.contains(UnicodeTables.NON_SPACING_MARK, cp);
  }

  /** Word characters for an added token's single_word check (the regex \w that HF uses). */
  static boolean isWordChar(int cp) {
    if (cp == '_' || Character.isLetterOrDigit(cp)) return true;
    int type = Character.getType(cp);
    return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
        || type == Character.ENCLOSING_MARK || type == Character.CONNECTOR_PUNCTUATION;
  }
}
