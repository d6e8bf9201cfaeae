package io.mtpf.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.eval.EntityF1.Report;
import io.mtpf.eval.EntityF1.Scores;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * EntityF1 against seqeval (default mode): the vectors of seqeval's README and docstrings, edge cases, and seeded
 * random tag sequences whose expected numbers came from seqeval 1.2.2's own metric code run with numpy (bit-exact),
 * their entity counts also checked with conlleval.pl (2004-01-26) where the tags are BIO or EIO.
 */
class EntityF1Test {
  static List<String> tags(String spaceSeparated) {
    return List.of(spaceSeparated.split(" "));
  }

  static List<List<String>> sentences(String... spaceSeparated) {
    return Stream.of(spaceSeparated).map(EntityF1Test::tags).toList();
  }

  /** name, gold, predicted, micro {p, r, f1}, macro {p, r, f1}, weighted {p, r, f1}, per type {type: {p, r, f1, support}}. */
  static Stream<Arguments> documentedVectors() {
    double third = 2.0 / 3.0;
    return Stream.of(
        // seqeval README, "default mode": an I- after O starts an entity, so I-NP I-NP matches B-NP I-NP.
        Arguments.of("readme default mode", sentences("B-NP I-NP O"), sentences("I-NP I-NP O"),
            new double[] {1, 1, 1}, new double[] {1, 1, 1}, new double[] {1, 1, 1},
            Map.of("NP", new double[] {1, 1, 1, 1})),
        // seqeval README / f1_score docstring / classification_report docstring.
        Arguments.of("readme report",
            sentences("O O O B-MISC I-MISC I-MISC O", "B-PER I-PER O"),
            sentences("O O B-MISC I-MISC I-MISC I-MISC O", "B-PER I-PER O"),
            new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5},
            Map.of("MISC", new double[] {0, 0, 0, 1}, "PER", new double[] {1, 1, 1, 1})),
        // precision_score / recall_score / f1_score docstrings (seqeval 1.2.2).
        Arguments.of("docstring averages",
            sentences("O O B-MISC I-MISC B-MISC O O", "B-PER I-PER O"),
            sentences("O O B-MISC I-MISC B-MISC I-MISC O", "B-PER I-PER O"),
            new double[] {third, third, third}, new double[] {0.75, 0.75, 0.75}, new double[] {third, third, third},
            Map.of("MISC", new double[] {0.5, 0.5, 0.5, 2}, "PER", new double[] {1, 1, 1, 1})),
        // A type change ends an entity even without B-; a predicted-only type gets a row with support 0.
        Arguments.of("type change and predicted-only type",
            sentences("B-PER I-PER I-LOC O"),
            sentences("B-PER I-PER B-ORG O"),
            new double[] {0.5, 0.5, 0.5}, new double[] {1.0 / 3, 1.0 / 3, 1.0 / 3}, new double[] {0.5, 0.5, 0.5},
            Map.of("LOC", new double[] {0, 0, 0, 1}, "ORG", new double[] {0, 0, 0, 0}, "PER", new double[] {1, 1, 1, 1})),
        // IOBES: S- is a one-word entity, E- ends one; the same spans written in IOB2 match.
        Arguments.of("iobes vs iob2",
            sentences("S-PER O B-LOC E-LOC B-LOC I-LOC E-LOC"),
            sentences("B-PER O B-LOC I-LOC B-LOC I-LOC I-LOC"),
            new double[] {1, 1, 1}, new double[] {1, 1, 1}, new double[] {1, 1, 1},
            Map.of("LOC", new double[] {1, 1, 1, 2}, "PER", new double[] {1, 1, 1, 1})),
        // Boundaries must match exactly: a longer prediction is wrong, and a missed entity lowers recall only.
        Arguments.of("boundaries",
            sentences("B-PER O B-ORG I-ORG O", "B-LOC"),
            sentences("B-PER I-PER B-ORG I-ORG O", "O"),
            new double[] {0.5, 1.0 / 3, 0.4}, new double[] {1.0 / 3, 1.0 / 3, 1.0 / 3}, new double[] {1.0 / 3, 1.0 / 3, 1.0 / 3},
            Map.of("LOC", new double[] {0, 0, 0, 1}, "ORG", new double[] {1, 1, 1, 1}, "PER", new double[] {0, 0, 0, 1})),
        // Gold has no entities: every ratio with a zero denominator is 0.0; weighted is 0.0.
        Arguments.of("no gold entities", sentences("O O", "O"), sentences("B-PER O", "O"),
            new double[] {0, 0, 0}, new double[] {0, 0, 0}, new double[] {0, 0, 0},
            Map.of("PER", new double[] {0, 0, 0, 0})));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("documentedVectors")
  void matchesSeqevalVectors(String name, List<List<String>> gold, List<List<String>> predicted, double[] micro,
      double[] macro, double[] weighted, Map<String, double[]> byType) {
    Report report = EntityF1.evaluate(gold, predicted);
    assertScores(micro, report.micro(), name + " micro");
    assertScores(macro, report.macro(), name + " macro");
    assertScores(weighted, report.weighted(), name + " weighted");
    assertEquals(byType.keySet(), report.byType().keySet(), name);
    byType.forEach((type, expected) -> {
      Scores s = report.byType().get(type);
      assertScores(expected, s, name + " " + type);
      assertEquals((int) expected[3], s.support(), name + " " + type + " support");
    });
    assertEquals(micro[2], EntityF1.f1(gold, predicted), 1e-15);
  }

  static void assertScores(double[] expected, Scores actual, String what) {
    assertEquals(expected[0], actual.precision(), 1e-15, what + " precision");
    assertEquals(expected[1], actual.recall(), 1e-15, what + " recall");
    assertEquals(expected[2], actual.f1(), 1e-15, what + " f1");
  }

  @Test
  void noEntitiesAnywhereGivesZeroMicroAndNanMacro() {
    Report report = EntityF1.evaluate(sentences("O O", "O"), sentences("O O", "O"));
    assertEquals(0.0, report.f1());
    assertTrue(Double.isNaN(report.macro().f1()), "numpy's mean of no types is NaN");
    assertEquals(0.0, report.weighted().f1());
    assertTrue(report.byType().isEmpty());
  }

  @Test
  void shapesMustAgree() {
    assertThrows(IllegalArgumentException.class, () -> EntityF1.evaluate(sentences("O O"), sentences("O")));
    assertThrows(IllegalArgumentException.class, () -> EntityF1.evaluate(sentences("O", "O"), sentences("O")));
  }

  @Test
  void tableHasSeqevalsRows() {
    String table = EntityF1.evaluate(sentences("O O O B-MISC I-MISC I-MISC O", "B-PER I-PER O"),
        sentences("O O B-MISC I-MISC I-MISC I-MISC O", "B-PER I-PER O")).table(2);
    List<String> lines = table.lines().map(String::strip).toList();
    assertEquals(List.of("precision    recall  f1-score   support", "", "MISC       0.00      0.00      0.00         1",
        "PER       1.00      1.00      1.00         1", "", "micro avg       0.50      0.50      0.50         2",
        "macro avg       0.50      0.50      0.50         2", "weighted avg       0.50      0.50      0.50         2"), lines);
  }

  /** numpy's pairwise summation: a plain loop below 8 values, 8 accumulators up to 128, halves above. */
  @Test
  void pairwiseSumMatchesNumpyOrder() {
    double[] tiny = {1e16, 1, 1, 1, 1, 1, 1, 1, 1};  // 9 values: accumulators, not a left-to-right loop
    double leftToRight = 0;
    for (double v : tiny) leftToRight += v;
    assertEquals(1e16, leftToRight);  // each +1 is lost
    assertEquals(1e16 + 8, EntityF1.pairwiseSum(tiny, 0, tiny.length));  // the 1s meet in their accumulators first
  }

  /**
   * Random gold tags in the way of seqeval's statistical test (a random prefix and type per word, a sentence break
   * after a word with probability 0.05); a prediction copies the gold tag with probability 0.7, else is random too.
   */
  static List<List<List<String>>> randomCase(long seed, String prefixes, int typeCount, int words) {
    Random rnd = new Random(seed);
    String[] types = new String[typeCount];
    for (int t = 0; t < typeCount; t++) types[t] = t < 4 ? new String[] {"PER", "MISC", "ORG", "LOC"}[t] : "T" + t;
    List<List<String>> gold = new ArrayList<>(), predicted = new ArrayList<>();
    List<String> g = new ArrayList<>(), p = new ArrayList<>();
    for (int i = 0; i < words; i++) {
      String goldTag = randomTag(rnd, prefixes, types);
      String otherTag = randomTag(rnd, prefixes, types);
      g.add(goldTag);
      p.add(rnd.nextDouble() < 0.7 ? goldTag : otherTag);
      if (rnd.nextDouble() > 0.95) {
        gold.add(g);
        predicted.add(p);
        g = new ArrayList<>();
        p = new ArrayList<>();
      }
    }
    if (!g.isEmpty()) {
      gold.add(g);
      predicted.add(p);
    }
    return List.of(gold, predicted);
  }

  static String randomTag(Random rnd, String prefixes, String[] types) {
    char prefix = prefixes.charAt(rnd.nextInt(prefixes.length()));
    String type = types[rnd.nextInt(types.length)];
    return prefix == 'O' ? "O" : prefix + "-" + type;
  }

  // Expected {micro, macro, weighted} {precision, recall, f1} and {gold, predicted, correct} entities: seqeval
  // 1.2.2's get_entities and precision_recall_fscore_support (numpy 2.4) on randomCase(seed, ...). conlleval.pl
  // gives the same entity counts for seeds 1, 2 and 4 (it does not know S-, so not for 3 and 5). Seed 4 has 12 types
  // (numpy's 8-accumulator sum), seed 5 has 150 (its recursive halving).
  static final double[][] ORACLE_1 = {{0.7063621533442088, 0.6972624798711755, 0.7017828200972448},
      {0.7056253002161156, 0.6972682821212539, 0.7009985049961167},
      {0.7076373844561502, 0.6972624798711755, 0.7019657603748326}, {621, 613, 433}};
  static final double[][] ORACLE_2 = {{0.6969205834683955, 0.6869009584664537, 0.6918744971842318},
      {0.6998530504278517, 0.6878699584497285, 0.6920265384677704},
      {0.700845250757433, 0.6869009584664537, 0.6920100140112133}, {626, 617, 430}};
  static final double[][] ORACLE_3 = {{0.7363636363636363, 0.7641509433962265, 0.7500000000000001},
      {0.7355841257690614, 0.7642919453329456, 0.7490655775213684},
      {0.7382893598743363, 0.7641509433962265, 0.750401989105906}, {742, 770, 567}};
  static final double[][] ORACLE_4 = {{0.6853646098929118, 0.683969465648855, 0.684666327050433},
      {0.6861424553170786, 0.6832209206296045, 0.6842357238039138},
      {0.6861709122008143, 0.683969465648855, 0.6846287523014256}, {1965, 1961, 1344}};
  static final double[][] ORACLE_5 = {{0.6946111527881971, 0.6932676109065952, 0.693938731536708},
      {0.6944417385120012, 0.6927918618748907, 0.6927428613941405},
      {0.696471143809126, 0.6932676109065952, 0.6939995162529852}, {16027, 15996, 11111}};

  /**
   * seed, prefixes, types, words, expected (above).
   */
  static Stream<Arguments> randomCases() {
    return Stream.of(
        Arguments.of(1L, "BIO", 4, 1000, ORACLE_1),
        Arguments.of(2L, "EIO", 4, 1000, ORACLE_2),
        Arguments.of(3L, "BIOES", 4, 1000, ORACLE_3),
        Arguments.of(4L, "BIO", 12, 3000, ORACLE_4),
        Arguments.of(5L, "BIESO", 150, 20000, ORACLE_5));
  }

  @ParameterizedTest(name = "seed {0} {1} {2} types")
  @MethodSource("randomCases")
  void randomTagsMatchSeqevalBitForBit(long seed, String prefixes, int typeCount, int words, double[][] expected) {
    List<List<List<String>>> c = randomCase(seed, prefixes, typeCount, words);
    Report report = EntityF1.evaluate(c.get(0), c.get(1));
    Scores[] rows = {report.micro(), report.macro(), report.weighted()};
    for (int i = 0; i < 3; i++) {
      assertEquals(expected[i][0], rows[i].precision(), 0.0, "row " + i + " precision");
      assertEquals(expected[i][1], rows[i].recall(), 0.0, "row " + i + " recall");
      assertEquals(expected[i][2], rows[i].f1(), 0.0, "row " + i + " f1");
    }
    assertEquals((int) expected[3][0], report.micro().support(), "gold entities");
    assertEquals((int) expected[3][1], report.micro().predicted(), "predicted entities");
    assertEquals((int) expected[3][2], report.micro().correct(), "correct entities");
  }

}
