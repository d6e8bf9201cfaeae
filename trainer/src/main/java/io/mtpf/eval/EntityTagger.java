package io.mtpf.eval;

import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.MtpfException;
import io.mtpf.data.LabelMap;
import io.mtpf.runtime.BioDecoder;
import io.mtpf.runtime.Entity;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Inference after NER adaptation: a backbone plus an adapted ner adapter folder (PEFT weights, head_ner and
 * labels.json, as `mtpf adapt-ner --out` writes them) tags raw text on an {@link Encoder} (the adapter loaded by
 * name, with its head); entities come back with character offsets and a score, as the runtime's tagger gives them.
 */
public final class EntityTagger implements AutoCloseable {
  private static final String ADAPTER = "ner";

  private final Encoder encoder;
  private final LabelMap labels;

  private EntityTagger(Encoder encoder, LabelMap labels) {
    this.encoder = encoder;
    this.labels = labels;
  }

  public static EntityTagger load(Path backbone, Path adapter, int maxLength) {
    Path labelFile = adapter.resolve("labels.json");
    if (!Files.isRegularFile(labelFile))
      throw new MtpfException(adapter + ": no labels.json (an adapter written by `mtpf adapt-ner --out`)");
    LabelMap labels = LabelMap.load(labelFile);
    Encoder encoder = Encoder.load(backbone, EncoderOptions.defaults().withMaxLength(maxLength));
    try {
      encoder.loadAdapter(ADAPTER, adapter, "ner");
      int classes = encoder.headClasses(ADAPTER);
      if (classes != labels.size())
        throw new MtpfException(adapter + ": head_ner has " + classes + " classes but labels.json names " + labels.size());
    } catch (RuntimeException e) {
      encoder.close();
      throw e;
    }
    return new EntityTagger(encoder, labels);
  }

  /**
   * Entities of each text, as the runtime's tagger finds them ({@link BioDecoder#entities}): the argmax tag at each
   * word's first sub-token, decoded as seqeval does; an entity's score is its words' mean tag probability.
   */
  public List<List<Entity>> tag(List<String> texts) {
    if (texts.isEmpty()) throw new MtpfException("tag: the text list is empty");
    List<List<Entity>> out = new ArrayList<>();
    for (String text : texts) {
      Encoding e = encoder.tokenizer().encode(text, encoder.maxLength());
      Batch b = Batch.pad(List.of(e), encoder.tokenizer().padId());
      float[] logits = encoder.tokenLogits(b, ADAPTER);
      int k = labels.size();
      float[][] rows = new float[e.length()][];
      for (int t = 0; t < rows.length; t++) rows[t] = Arrays.copyOfRange(logits, t * k, (t + 1) * k);
      out.add(BioDecoder.entities(text, e, rows, labels.names()));
    }
    return out;
  }

  @Override
  public void close() {
    encoder.close();
  }
}
