package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Purity of pseudo-label clusters against gold entity types, counted by hand on two sentences. */
class ClusterPurityTest {
  @Test
  void majorityTypePerClusterOverEntityWordsAndAllWords(@TempDir Path tmp) throws IOException {
    Path gold = Files.writeString(tmp.resolve("train.txt"), String.join("\n",
        "John\tB-PER", "Smith\tI-PER", "visited\tO", "Paris\tB-LOC", "", "Mary\tB-PER", "likes\tO", "Rome\tB-LOC",
        "", "Unmatched\tO", ""));
    // Cluster 0: John, Smith, Mary (PER x3) + Rome (LOC); cluster 1: Paris (LOC), visited, likes (O x2).
    var labels = new PseudoLabels(List.of(
        new PseudoLabels.Sentence(List.of("John", "Smith", "visited", "Paris"), new int[] {0, 0, 1, 1}),
        new PseudoLabels.Sentence(List.of("Mary", "likes", "Rome"), new int[] {0, 1, 0}),
        new PseudoLabels.Sentence(List.of("not", "in", "gold"), new int[] {1, 1, 1})), 2,
        new ObjectMapper().createObjectNode());
    ClusterPurity p = ClusterPurity.of(labels, gold);
    assertEquals(2, p.matchedSentences());
    assertEquals(5, p.entityWords());
    // Entity words: cluster 0 {PER 3, LOC 1} -> 3, cluster 1 {LOC 1} -> 1: 4 / 5; chance PER 3 / 5.
    assertEquals(0.8, p.entityPurity(), 1e-12);
    assertEquals(0.6, p.entityChance(), 1e-12);
    // All words: cluster 0 {PER 3, LOC 1} -> 3, cluster 1 {O 2, LOC 1} -> 2: 5 / 7; chance PER or O... PER 3 / 7.
    assertEquals(5.0 / 7, p.allPurity(), 1e-12);
    assertEquals(3.0 / 7, p.allChance(), 1e-12);
  }
}
