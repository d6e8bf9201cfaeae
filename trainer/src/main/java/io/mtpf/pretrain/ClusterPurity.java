package io.mtpf.pretrain;

import io.mtpf.data.BadLines;
import io.mtpf.data.NerDataset;
import io.mtpf.data.NerReaders;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How well the teacher's k-means clusters (the pseudo-labels of PF-NER, paper Appendix B) line up with gold entity
 * types: for the words of the pseudo-labelled sentences that a gold NER file also has (matched by their words), each
 * cluster's majority gold type; purity = the share of words whose type is their cluster's majority. Over entity
 * words only (O excluded) and over all words, each beside its chance level (every word in the largest type).
 *
 * @param matchedSentences pseudo-labelled sentences found in the gold file
 * @param entityWords words of those sentences with a gold entity type
 * @param entityPurity purity over entity words
 * @param entityChance share of the most frequent entity type
 * @param allPurity purity over all labelled words, O counting as a type
 * @param allChance share of the most frequent type, O included
 * @param typeCounts entity words per gold type
 */
public record ClusterPurity(int matchedSentences, long entityWords, double entityPurity, double entityChance,
    double allPurity, double allChance, Map<String, Long> typeCounts) {

  public static ClusterPurity of(PseudoLabels labels, Path goldFile) {
    NerDataset gold = NerReaders.read(goldFile, BadLines.skip());
    Map<List<String>, List<String>> tagsByWords = new HashMap<>();
    for (NerDataset.Sentence s : gold.sentences()) tagsByWords.putIfAbsent(s.words(), s.tags());
    // cluster -> type -> words
    Map<Integer, Map<String, Long>> entity = new HashMap<>(), all = new HashMap<>();
    Map<String, Long> types = new TreeMap<>(), allTypes = new TreeMap<>();
    int matched = 0;
    for (PseudoLabels.Sentence s : labels.sentences()) {
      List<String> tags = tagsByWords.get(s.words());
      if (tags == null) continue;
      matched++;
      for (int w = 0; w < tags.size(); w++) {
        int cluster = s.labels()[w];
        if (cluster < 0) continue;  // a word without tokens
        String tag = tags.get(w), type = tag.equals("O") ? "O" : tag.substring(tag.indexOf('-') + 1);
        all.computeIfAbsent(cluster, k -> new HashMap<>()).merge(type, 1L, Long::sum);
        allTypes.merge(type, 1L, Long::sum);
        if (type.equals("O")) continue;
        entity.computeIfAbsent(cluster, k -> new HashMap<>()).merge(type, 1L, Long::sum);
        types.merge(type, 1L, Long::sum);
      }
    }
    long entityWords = types.values().stream().mapToLong(Long::longValue).sum();
    long allWords = allTypes.values().stream().mapToLong(Long::longValue).sum();
    return new ClusterPurity(matched, entityWords, purity(entity, entityWords), chance(types, entityWords),
        purity(all, allWords), chance(allTypes, allWords), types);
  }

  private static double purity(Map<Integer, Map<String, Long>> clusters, long total) {
    long majority = 0;
    for (Map<String, Long> c : clusters.values()) majority += c.values().stream().mapToLong(Long::longValue).max().orElse(0);
    return total == 0 ? Double.NaN : (double) majority / total;
  }

  private static double chance(Map<String, Long> types, long total) {
    return total == 0 ? Double.NaN : (double) types.values().stream().mapToLong(Long::longValue).max().orElse(0) / total;
  }
}
