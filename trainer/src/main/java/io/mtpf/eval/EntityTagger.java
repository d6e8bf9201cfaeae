package io.mtpf.eval;

import io.mtpf.MtpfException;
import io.mtpf.PretrainSession;
import io.mtpf.TrainerConfig;
import io.mtpf.data.BioTags;
import io.mtpf.data.LabelMap;
import io.mtpf.formats.PeftConfig;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Inference after NER adaptation: a backbone plus an adapted ner adapter folder (PEFT weights, head_ner and
 * labels.json, as `mtpf adapt-ner --out` writes them) tags raw text; entities come back with character offsets.
 */
public final class EntityTagger implements AutoCloseable {
  /** One entity: its type, the text it covers, and [start, end) character offsets in the input. */
  public record Entity(String type, String text, int start, int end) {}

  private final PretrainSession session;
  private final LabelMap labels;
  private final int maxLength;

  private EntityTagger(PretrainSession session, LabelMap labels, int maxLength) {
    this.session = session;
    this.labels = labels;
    this.maxLength = maxLength;
  }

  public static EntityTagger load(Path backbone, Path adapter, int maxLength) {
    Path labelFile = adapter.resolve("labels.json");
    if (!Files.isRegularFile(labelFile))
      throw new MtpfException(adapter + ": no labels.json (an adapter written by `mtpf adapt-ner --out`)");
    LabelMap labels = LabelMap.load(labelFile);
    PeftConfig peft = PeftConfig.read(adapter);
    // The LoRA on the modules the adapter does not list must have its rank and alpha.
    TrainerConfig config = TrainerConfig.nerAdapt(labels.size(), peft.r(), peft.loraAlpha());
    config.adapt.init = adapter.toString();
    config.adapt.loadHead = true;
    return new EntityTagger(PretrainSession.open(backbone, config), labels, maxLength);
  }

  /** Entities of each text: the argmax tag at each word's first sub-token, decoded as seqeval does. */
  public List<List<Entity>> tag(List<String> texts) {
    if (texts.isEmpty()) throw new MtpfException("tag: the text list is empty");
    List<List<Entity>> out = new ArrayList<>();
    for (String text : texts) {
      Encoding e = session.tokenizer().encode(text, maxLength);
      Batch b = Batch.pad(List.of(e), session.tokenizer().padId());
      float[] logits = session.nerLogits(b, labels.size());
      int k = labels.size();
      int[] wordIds = e.wordIds(), starts = e.charStart(), ends = e.charEnd();
      // Per word: its tag (from its first token) and its character span (over all its tokens).
      List<String> tags = new ArrayList<>();
      List<int[]> spans = new ArrayList<>();
      for (int t = 0; t < wordIds.length; t++) {
        int w = wordIds[t];
        if (w < 0) continue;
        while (tags.size() < w) {  // a word that produced no token (e.g. only control characters)
          tags.add("O");
          spans.add(new int[] {starts[t], starts[t]});
        }
        if (w == tags.size()) {
          int best = 0;
          for (int c = 1; c < k; c++) if (logits[t * k + c] > logits[t * k + best]) best = c;
          tags.add(labels.name(best));
          spans.add(new int[] {starts[t], ends[t]});
        } else if (w == tags.size() - 1) {
          spans.get(w)[1] = ends[t];
        }
      }
      List<Entity> entities = new ArrayList<>();
      for (BioTags.Entity ent : BioTags.entities(tags)) {
        int start = spans.get(ent.first())[0], end = spans.get(ent.last())[1];
        entities.add(new Entity(ent.type(), text.substring(start, end), start, end));
      }
      out.add(entities);
    }
    return out;
  }

  @Override
  public void close() {
    session.close();
  }
}
