package io.mtpf.data;

/** A positive pair for contrastive pre-finetuning: the anchor's only positive is {@code positive}. */
public record TextPair(String anchor, String positive) {}
