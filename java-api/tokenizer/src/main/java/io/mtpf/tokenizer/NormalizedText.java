package io.mtpf.tokenizer;

/**
 * Text after normalization, with the span in the original text that each UTF-16 unit came from. Every normalized
 * character keeps the span of the original character it was derived from (HF's alignments), so a token's original
 * offsets are the start of its first unit and the end of its last one.
 */
final class NormalizedText {
  char[] chars;
  int[] origStart;
  int[] origEnd;
  int length;

  NormalizedText(int capacity) {
    capacity = Math.max(capacity, 8);
    chars = new char[capacity];
    origStart = new int[capacity];
    origEnd = new int[capacity];
  }

  void append(int cp, int start, int end) {
    if (length + 2 > chars.length) grow();
    if (cp < Character.MIN_SUPPLEMENTARY_CODE_POINT) {
      put((char) cp, start, end);
    } else {
      put(Character.highSurrogate(cp), start, end);
      put(Character.lowSurrogate(cp), start, end);
    }
  }

  private void put(char c, int start, int end) {
    chars[length] = c;
    origStart[length] = start;
    origEnd[length] = end;
    length++;
  }

  private void grow() {
    int n = chars.length * 2;
    chars = java.util.Arrays.copyOf(chars, n);
    origStart = java.util.Arrays.copyOf(origStart, n);
    origEnd = java.util.Arrays.copyOf(origEnd, n);
  }

  String substring(int from, int to) {
    return new String(chars, from, to - from);
  }

  @Override
  public String toString() {
    return new String(chars, 0, length);
  }
}
