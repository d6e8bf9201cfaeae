package io.mtpf.tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * HF's TemplateProcessing (and BertProcessing, its fixed case): where special tokens go around the sequences and
 * which token type id each part gets, e.g. single "[CLS] $A [SEP]", pair "[CLS] $A [SEP] $B:1 [SEP]:1".
 */
final class TemplateProcessor {
  /** One template item: a sequence (A = 0, B = 1) or a run of special tokens, with its type id. */
  static final class Piece {
    final int sequence; // 0, 1, or -1 for special tokens
    final int[] ids;
    final String[] tokens;
    final int typeId;

    private Piece(int sequence, int[] ids, String[] tokens, int typeId) {
      this.sequence = sequence;
      this.ids = ids;
      this.tokens = tokens;
      this.typeId = typeId;
    }

    static Piece sequence(int sequence, int typeId) {
      return new Piece(sequence, null, null, typeId);
    }

    static Piece special(int[] ids, String[] tokens, int typeId) {
      return new Piece(-1, ids, tokens, typeId);
    }
  }

  private final Piece[] single;
  private final Piece[] pair;

  TemplateProcessor(List<Piece> single, List<Piece> pair) {
    this.single = single.toArray(new Piece[0]);
    this.pair = pair.toArray(new Piece[0]);
  }

  /** BERT's: [CLS] A [SEP] and [CLS] A [SEP] B [SEP], B and its [SEP] with type id 1. */
  static TemplateProcessor bert(int clsId, String cls, int sepId, String sep) {
    Piece c = Piece.special(new int[] {clsId}, new String[] {cls}, 0);
    Piece s0 = Piece.special(new int[] {sepId}, new String[] {sep}, 0);
    Piece s1 = Piece.special(new int[] {sepId}, new String[] {sep}, 1);
    return new TemplateProcessor(
        Arrays.asList(c, Piece.sequence(0, 0), s0), Arrays.asList(c, Piece.sequence(0, 0), s0, Piece.sequence(1, 1), s1));
  }

  /** No post-processor: the sequences alone, with type ids 0 and 1 (HF's default). */
  static TemplateProcessor none() {
    return new TemplateProcessor(Arrays.asList(Piece.sequence(0, 0)), Arrays.asList(Piece.sequence(0, 0), Piece.sequence(1, 1)));
  }

  /** How many special tokens the template adds: what truncation must leave room for. */
  int addedTokens(boolean isPair) {
    int n = 0;
    for (Piece p : isPair ? pair : single) if (p.sequence < 0) n += p.ids.length;
    return n;
  }

  Encoding apply(TokenSequence a, TokenSequence b, int wordCount) {
    Piece[] pieces = b == null ? single : pair;
    int n = 0;
    for (Piece p : pieces) n += p.sequence < 0 ? p.ids.length : (p.sequence == 0 ? a : b).size;
    int[] ids = new int[n];
    String[] tokens = new String[n];
    int[] typeIds = new int[n];
    int[] wordIds = new int[n];
    int[] sequenceIds = new int[n];
    int[] starts = new int[n];
    int[] ends = new int[n];
    int at = 0;
    for (Piece p : pieces) {
      if (p.sequence < 0) {
        for (int k = 0; k < p.ids.length; k++, at++) {
          ids[at] = p.ids[k];
          tokens[at] = p.tokens[k];
          typeIds[at] = p.typeId;
          wordIds[at] = -1;
          sequenceIds[at] = -1;
        }
      } else {
        TokenSequence s = p.sequence == 0 ? a : b;
        System.arraycopy(s.ids, 0, ids, at, s.size);
        System.arraycopy(s.tokens, 0, tokens, at, s.size);
        System.arraycopy(s.wordIds, 0, wordIds, at, s.size);
        System.arraycopy(s.starts, 0, starts, at, s.size);
        System.arraycopy(s.ends, 0, ends, at, s.size);
        for (int k = 0; k < s.size; k++, at++) {
          typeIds[at] = p.typeId;
          sequenceIds[at] = p.sequence;
        }
      }
    }
    return new Encoding(ids, tokens, typeIds, wordIds, sequenceIds, starts, ends, wordCount);
  }
}
