package io.mtpf.runtime;

import io.mtpf.MtpfException;

/**
 * Sentence-embedding conventions of one {@link Backbone#embed} call: pooling "mean" (over the attention mask, the
 * paper's choice) or "cls", L2 normalisation, and a prefix prepended to every text (e5 expects "query: " or
 * "passage: "). Immutable.
 */
public final class EmbedOptions {
  private final String pooling;
  private final boolean normalize;
  private final String textPrefix;

  private EmbedOptions(String pooling, boolean normalize, String textPrefix) {
    if (!"mean".equals(pooling) && !"cls".equals(pooling))
      throw new MtpfException("EmbedOptions: pooling must be mean or cls, got '" + pooling + "'");
    this.pooling = pooling;
    this.normalize = normalize;
    this.textPrefix = textPrefix == null ? "" : textPrefix;
  }

  /** Mean pooling, not normalised, no prefix. */
  public static EmbedOptions defaults() {
    return new EmbedOptions("mean", false, "");
  }

  public EmbedOptions withPooling(String v) {
    return new EmbedOptions(v, normalize, textPrefix);
  }

  public EmbedOptions withNormalize(boolean v) {
    return new EmbedOptions(pooling, v, textPrefix);
  }

  public EmbedOptions withTextPrefix(String v) {
    return new EmbedOptions(pooling, normalize, v);
  }

  public String pooling() {
    return pooling;
  }

  public boolean normalize() {
    return normalize;
  }

  public String textPrefix() {
    return textPrefix;
  }

  @Override
  public String toString() {
    return "EmbedOptions{pooling=" + pooling + ", normalize=" + normalize + ", textPrefix='" + textPrefix + "'}";
  }
}
