package io.mtpf.tokenizer;

/**
 * A token matched whole in the input text before normalization and WordPiece (tokenizer.json's added_tokens, e.g.
 * [CLS], [SEP], [MASK]): a literal "[SEP]" in a sentence becomes the [SEP] token, as in HF.
 */
public final class AddedToken {
  public final int id;
  public final String content;
  public final boolean special;
  /** Matched against the normalized text (else against the raw text). */
  public final boolean normalized;
  /** Also swallow the whitespace to the left / right of the match. */
  public final boolean lstrip;
  public final boolean rstrip;
  /** Match only where not inside a word. */
  public final boolean singleWord;

  public AddedToken(int id, String content, boolean special, boolean normalized, boolean lstrip, boolean rstrip,
      boolean singleWord) {
    this.id = id;
    this.content = content;
    this.special = special;
    this.normalized = normalized;
    this.lstrip = lstrip;
    this.rstrip = rstrip;
    this.singleWord = singleWord;
  }

  @Override
  public String toString() {
    return content + "=" + id + (special ? " (special)" : "");
  }
}
