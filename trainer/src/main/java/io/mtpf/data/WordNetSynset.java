package io.mtpf.data;

import java.util.ArrayList;
import java.util.List;

/**
 * A WordNet synset: lemmas, a definition (gloss), example sentences. Gives three kinds of positive pairs —
 * definition/example, lemmas/definition, example/example — and example sentences as unlabelled text.
 */
public record WordNetSynset(List<String> lemmas, String definition, List<String> examples) {

  static WordNetSynset of(String[] lemmas, String definition, String[] examples) {
    List<String> l = new ArrayList<>();
    for (String s : lemmas) if (!s.isBlank()) l.add(s.replace('_', ' ').strip());
    List<String> e = new ArrayList<>();
    for (String s : examples) if (!s.isBlank()) e.add(s.strip());
    return new WordNetSynset(List.copyOf(l), definition.strip(), List.copyOf(e));
  }

  /** The three pair datasets, named NAME-definition-example, NAME-lemmas-definition, NAME-example-example. */
  public static List<PairDataset> pairDatasets(String name, List<WordNetSynset> synsets) {
    List<TextPair> defEx = new ArrayList<>(), lemmaDef = new ArrayList<>(), exEx = new ArrayList<>();
    for (WordNetSynset s : synsets) {
      if (s.definition.isEmpty()) continue;
      if (!s.examples.isEmpty()) defEx.add(new TextPair(s.definition, s.examples.get(0)));
      if (s.lemmas.size() >= 2) lemmaDef.add(new TextPair(String.join(", ", s.lemmas), s.definition));
      if (s.examples.size() >= 2) exEx.add(new TextPair(s.examples.get(0), s.examples.get(1)));
    }
    List<PairDataset> out = new ArrayList<>();
    for (PairDataset d : List.of(new PairDataset(name + "-definition-example", defEx),
        new PairDataset(name + "-lemmas-definition", lemmaDef), new PairDataset(name + "-example-example", exEx)))
      if (d.size() > 0) out.add(d);
    return out;
  }

  /** Example sentences of all synsets: real, unlabelled text for NER distillation. */
  public static List<String> exampleSentences(List<WordNetSynset> synsets) {
    List<String> out = new ArrayList<>();
    for (WordNetSynset s : synsets) out.addAll(s.examples);
    return out;
  }
}
