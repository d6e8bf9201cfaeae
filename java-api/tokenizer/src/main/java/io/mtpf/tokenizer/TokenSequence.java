package io.mtpf.tokenizer;

import java.util.Arrays;

/** The tokens of one input sequence before special tokens are added: what truncation works on. */
final class TokenSequence {
  int[] ids = new int[32];
  String[] tokens = new String[32];
  int[] wordIds = new int[32];
  int[] starts = new int[32];
  int[] ends = new int[32];
  int size;
  /** Words seen so far (the next word id when words are numbered as they come). */
  int wordCount;

  void add(int id, String token, int wordId, int start, int end) {
    if (size == ids.length) grow();
    ids[size] = id;
    tokens[size] = token;
    wordIds[size] = wordId;
    starts[size] = start;
    ends[size] = end;
    size++;
  }

  /** The id for the next word: the given one for pre-split words (all pieces of word i get i), else a fresh one. */
  int nextWordId(int fixedWordId) {
    return fixedWordId >= 0 ? fixedWordId : wordCount++;
  }

  /** Keeps at most n tokens: the first n, or the last n when fromLeft. */
  void truncate(int n, boolean fromLeft) {
    if (n >= size) return;
    if (fromLeft) {
      int drop = size - n;
      System.arraycopy(ids, drop, ids, 0, n);
      System.arraycopy(tokens, drop, tokens, 0, n);
      System.arraycopy(wordIds, drop, wordIds, 0, n);
      System.arraycopy(starts, drop, starts, 0, n);
      System.arraycopy(ends, drop, ends, 0, n);
    }
    Arrays.fill(tokens, n, size, null);
    size = n;
  }

  private void grow() {
    int n = ids.length * 2;
    ids = Arrays.copyOf(ids, n);
    tokens = Arrays.copyOf(tokens, n);
    wordIds = Arrays.copyOf(wordIds, n);
    starts = Arrays.copyOf(starts, n);
    ends = Arrays.copyOf(ends, n);
  }
}
