package io.mtpf.pretrain;

import io.mtpf.Encoder;
import io.mtpf.MtpfException;
import io.mtpf.TokenEmbeddings;
import io.mtpf.TokenStateSource;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A loaded {@link Encoder} as a {@link TokenStateSource}, so the interference probes also run on exported models
 * (e.g. to compare a base model with its pre-finetuned backbone). An Encoder has no adapters: only "" is accepted.
 *
 * <p>Encoder takes words, not a Batch, so each row is turned back into words (WordPiece tokens with their "##"
 * continuations joined) and re-encoded; the re-encoding must give the row's exact ids, else this throws rather
 * than measure a different input. Single-sequence rows ([CLS] words [SEP]) of the Encoder's own tokenizer do.
 */
public final class EncoderTokenStates implements TokenStateSource {
  private static final String CONTINUATION = "##";
  private final Encoder encoder;

  public EncoderTokenStates(Encoder encoder) {
    this.encoder = encoder;
  }

  @Override
  public float[] tokenStates(Batch batch, String adapter) {
    if (adapter != null && !adapter.isEmpty()) {
      throw new MtpfException("a loaded encoder has no adapter '" + adapter + "': measure the base (\"\") or load the"
          + " folder the adapter was merged into");
    }
    List<List<String>> sentences = wordsOf(batch, encoder.tokenizer());
    List<TokenEmbeddings> embedded = encoder.wordTokenEmbeddings(sentences);
    int hidden = encoder.hiddenSize();
    int seq = batch.seqLen();
    float[] out = new float[batch.batchSize() * seq * hidden];
    for (int r = 0; r < embedded.size(); r++) {
      TokenEmbeddings e = embedded.get(r);
      requireSameIds(batch, r, e.encoding());
      float[][] vectors = e.vectors();
      for (int t = 0; t < vectors.length; t++) System.arraycopy(vectors[t], 0, out, (r * seq + t) * hidden, hidden);
    }
    return out;
  }

  @Override
  public int hiddenSize() {
    return encoder.hiddenSize();
  }

  @Override
  public WordPieceTokenizer tokenizer() {
    return encoder.tokenizer();
  }

  /** Each row's words: its attended tokens between the first and last (the template's [CLS] and [SEP]). */
  static List<List<String>> wordsOf(Batch batch, WordPieceTokenizer tokenizer) {
    List<List<String>> out = new ArrayList<>(batch.batchSize());
    int seq = batch.seqLen();
    for (int r = 0; r < batch.batchSize(); r++) {
      int length = rowLength(batch, r);
      List<String> words = new ArrayList<>();
      for (int t = 1; t < length - 1; t++) {
        long id = batch.inputIds()[r * seq + t];
        if (batch.tokenTypeIds()[r * seq + t] != 0) {
          throw new MtpfException("EncoderTokenStates: batch row " + r + " is a text pair; only single texts are supported");
        }
        String token = tokenizer.idToToken((int) id);
        if (token == null) throw new MtpfException("EncoderTokenStates: id " + id + " is not in the tokenizer's vocab");
        if (token.startsWith(CONTINUATION) && token.length() > CONTINUATION.length() && !words.isEmpty()) {
          int last = words.size() - 1;
          words.set(last, words.get(last) + token.substring(CONTINUATION.length()));
        } else {
          words.add(token);
        }
      }
      out.add(words);
    }
    return out;
  }

  static void requireSameIds(Batch batch, int row, Encoding encoding) {
    int length = rowLength(batch, row);
    long[] rowIds = Arrays.copyOfRange(batch.inputIds(), row * batch.seqLen(), row * batch.seqLen() + length);
    long[] ids = Arrays.stream(encoding.ids()).asLongStream().toArray();
    if (!Arrays.equals(rowIds, ids)) {
      throw new MtpfException("EncoderTokenStates: batch row " + row + " does not survive re-encoding by the encoder ("
          + Arrays.toString(rowIds) + " became " + Arrays.toString(ids) + "); was it made with another tokenizer or"
          + " a longer max length?");
    }
  }

  private static int rowLength(Batch batch, int row) {
    int length = 0;
    for (int t = 0; t < batch.seqLen(); t++) length += (int) batch.attentionMask()[row * batch.seqLen() + t];
    return length;
  }
}
