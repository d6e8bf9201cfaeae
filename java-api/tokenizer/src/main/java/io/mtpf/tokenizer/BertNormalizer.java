package io.mtpf.tokenizer;

import java.text.Normalizer;

/**
 * HF's BertNormalizer: drop control characters and map whitespace to ' ' (clean_text), put spaces around CJK
 * ideographs (handle_chinese_chars), strip accents (NFD, then drop non-spacing marks), lowercase. Each step maps one
 * code point to zero or more, so it runs per code point and every output character keeps its source's span.
 */
final class BertNormalizer {
  /** No normalization at all (a tokenizer.json whose normalizer is null). */
  static final BertNormalizer IDENTITY = new BertNormalizer(false, false, false, false);

  final boolean cleanText;
  final boolean handleChineseChars;
  final boolean stripAccents;
  final boolean lowercase;

  /** @param stripAccents null follows lowercase, as in HF */
  static BertNormalizer of(boolean cleanText, boolean handleChineseChars, Boolean stripAccents, boolean lowercase) {
    return new BertNormalizer(cleanText, handleChineseChars, stripAccents == null ? lowercase : stripAccents, lowercase);
  }

  private BertNormalizer(boolean cleanText, boolean handleChineseChars, boolean stripAccents, boolean lowercase) {
    this.cleanText = cleanText;
    this.handleChineseChars = handleChineseChars;
    this.stripAccents = stripAccents;
    this.lowercase = lowercase;
  }

  /** Normalizes text[from, to) and appends it to out; spans are indices into text. */
  void normalize(String text, int from, int to, NormalizedText out) {
    int i = from;
    while (i < to) {
      int cp = text.codePointAt(i);
      int end = i + Character.charCount(cp);
      if (cleanText) {
        if (cp == 0 || cp == 0xFFFD || UnicodeChars.isControl(cp)) {
          i = end;
          continue;
        }
        if (UnicodeChars.isWhitespace(cp)) cp = ' ';
      }
      if (handleChineseChars && UnicodeChars.isChinese(cp)) {
        out.append(' ', i, end);
        decompose(cp, i, end, out);
        out.append(' ', i, end);
      } else {
        decompose(cp, i, end, out);
      }
      i = end;
    }
  }

  private void decompose(int cp, int start, int end, NormalizedText out) {
    // Below U+00C0 nothing has a canonical decomposition or is a mark: skip the costly Normalizer call.
    if (!stripAccents || cp < 0xC0) {
      lower(cp, start, end, out);
      return;
    }
    String nfd = Normalizer.normalize(new String(Character.toChars(cp)), Normalizer.Form.NFD);
    for (int k = 0; k < nfd.length(); ) {
      int d = nfd.codePointAt(k);
      k += Character.charCount(d);
      if (!UnicodeChars.isNonSpacingMark(d)) lower(d, start, end, out);
    }
  }

  private void lower(int cp, int start, int end, NormalizedText out) {
    if (!lowercase) {
      out.append(cp, start, end);
    } else if (cp < 0x80) {
      out.append(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp, start, end);
    } else if (cp == 0x130) {
      // The one unconditional one-to-many lowercase mapping (Rust's char::to_lowercase): I-dot -> i + combining dot.
      out.append('i', start, end);
      out.append(0x307, start, end);
    } else {
      out.append(Character.toLowerCase(cp), start, end);
    }
  }
}
