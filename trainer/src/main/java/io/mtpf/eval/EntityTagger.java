package io.mtpf.eval;

import io.mtpf.Encoder;
import io.mtpf.EncoderOptions;
import io.mtpf.MtpfException;
import io.mtpf.data.BioTags;
import io.mtpf.data.LabelMap;
import io.mtpf.runtime.Entity;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
   * Entities of each text: the argmax tag at each word's first sub-token, decoded as seqeval does; an entity's
   * score is the mean over its words of the softmax probability of the word's tag.
   */
  public List<List<Entity>> tag(List<String> texts) {
    if (texts.isEmpty()) throw new MtpfException("tag: the text list is empty");
    List<List<Entity>> out = new ArrayList<>();
    for (String text : texts) {
      Encoding e = encoder.tokenizer().encode(text, encoder.maxLength());
      Batch b = Batch.pad(List.of(e), encoder.tokenizer().padId());
      float[] logits = encoder.tokenLogits(b, ADAPTER);
      int k = labels.size();
      int[] wordIds = e.wordIds(), starts = e.charStart(), ends = e.charEnd();
      // Per word: its tag and that tag's probability (from its first token), and its character span (over all its
      // tokens).
      List<String> tags = new ArrayList<>();
      List<Double> probabilities = new ArrayList<>();
      List<int[]> spans = new ArrayList<>();
      for (int t = 0; t < wordIds.length; t++) {
        int w = wordIds[t];
        if (w < 0) continue;
        while (tags.size() < w) {  // a word that produced no token (e.g. only control characters)
          tags.add("O");
          probabilities.add(Double.NaN);
          spans.add(new int[] {starts[t], starts[t]});
        }
        if (w == tags.size()) {
          int best = 0;
          for (int c = 1; c < k; c++) if (logits[t * k + c] > logits[t * k + best]) best = c;
          double sum = 0;
          for (int c = 0; c < k; c++) sum += Math.exp(logits[t * k + c] - logits[t * k + best]);
          tags.add(labels.name(best));
          probabilities.add(1 / sum);
          spans.add(new int[] {starts[t], ends[t]});
        } else if (w == tags.size() - 1) {
          spans.get(w)[1] = ends[t];
        }
      }
      List<Entity> entities = new ArrayList<>();
      for (BioTags.Entity ent : BioTags.entities(tags)) {
        int start = spans.get(ent.first())[0], end = spans.get(ent.last())[1];
        double score = 0;
        for (int w = ent.first(); w <= ent.last(); w++) score += probabilities.get(w);
        entities.add(new Entity(ent.type(), start, end, text.substring(start, end), score / (ent.last() - ent.first() + 1)));
      }
      out.add(entities);
    }
    return out;
  }

  @Override
  public void close() {
    encoder.close();
  }
}
