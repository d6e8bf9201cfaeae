package io.mtpf.tokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Finds added tokens in a string as HF does (Aho-Corasick, leftmost-longest, non-overlapping), then applies each
 * token's single_word / lstrip / rstrip rules. Few tokens, so a scan with a first-character filter is enough.
 */
final class AddedTokenMatcher {
  private final String[] patterns;
  private final AddedToken[] tokens;
  private final BitSet firstChars = new BitSet();

  /** @param patterns the text to look for per token (its content, normalized for normalized tokens) */
  AddedTokenMatcher(List<AddedToken> tokens, List<String> patterns) {
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < tokens.size(); i++) if (!patterns.get(i).isEmpty()) order.add(i);
    // Longest first, so the first hit at a position is the longest one.
    order.sort((a, b) -> patterns.get(b).length() - patterns.get(a).length());
    this.patterns = new String[order.size()];
    this.tokens = new AddedToken[order.size()];
    for (int k = 0; k < order.size(); k++) {
      this.patterns[k] = patterns.get(order.get(k));
      this.tokens[k] = tokens.get(order.get(k));
      firstChars.set(this.patterns[k].charAt(0));
    }
  }

  boolean isEmpty() {
    return patterns.length == 0;
  }

  AddedToken token(int k) {
    return tokens[k];
  }

  /** Appends (start, end, k) for every match in s, in order; k is for {@link #token}. */
  void find(String s, IntList out) {
    int n = s.length();
    int startOffset = 0; // end of the last accepted match
    int i = 0;
    while (i < n) {
      int k = longestAt(s, i);
      if (k < 0) {
        i++;
        continue;
      }
      int start = i;
      int stop = i + patterns[k].length();
      i = stop; // a rejected match still consumes its text, as the automaton's iterator does
      AddedToken t = tokens[k];
      if (t.singleWord) {
        boolean spaceBefore = start == 0 || !UnicodeChars.isWordChar(s.codePointBefore(start));
        boolean spaceAfter = stop == n || !UnicodeChars.isWordChar(s.codePointAt(stop));
        if (!spaceBefore || !spaceAfter) continue;
      }
      if (t.lstrip) {
        int newStart = start;
        while (newStart > 0 && UnicodeChars.isWhitespace(s.codePointBefore(newStart))) {
          newStart -= Character.charCount(s.codePointBefore(newStart));
        }
        start = Math.max(newStart, startOffset);
      }
      if (t.rstrip) {
        while (stop < n && UnicodeChars.isWhitespace(s.codePointAt(stop))) stop += Character.charCount(s.codePointAt(stop));
        i = stop;
      }
      out.add(start, stop, k);
      startOffset = stop;
    }
  }

  private int longestAt(String s, int i) {
    if (!firstChars.get(s.charAt(i))) return -1;
    for (int k = 0; k < patterns.length; k++) {
      if (s.startsWith(patterns[k], i)) return k;
    }
    return -1;
  }
}
