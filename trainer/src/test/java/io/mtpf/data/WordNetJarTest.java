package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mtpf.MtpfException;
import io.mtpf.models.MavenArtifacts;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** WordNet 3.1 from extjwnl's data jar: Princeton data.* lines to synsets, and the jar itself. */
class WordNetJarTest {
  @TempDir Path dir;

  /** data line, lemmas, definition, examples. */
  static Stream<Arguments> lines() {
    return Stream.of(
        Arguments.of("00002137 03 n 02 abstraction 0 abstract_entity 0 010 @ 00001740 n 0000 + 00694095 v 0101 ~ "
                + "00023280 n 0000 | a general concept formed by extracting common features from specific examples  ",
            List.of("abstraction", "abstract entity"),
            "a general concept formed by extracting common features from specific examples", List.of()),
        Arguments.of("06216934 09 n 02 reputation 0 report 0 002 @ 06216764 n 0000 + 00691692 v 0102 | the general "
                + "estimation that the public has for a person; \"he acquired a reputation as an actor before he started "
                + "writing\"; \"he was a person of bad report\"  ",
            List.of("reputation", "report"), "the general estimation that the public has for a person",
            List.of("he acquired a reputation as an actor before he started writing", "he was a person of bad report")),
        // Adjective markers dropped; text after the last quote (an attribution) ignored.
        Arguments.of("00022474 00 s 02 dead-on(a) 0 remote(ip) 0 002 & 00021803 a 0000 ;u 07089193 n 0000 | accurate "
                + "and to the point; \"a dead-on feel for characterization\"- Peter S.Prescott  ",
            List.of("dead-on", "remote"), "accurate and to the point", List.of("a dead-on feel for characterization")),
        // The word count is hexadecimal: 0b = 11 words.
        Arguments.of("09999999 18 n 0b w1 0 w2 0 w3 0 w4 0 w5 0 w6 0 w7 0 w8 0 w9 0 w10 0 w11 0 000 | many names",
            List.of("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10", "w11"), "many names", List.of()));
  }

  @ParameterizedTest
  @MethodSource("lines")
  void parsesDataLines(String line, List<String> lemmas, String definition, List<String> examples) {
    WordNetSynset s = WordNetJar.parse(line);
    assertEquals(lemmas, s.lemmas());
    assertEquals(definition, s.definition());
    assertEquals(examples, s.examples());
  }

  @ParameterizedTest
  @MethodSource("malformedLines")
  void malformedLinesAreNull(String line) {
    assertNull(WordNetJar.parse(line));
  }

  static Stream<String> malformedLines() {
    return Stream.of("00001740 03 n 01 entity 0 003 no gloss bar", "00001740 03 | short", "00001740 03 n zz entity 0 | x",
        "00001740 03 n 03 entity 0 | only one of three words");
  }

  @Test
  void readsAJarOfDataFilesSkippingTheLicenseHeader() throws IOException {
    Path jar = dir.resolve("wn.jar");
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(jar))) {
      for (String pos : List.of("noun", "verb", "adj", "adv")) {
        zip.putNextEntry(new ZipEntry("net/sf/extjwnl/data/wordnet/wn31/data." + pos));
        String body = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
            + "  2 Princeton University under the following license.  \n"
            + "0000000" + pos.length() + " 03 n 02 " + pos + " 0 other_" + pos + " 0 000 | the " + pos + "; \"an example\"  \n";
        zip.write(body.getBytes(StandardCharsets.UTF_8));
        zip.closeEntry();
      }
    }
    List<WordNetSynset> synsets = WordNetJar.read(jar);
    assertEquals(List.of("noun", "verb", "adj", "adv"), synsets.stream().map(s -> s.lemmas().get(0)).toList());
    assertEquals(List.of("noun", "other noun"), synsets.get(0).lemmas());
    assertEquals(List.of("an example", "an example", "an example", "an example"), WordNetSynset.exampleSentences(synsets));

    Path broken = dir.resolve("broken.jar");
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(broken))) {
      zip.putNextEntry(new ZipEntry("net/sf/extjwnl/data/wordnet/wn31/data.noun"));
      zip.write("  1 license\n00000001 03 n 01 x 0 000 | fine\nnot a synset line\n".getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
    }
    MtpfException e = assertThrows(MtpfException.class, () -> WordNetJar.read(broken));
    assertTrue(e.getMessage().contains("data.noun:3: malformed synset line"), e.getMessage());
  }

  @Test
  void realWordNet31JarFromTheLocalMavenRepository() {
    MavenArtifacts maven = new MavenArtifacts(MavenArtifacts.defaultLocalRepo(), URI.create(MavenArtifacts.CENTRAL), true);
    Path jar = maven.localPath(WordNetJar.ARTIFACT);
    if (!Files.isRegularFile(jar)) System.out.println("SKIPPED: " + jar + " is not in the local Maven repository");
    assumeTrue(Files.isRegularFile(jar), "SKIPPED: " + jar + " is absent");
    List<WordNetSynset> synsets = WordNetJar.load(maven);
    // WordNet 3.1: 117,791 synsets (82,192 noun, 13,789 verb, 18,185 adj, 3,625 adv).
    assertTrue(synsets.size() > 115_000 && synsets.size() < 120_000, "synsets: " + synsets.size());
    for (WordNetSynset s : synsets) {
      assertTrue(!s.lemmas().isEmpty() && !s.definition().isEmpty(), s.toString());
      assertTrue(s.lemmas().stream().noneMatch(l -> l.contains("_") || l.endsWith(")")), s.toString());
      assertTrue(s.examples().stream().noneMatch(x -> x.contains("\"") || x.isBlank()), s.toString());
    }
    WordNetSynset report = synsets.stream().filter(s -> s.examples().contains("he was a person of bad report"))
        .findFirst().orElseThrow();
    assertEquals(List.of("reputation", "report"), report.lemmas());
    List<PairDataset> sets = WordNetSynset.pairDatasets("wordnet31", synsets);
    assertEquals(List.of("wordnet31-definition-example", "wordnet31-lemmas-definition", "wordnet31-example-example"),
        sets.stream().map(PairDataset::name).toList());
    assertTrue(sets.get(0).size() > 30_000, "definition/example pairs: " + sets.get(0).size());
    assertTrue(sets.get(1).size() > 40_000, "lemmas/definition pairs: " + sets.get(1).size());
    assertTrue(sets.get(2).size() > 5_000, "example/example pairs: " + sets.get(2).size());
    assertTrue(WordNetSynset.exampleSentences(synsets).size() > 40_000);
  }
}
