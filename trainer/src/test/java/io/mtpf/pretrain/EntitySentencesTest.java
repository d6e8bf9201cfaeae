package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mtpf.MtpfException;
import io.mtpf.data.BadLines;
import io.mtpf.pretrain.EntitySentences.Sentence;
import io.mtpf.pretrain.EntitySentences.Span;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading labelled CoNLL files into sentences with entity spans, in IOB2 and IOB1, and the entity pool. */
class EntitySentencesTest {
  @TempDir Path dir;

  private Path file(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, text);
    return p;
  }

  @Test
  void readsIob2SpansAndSkipsDocstart() throws IOException {
    Path p = file("iob2.txt", """
        -DOCSTART-\tO

        Nadim\tB-person
        Ladki\tI-person
        visits\tO
        New\tB-location
        York\tI-location
        Paris\tB-location

        Nothing\tO
        here\tO
        """);
    List<Sentence> sentences = EntitySentences.read(p, BadLines.fail());
    assertEquals(2, sentences.size());
    Sentence s = sentences.get(0);
    assertEquals(List.of("Nadim", "Ladki", "visits", "New", "York", "Paris"), s.words());
    assertEquals(List.of(new Span(0, 2, "person"), new Span(3, 5, "location"), new Span(5, 6, "location")), s.entities());
    assertEquals(List.of("New", "York"), s.surface(s.entities().get(1)));
    assertEquals(List.of(), sentences.get(1).entities());
  }

  @Test
  void readsIob1WhereInsideStartsAnEntity() throws IOException {
    // CoNLL-2003's original columns (token POS chunk NER), space-separated: the label is the last column.
    Path p = file("iob1.txt", """
        -DOCSTART- -X- -X- O

        EU NNP B-NP I-ORG
        rejects VBZ B-VP O
        German JJ B-NP I-MISC
        call NN I-NP O
        Peter NNP B-NP I-PER
        Paul NNP I-NP B-PER
        Blackburn NNP I-NP I-PER
        """);
    Sentence s = EntitySentences.read(p, BadLines.fail()).get(0);
    assertEquals(List.of(new Span(0, 1, "ORG"), new Span(2, 3, "MISC"), new Span(4, 5, "PER"), new Span(5, 7, "PER")),
        s.entities());
  }

  @Test
  void insideOfAnotherTypeStartsANewEntity() throws IOException {
    Path p = file("mixed.txt", "A\tB-person\nB\tI-location\nC\tI-location\nD\tO\n");
    assertEquals(List.of(new Span(0, 1, "person"), new Span(1, 3, "location")),
        EntitySentences.read(p, BadLines.fail()).get(0).entities());
  }

  @Test
  void malformedLinesNameFileAndLine() throws IOException {
    Path noLabel = file("nolabel.txt", "Paris\tB-location\nalone\n");
    MtpfException e = assertThrows(MtpfException.class, () -> EntitySentences.read(noLabel, BadLines.fail()));
    assertTrue(e.getMessage().contains(noLabel + ":2:"), e.getMessage());
    assertTrue(e.getMessage().contains("no label column"), e.getMessage());

    Path badPrefix = file("prefix.txt", "x\tO\n\nParis\tE-location\n");
    e = assertThrows(MtpfException.class, () -> EntitySentences.read(badPrefix, BadLines.fail()));
    assertTrue(e.getMessage().contains(badPrefix + ":3:"), e.getMessage());
    assertTrue(e.getMessage().contains("unknown prefix"), e.getMessage());

    Path noType = file("notype.txt", "Paris\tB-\n");
    e = assertThrows(MtpfException.class, () -> EntitySentences.read(noType, BadLines.fail()));
    assertTrue(e.getMessage().contains(noType + ":1:") && e.getMessage().contains("no entity type"), e.getMessage());
  }

  @Test
  void skippedBadLinesAreCountedAndDropped() throws IOException {
    Path p = file("skip.txt", "Paris\tB-location\nalone\nis\tO\nfine\tZ-thing\n");
    BadLines bad = BadLines.skip();
    List<Sentence> sentences = EntitySentences.read(p, bad);
    assertEquals(2, bad.count());
    assertTrue(bad.summary().contains(p + ":2:"), bad.summary());
    assertEquals(List.of("Paris", "is"), sentences.get(0).words());
  }

  @Test
  void poolHoldsDistinctSurfaceFormsByTypeInFirstSeenOrder() throws IOException {
    Path p = file("pool.txt", """
        Paris\tB-location
        and\tO
        Nadim\tB-person
        Ladki\tI-person

        Paris\tB-location
        Rome\tB-location
        """);
    Map<String, List<List<String>>> pool = EntitySentences.entityPool(EntitySentences.read(p, BadLines.fail()));
    assertEquals(List.of("location", "person"), List.copyOf(pool.keySet()));
    assertEquals(List.of(List.of("Paris"), List.of("Rome")), pool.get("location"));
    assertEquals(List.of(List.of("Nadim", "Ladki")), pool.get("person"));
  }

  @Test
  void realConll2003TestSplit() {
    Path test = dataFile(InterferenceProbes.CONLL_TEST);
    List<Sentence> sentences = EntitySentences.read(test, BadLines.fail());
    assertEquals(3453, sentences.size());  // the split size of the README and of HF conll2003
    assertEquals(5628, sentences.stream().mapToInt(s -> s.entities().size()).sum());  // its B- count (IOB2)
    Map<String, List<List<String>>> pool = EntitySentences.entityPool(sentences);
    assertEquals(Set.of("person", "organisation", "location", "misc"), pool.keySet());
    for (List<List<String>> forms : pool.values()) assertEquals(forms.size(), Set.copyOf(forms).size());
  }

  /** A file under the real data folder; skips visibly (stderr + assumption) when it is absent. */
  static Path dataFile(String relative) {
    Path data = Path.of(System.getProperty("mtpf.data.dir", "../shared/data")).toAbsolutePath().normalize();
    Path p = data.resolve(relative);
    if (!Files.isRegularFile(p)) {
      String msg = "SKIPPED: real data file " + p + " is absent (set -Dmtpf.data.dir=DIR)";
      System.err.println(msg);
      assumeTrue(false, msg);
    }
    return p;
  }
}
