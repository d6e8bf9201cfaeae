package io.mtpf.tokenizer;

/**
 * HF's BertPreTokenizer: split on whitespace (dropped) and on punctuation (each punctuation character is a word of
 * its own). Word boundaries go to out as (start, end) pairs of indices into the normalized text.
 */
final class BertPreTokenizer {
  private BertPreTokenizer() {}

  static void split(NormalizedText text, int from, int to, IntList out) {
    char[] chars = text.chars;
    int wordStart = -1;
    int i = from;
    while (i < to) {
      int cp = Character.codePointAt(chars, i, to);
      int end = i + Character.charCount(cp);
      boolean space = UnicodeChars.isWhitespace(cp);
      if (space || UnicodeChars.isPunctuation(cp)) {
        if (wordStart >= 0) out.add(wordStart, i);
        wordStart = -1;
        if (!space) out.add(i, end);
      } else if (wordStart < 0) {
        wordStart = i;
      }
      i = end;
    }
    if (wordStart >= 0) out.add(wordStart, to);
  }
}
