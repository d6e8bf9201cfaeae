package io.mtpf.tokenizer;

import java.util.HashMap;
import java.util.Map;

/**
 * HF's WordPiece model: greedy longest-match-first over the vocab, continuation pieces carrying the "##" prefix; a
 * word with more than maxInputCharsPerWord code points, or with any piece not in the vocab, becomes one [UNK].
 */
final class WordPieceModel {
  private final Map<String, Integer> vocab;
  /** Continuation pieces keyed without their prefix, so lookups need no string concatenation. */
  private final Map<String, Integer> continuation;
  /** A map, not an array: ids may be sparse (HF allows any u32), and an array sized by the largest id could exhaust memory. */
  private final Map<Integer, String> idToToken;
  private final int maxPieceChars;
  final String unkToken;
  final int unkId;
  final String prefix;
  final int maxInputCharsPerWord;

  WordPieceModel(Map<String, Integer> vocab, String unkToken, String prefix, int maxInputCharsPerWord) {
    this.vocab = vocab;
    this.unkToken = unkToken;
    this.prefix = prefix;
    this.maxInputCharsPerWord = maxInputCharsPerWord;
    this.unkId = vocab.get(unkToken);
    this.continuation = new HashMap<>(vocab.size() * 2);
    this.idToToken = new HashMap<>(vocab.size() * 2);
    int longest = 1;
    for (Map.Entry<String, Integer> e : vocab.entrySet()) {
      String key = e.getKey();
      idToToken.put(e.getValue(), key);
      longest = Math.max(longest, key.length());
      if (key.startsWith(prefix)) continuation.put(key.substring(prefix.length()), e.getValue());
    }
    this.maxPieceChars = longest;
  }

  int vocabSize() {
    return vocab.size();
  }

  Integer id(String token) {
    return vocab.get(token);
  }

  String token(int id) {
    return idToToken.get(id);
  }

  /** Appends the pieces of the word text[start, end) to out, all with the given word id. */
  void tokenize(NormalizedText text, int start, int end, int wordId, TokenSequence out) {
    char[] chars = text.chars;
    int wordStart = text.origStart[start];
    int wordEnd = text.origEnd[end - 1];
    if (Character.codePointCount(chars, start, end - start) > maxInputCharsPerWord) {
      out.add(unkId, unkToken, wordId, wordStart, wordEnd);
      return;
    }
    int mark = out.size;
    int s = start;
    while (s < end) {
      Map<String, Integer> pieces = s == start ? vocab : continuation;
      int e = Math.min(end, s + maxPieceChars);
      if (e < end && Character.isLowSurrogate(chars[e]) && Character.isHighSurrogate(chars[e - 1])) e--;
      Integer id = null;
      String piece = null;
      while (e > s) {
        piece = new String(chars, s, e - s);
        id = pieces.get(piece);
        if (id != null) break;
        e -= Character.charCount(Character.codePointBefore(chars, e, s));
      }
      if (id == null) {
        // One unknown piece makes the whole word unknown (as in BERT and HF).
        out.size = mark;
        out.add(unkId, unkToken, wordId, wordStart, wordEnd);
        return;
      }
      // The piece as matched (HF's token value), not the id's token: two vocab entries may share an id.
      out.add(id, s == start ? piece : prefix + piece, wordId, text.origStart[s], text.origEnd[e - 1]);
      s = e;
    }
  }
}
