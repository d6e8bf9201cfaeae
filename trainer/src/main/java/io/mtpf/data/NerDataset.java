package io.mtpf.data;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;

/**
 * A NER split in memory: sentences of words with IOB2 tags (whatever scheme the file used), the label map the tags
 * are ids in, and the scheme the file was written in.
 */
public record NerDataset(String name, List<Sentence> sentences, LabelMap labels, BioTags.Scheme sourceScheme) {
  public NerDataset {
    sentences = List.copyOf(sentences);
  }

  /** One sentence: words and their IOB2 tags, one each. */
  public record Sentence(List<String> words, List<String> tags) {
    public Sentence {
      words = List.copyOf(words);
      tags = List.copyOf(tags);
      if (words.size() != tags.size()) throw new IllegalArgumentException(words.size() + " words but " + tags.size() + " tags");
    }
  }

  /**
   * The label map of IOB2 tags for these entity types: O first (id 0), then B-type and I-type for each type in sorted
   * order, so it does not depend on which sentence comes first.
   */
  public static LabelMap tagMap(Collection<String> entityTypes) {
    List<String> names = new ArrayList<>();
    names.add("O");
    for (String type : new TreeSet<>(entityTypes)) {
      names.add("B-" + type);
      names.add("I-" + type);
    }
    return LabelMap.of(names);
  }

  public int size() {
    return sentences.size();
  }

  public long tokenCount() {
    long n = 0;
    for (Sentence s : sentences) n += s.words().size();
    return n;
  }

  /** The number of entities (B- tags, the tags being IOB2). */
  public long entityCount() {
    long n = 0;
    for (Sentence s : sentences) for (String t : s.tags()) if (t.startsWith("B-")) n++;
    return n;
  }

  /** The tag sequences, one per sentence (what {@link io.mtpf.eval.EntityF1} takes as gold). */
  public List<List<String>> tagSequences() {
    return sentences.stream().map(Sentence::tags).toList();
  }

  /** Tag ids of one sentence in this dataset's label map. */
  public int[] tagIds(int sentence) {
    List<String> tags = sentences.get(sentence).tags();
    int[] ids = new int[tags.size()];
    for (int i = 0; i < ids.length; i++) ids[i] = labels.id(tags.get(i));
    return ids;
  }
}
