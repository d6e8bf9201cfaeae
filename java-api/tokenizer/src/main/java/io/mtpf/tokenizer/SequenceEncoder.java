package io.mtpf.tokenizer;

/**
 * One text to tokens, in HF's order: split off the raw added tokens ([CLS], [SEP], ... literally in the text),
 * normalize the rest, split off normalized added tokens, pre-tokenize into words, WordPiece each word.
 */
final class SequenceEncoder {
  private final BertNormalizer normalizer;
  /** False when tokenizer.json has no pre-tokenizer: the whole normalized text is one word. */
  private final boolean preTokenize;
  private final WordPieceModel model;
  private final AddedTokenMatcher rawTokens;
  private final AddedTokenMatcher normalizedTokens;

  SequenceEncoder(BertNormalizer normalizer, boolean preTokenize, WordPieceModel model, AddedTokenMatcher rawTokens,
      AddedTokenMatcher normalizedTokens) {
    this.normalizer = normalizer;
    this.preTokenize = preTokenize;
    this.model = model;
    this.rawTokens = rawTokens;
    this.normalizedTokens = normalizedTokens;
  }

  /**
   * Appends the tokens of text to out. fixedWordId >= 0 gives every token that word id (one of several pre-split
   * words); -1 numbers the words as they come, in out's count.
   */
  void encode(String text, int fixedWordId, TokenSequence out) {
    if (rawTokens.isEmpty()) {
      encodeNormalized(text, 0, text.length(), fixedWordId, out);
      return;
    }
    IntList matches = new IntList();
    rawTokens.find(text, matches);
    int pos = 0;
    for (int m = 0; m < matches.size(); m += 3) {
      int start = matches.get(m);
      int end = matches.get(m + 1);
      encodeNormalized(text, pos, start, fixedWordId, out);
      AddedToken t = rawTokens.token(matches.get(m + 2));
      // HF's token text is the matched text: the content, plus any whitespace lstrip/rstrip took in.
      String matched = end - start == t.content.length() ? t.content : text.substring(start, end);
      out.add(t.id, matched, out.nextWordId(fixedWordId), start, end);
      pos = end;
    }
    encodeNormalized(text, pos, text.length(), fixedWordId, out);
  }

  private void encodeNormalized(String text, int from, int to, int fixedWordId, TokenSequence out) {
    if (from >= to) return;
    NormalizedText norm = new NormalizedText(to - from + 8);
    normalizer.normalize(text, from, to, norm);
    if (normalizedTokens.isEmpty()) {
      encodeWords(norm, 0, norm.length, fixedWordId, out);
      return;
    }
    IntList matches = new IntList();
    normalizedTokens.find(norm.toString(), matches);
    int pos = 0;
    for (int m = 0; m < matches.size(); m += 3) {
      int start = matches.get(m);
      int end = matches.get(m + 1);
      encodeWords(norm, pos, start, fixedWordId, out);
      AddedToken t = normalizedTokens.token(matches.get(m + 2));
      out.add(t.id, norm.substring(start, end), out.nextWordId(fixedWordId), norm.origStart[start], norm.origEnd[end - 1]);
      pos = end;
    }
    encodeWords(norm, pos, norm.length, fixedWordId, out);
  }

  private void encodeWords(NormalizedText norm, int from, int to, int fixedWordId, TokenSequence out) {
    if (from >= to) return;
    if (!preTokenize) {
      model.tokenize(norm, from, to, out.nextWordId(fixedWordId), out);
      return;
    }
    IntList words = new IntList();
    BertPreTokenizer.split(norm, from, to, words);
    for (int w = 0; w < words.size(); w += 2) {
      model.tokenize(norm, words.get(w), words.get(w + 1), out.nextWordId(fixedWordId), out);
    }
  }
}
