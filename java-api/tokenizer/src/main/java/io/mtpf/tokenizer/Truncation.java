package io.mtpf.tokenizer;

/** HF's longest_first truncation: shorten the longer sequence first, so a pair ends up as even as it can be. */
final class Truncation {
  private Truncation() {}

  /**
   * Cuts a (and b, for a pair) so that together they hold at most budget tokens: the max length less the template's
   * special tokens. fromLeft drops tokens at the start instead of the end (HF's direction "Left").
   */
  static void longestFirst(TokenSequence a, TokenSequence b, int budget, boolean fromLeft) {
    int total = a.size + (b == null ? 0 : b.size);
    if (total <= budget) return;
    if (b == null) {
      a.truncate(budget, fromLeft);
      return;
    }
    // HF's closed form (tokenizers utils/truncation.rs), with n1 the shorter sequence:
    // keep the shorter whole if the longer can take the rest, else give each half (the longer gets the odd one).
    boolean swap = a.size > b.size;
    int n1 = swap ? b.size : a.size;
    int n2;
    if (n1 > budget) {
      n2 = n1;
    } else {
      n2 = Math.max(n1, budget - n1);
    }
    if (n1 + n2 > budget) {
      n1 = budget / 2;
      n2 = n1 + budget % 2;
    }
    a.truncate(swap ? n2 : n1, fromLeft);
    b.truncate(swap ? n1 : n2, fromLeft);
  }
}
