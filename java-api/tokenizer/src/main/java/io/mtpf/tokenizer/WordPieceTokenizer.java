package io.mtpf.tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * BERT's WordPiece tokenizer in plain Java, equal token for token to HF tokenizers (BertNormalizer +
 * BertPreTokenizer + WordPiece + TemplateProcessing, longest_first truncation); checked against HF's Rust code on
 * real data by TokenizerParityTest. Immutable and thread-safe.
 *
 * <pre>{@code
 * WordPieceTokenizer tok = WordPieceTokenizer.fromFolder(Path.of("models/bge-small-en-v1.5"));
 * Encoding e = tok.encode("Héllo, world!");            // [CLS] hello , world ! [SEP]
 * Batch b = tok.encodeBatch(List.of("a", "b c"));      // int64 [2, seqLen] for the encoder
 * }</pre>
 */
public final class WordPieceTokenizer {
  private final SequenceEncoder encoder;
  private final WordPieceModel model;
  private final List<AddedToken> addedTokens;
  private final TemplateProcessor template;
  private final int maxLength;
  private final boolean truncateLeft;
  private final int padId;
  private final String source;

  WordPieceTokenizer(SequenceEncoder encoder, WordPieceModel model, List<AddedToken> addedTokens,
      TemplateProcessor template, int maxLength, boolean truncateLeft, int padId, String source) {
    this.encoder = encoder;
    this.model = model;
    this.addedTokens = Collections.unmodifiableList(new ArrayList<>(addedTokens));
    this.template = template;
    this.maxLength = maxLength;
    this.truncateLeft = truncateLeft;
    this.padId = padId;
    this.source = source;
  }

  /**
   * From an HF model folder: tokenizer.json if there is one, else vocab.txt with tokenizer_config.json's
   * do_lower_case, strip_accents and tokenize_chinese_chars. The max length is tokenizer_config.json's
   * model_max_length, else tokenizer.json's truncation max_length, else 512.
   */
  public static WordPieceTokenizer fromFolder(Path dir) {
    return TokenizerLoader.fromFolder(dir);
  }

  /** From an HF tokenizer.json; refuses (TokenizerException) anything but a BERT WordPiece pipeline. */
  public static WordPieceTokenizer fromTokenizerJson(Path file) {
    return TokenizerLoader.fromTokenizerJson(file);
  }

  /** From a BERT vocab.txt (one token per line, id = line number), with BERT's defaults and max length 512. */
  public static WordPieceTokenizer fromVocab(Path vocabTxt, boolean lowercase) {
    return TokenizerLoader.fromVocab(vocabTxt, lowercase);
  }

  /** The same tokenizer truncating to maxLength tokens, special tokens included; Integer.MAX_VALUE: never truncate. */
  public WordPieceTokenizer withMaxLength(int maxLength) {
    if (maxLength < template.addedTokens(false)) {
      throw new IllegalArgumentException("maxLength " + maxLength + " leaves no room for the special tokens");
    }
    return new WordPieceTokenizer(encoder, model, addedTokens, template, maxLength, truncateLeft, padId, source);
  }

  public int maxLength() {
    return maxLength;
  }

  public int padId() {
    return padId;
  }

  /** Entries in the WordPiece vocab (added tokens outside it not counted). */
  public int vocabSize() {
    return model.vocabSize();
  }

  /** The id of a vocab or added token, or -1. */
  public int tokenToId(String token) {
    for (AddedToken t : addedTokens) if (t.content.equals(token)) return t.id;
    Integer id = model.id(token);
    return id == null ? -1 : id;
  }

  /** The token with this id, or null. */
  public String idToToken(int id) {
    for (AddedToken t : addedTokens) if (t.id == id) return t.content;
    return model.token(id);
  }

  public List<AddedToken> addedTokens() {
    return addedTokens;
  }

  /** [CLS] text [SEP], truncated to {@link #maxLength()}. */
  public Encoding encode(String text) {
    return encode(text, maxLength);
  }

  /** [CLS] text [SEP], truncated to maxLength tokens (Integer.MAX_VALUE: not truncated). */
  public Encoding encode(String text, int maxLength) {
    TokenSequence a = new TokenSequence();
    encoder.encode(text, -1, a);
    return finish(a, null, a.wordCount, maxLength);
  }

  /** [CLS] a [SEP] b [SEP], b with token type 1; longest_first truncation to {@link #maxLength()}. */
  public Encoding encode(String a, String b) {
    return encode(a, b, maxLength);
  }

  public Encoding encode(String a, String b, int maxLength) {
    TokenSequence first = new TokenSequence();
    encoder.encode(a, -1, first);
    TokenSequence second = new TokenSequence();
    encoder.encode(b, -1, second);
    return finish(first, second, first.wordCount, maxLength);
  }

  /**
   * Pre-split words (NER): word id i for every token of words.get(i), offsets within each word (as HF with
   * is_split_into_words). A word may give several tokens ("don't": don ' t) or none (see
   * {@link Encoding#firstSubtokenIndices}).
   */
  public Encoding encodeWords(List<String> words) {
    return encodeWords(words, maxLength);
  }

  public Encoding encodeWords(List<String> words, int maxLength) {
    TokenSequence a = new TokenSequence();
    for (int i = 0; i < words.size(); i++) encoder.encode(words.get(i), i, a);
    return finish(a, null, words.size(), maxLength);
  }

  public List<Encoding> encodeAll(List<String> texts) {
    List<Encoding> out = new ArrayList<>(texts.size());
    for (String t : texts) out.add(encode(t));
    return out;
  }

  /** Right-pads to the longest encoding with this tokenizer's pad id. */
  public Batch pad(List<Encoding> encodings) {
    return Batch.pad(encodings, padId);
  }

  public Batch encodeBatch(List<String> texts) {
    return pad(encodeAll(texts));
  }

  private Encoding finish(TokenSequence a, TokenSequence b, int wordCount, int maxLength) {
    if (maxLength != Integer.MAX_VALUE) {
      int budget = maxLength - template.addedTokens(b != null);
      if (budget < 0) {
        throw new IllegalArgumentException("maxLength " + maxLength + " leaves no room for the "
            + template.addedTokens(b != null) + " special tokens");
      }
      Truncation.longestFirst(a, b, budget, truncateLeft);
    }
    return template.apply(a, b, wordCount);
  }

  @Override
  public String toString() {
    return "WordPieceTokenizer(" + source + ", vocab " + vocabSize() + ", maxLength " + maxLength + ")";
  }
}
