package io.mtpf.tokenizer;

import java.util.Arrays;

/**
 * One tokenized input, special tokens included: what HF calls an Encoding. Immutable; the array getters return
 * copies. Offsets are UTF-16 indices into the original text (String.substring(charStart[i], charEnd[i]) is the
 * token's source); HF reports the same spans in code points. Special tokens added by the template have word id -1
 * and offsets 0, 0. For {@link WordPieceTokenizer#encodeWords pre-split words} the offsets are within each word.
 */
public final class Encoding {
  /** The label for tokens a loss ignores (PyTorch's CrossEntropyLoss default, HF run_ner's convention). */
  public static final int IGNORE_LABEL = -100;

  private final int[] ids;
  private final String[] tokens;
  private final int[] typeIds;
  private final int[] wordIds;
  private final int[] sequenceIds;
  private final int[] charStart;
  private final int[] charEnd;
  private final int wordCount;

  Encoding(int[] ids, String[] tokens, int[] typeIds, int[] wordIds, int[] sequenceIds, int[] charStart, int[] charEnd,
      int wordCount) {
    this.ids = ids;
    this.tokens = tokens;
    this.typeIds = typeIds;
    this.wordIds = wordIds;
    this.sequenceIds = sequenceIds;
    this.charStart = charStart;
    this.charEnd = charEnd;
    this.wordCount = wordCount;
  }

  public int length() {
    return ids.length;
  }

  public int[] ids() {
    return ids.clone();
  }

  public int id(int i) {
    return ids[i];
  }

  public String[] tokens() {
    return tokens.clone();
  }

  public int[] typeIds() {
    return typeIds.clone();
  }

  /** All ones: an encoding holds no padding (padding happens in {@link Batch}). */
  public int[] attentionMask() {
    int[] mask = new int[ids.length];
    Arrays.fill(mask, 1);
    return mask;
  }

  /** The word each token comes from, -1 for template special tokens; numbered per sequence, from 0. */
  public int[] wordIds() {
    return wordIds.clone();
  }

  /** 0 for tokens of the first text, 1 for the second of a pair, -1 for template special tokens. */
  public int[] sequenceIds() {
    return sequenceIds.clone();
  }

  public int[] charStart() {
    return charStart.clone();
  }

  public int[] charEnd() {
    return charEnd.clone();
  }

  /** Words in the first text (for pre-split words: how many were given), counted before truncation. */
  public int wordCount() {
    return wordCount;
  }

  /**
   * The index of the first token of each word of the first text, or -1 for a word with no token: one that
   * normalization empties (a lone control or zero-width character, an empty string) or that truncation cut off.
   * NER puts a word's label on this token; a word with -1 gets no label in training and a default one (e.g. "O")
   * when predicting.
   */
  public int[] firstSubtokenIndices() {
    int[] first = new int[wordCount];
    Arrays.fill(first, -1);
    for (int i = 0; i < ids.length; i++) {
      int w = wordIds[i];
      if (sequenceIds[i] == 0 && w >= 0 && w < wordCount && first[w] < 0) first[w] = i;
    }
    return first;
  }

  /**
   * Per-token training labels from per-word labels: each word's label on its first token, {@link #IGNORE_LABEL}
   * on its other tokens and on special tokens (HF run_ner with label_all_tokens=False).
   */
  public int[] tokenLabels(int[] wordLabels) {
    if (wordLabels.length != wordCount) {
      throw new IllegalArgumentException("tokenLabels: " + wordLabels.length + " labels for " + wordCount + " words");
    }
    int[] labels = new int[ids.length];
    Arrays.fill(labels, IGNORE_LABEL);
    int[] first = firstSubtokenIndices();
    for (int w = 0; w < first.length; w++) if (first[w] >= 0) labels[first[w]] = wordLabels[w];
    return labels;
  }

  // Package access for Batch without copies.
  int[] rawIds() {
    return ids;
  }

  int[] rawTypeIds() {
    return typeIds;
  }

  @Override
  public String toString() {
    return "Encoding" + Arrays.toString(tokens);
  }
}
