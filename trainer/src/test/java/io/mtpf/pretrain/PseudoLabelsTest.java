package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.MtpfException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The pseudo-label folder format, and labelling a corpus with a tiny random teacher (k-means, cache). */
class PseudoLabelsTest {
  @TempDir static Path shared;
  @TempDir Path dir;
  static Path teacher;

  static final List<List<String>> CORPUS = List.of(
      List.of("The", "red", "cat", "sat", "on", "the", "mat", "."),
      List.of("A", "dog", "ran", "in", "the", "park", "!"),
      // A zero-width space normalises to nothing: no token, no label.
      List.of("Paris", "\u200b", "is", "big"),
      List.of("playing", "unaffable", "birds", "flew", "over", "green", "trees"));

  @BeforeAll
  static void tinyTeacher() throws IOException {
    teacher = PretrainerTest.tinyBert(shared, "teacher", 24, 5);
  }

  static ObjectNode meta(int clusters) {
    ObjectNode m = new ObjectMapper().createObjectNode();
    m.put("format", PseudoLabels.FORMAT);
    m.put("cache_key", "abc123");
    m.put("clusters", clusters);
    return m;
  }

  @Test
  void writeThenReadRoundTrips() throws IOException {
    List<PseudoLabels.Sentence> sentences = List.of(
        new PseudoLabels.Sentence(List.of("Ünïcode", "\"quoted\"", "tab\there"), new int[] {0, 2, -100}),
        new PseudoLabels.Sentence(List.of("one"), new int[] {1}),
        new PseudoLabels.Sentence(List.of(), new int[0]));
    Path out = dir.resolve("labels");
    new PseudoLabels(sentences, 3, meta(3)).write(out);
    assertFalse(Files.exists(dir.resolve("labels.tmp")), "the temporary folder is renamed into place");
    PseudoLabels back = PseudoLabels.read(out);
    assertEquals(3, back.clusters());
    assertEquals("abc123", back.cacheKey());
    assertEquals(sentences.size(), back.sentences().size());
    for (int i = 0; i < sentences.size(); i++) {
      assertEquals(sentences.get(i).words(), back.sentences().get(i).words());
      assertArrayEquals(sentences.get(i).labels(), back.sentences().get(i).labels());
    }
    // Writing again replaces the folder as a whole.
    new PseudoLabels(List.of(sentences.get(1)), 3, meta(3)).write(out);
    assertEquals(1, PseudoLabels.read(out).sentences().size());
  }

  /** labels.jsonl.gz content, the error: FILE:LINE: reason. */
  static Stream<Arguments> badLabelFiles() {
    return Stream.of(
        Arguments.of("{\"words\":[\"a\"],\"labels\":[0]}\n{\"words\":[\"a\",\"b\"],\"labels\":[1,3]}\n",
            ":2: label 3 outside [0, 3)"),
        Arguments.of("{\"words\":[\"a\"],\"labels\":[-1]}\n", ":1: label -1 outside [0, 3)"),
        Arguments.of("{\"words\":[\"a\"],\"labels\":[0]}\n{\"words\":[\"a\"],\"labels\":[0]}\n{\"words\":[\"a\",\"b\"],\"labels\":[0]}\n",
            ":3: needs arrays 'words' and 'labels' of equal length"),
        Arguments.of("{\"words\":[\"a\"]}\n", ":1: needs arrays 'words' and 'labels' of equal length"),
        Arguments.of("{\"words\":[\"a\"],\"labels\":[0]}\n{\"words\":[\"a\"\n", ":2: malformed JSON"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("badLabelFiles")
  void badLabelLineNamesFileAndLine(String content, String message) throws IOException {
    Path out = dir.resolve("labels");
    new PseudoLabels(List.of(), 3, meta(3)).write(out);
    Path file = out.resolve("labels.jsonl.gz");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (OutputStream gz = new GZIPOutputStream(bytes)) {
      gz.write(content.getBytes(StandardCharsets.UTF_8));
    }
    Files.write(file, bytes.toByteArray());
    MtpfException e = assertThrows(MtpfException.class, () -> PseudoLabels.read(out));
    assertTrue(e.getMessage().contains(file + message), e.getMessage());
  }

  @Test
  void badMetaIsAnError() throws IOException {
    MtpfException e = assertThrows(MtpfException.class, () -> PseudoLabels.read(dir));
    assertTrue(e.getMessage().contains("not a pseudo-label folder (no meta.json)"), e.getMessage());
    Path out = dir.resolve("labels");
    ObjectNode m = meta(3);
    m.put("format", "mtpf-pseudo-labels-0");
    new PseudoLabels(List.of(), 3, m).write(out);
    e = assertThrows(MtpfException.class, () -> PseudoLabels.read(out));
    assertTrue(e.getMessage().contains("format 'mtpf-pseudo-labels-0' is not " + PseudoLabels.FORMAT), e.getMessage());
    new PseudoLabels(List.of(), 1, meta(1)).write(out);
    e = assertThrows(MtpfException.class, () -> PseudoLabels.read(out));
    assertTrue(e.getMessage().contains("no valid 'clusters'"), e.getMessage());
  }

  static PseudoLabeler.Settings settings(List<Integer> layers, int k) {
    return new PseudoLabeler.Settings(teacher, layers, k, 42, 16, "cpu", 1024, 100);
  }

  @Test
  void labelsEveryWordWithAClusterAndCachesTheResult() throws IOException {
    Path out = dir.resolve("pl");
    List<String> log = new ArrayList<>();
    PseudoLabels first = PseudoLabeler.labelCached(settings(List.of(-1), 3), CORPUS, out, log::add);
    assertEquals(CORPUS.size(), first.sentences().size());
    int words = 0;
    boolean[] used = new boolean[3];
    for (int i = 0; i < CORPUS.size(); i++) {
      PseudoLabels.Sentence s = first.sentences().get(i);
      assertEquals(CORPUS.get(i), s.words());
      assertEquals(s.words().size(), s.labels().length);
      for (int w = 0; w < s.labels().length; w++) {
        int label = s.labels()[w];
        if (s.words().get(w).equals("\u200b")) {
          assertEquals(-100, label, "a word without tokens has no label");
        } else {
          assertTrue(label >= 0 && label < 3, "label " + label);
          used[label] = true;
          words++;
        }
      }
    }
    assertEquals(words, first.meta().path("words").asInt());
    assertEquals(24, first.meta().path("dim").asInt());
    assertEquals(3, first.clusters());
    assertTrue(used[0] && used[1] && used[2], "k-means uses all 3 clusters on " + words + " words");
    assertEquals(3, first.meta().path("clusters_used").asInt());
    assertTrue(log.stream().anyMatch(l -> l.startsWith("pseudo-labels: k-means k=3")), log.toString());
    assertEquals(first.cacheKey(), PseudoLabels.read(out).cacheKey());

    // Same inputs: the folder is reused as it is.
    byte[] metaBytes = Files.readAllBytes(out.resolve("meta.json"));
    log.clear();
    PseudoLabels again = PseudoLabeler.labelCached(settings(List.of(-1), 3), CORPUS, out, log::add);
    assertEquals(List.of("pseudo-labels: reusing " + out + " (cache key " + first.cacheKey() + ")"), log);
    assertArrayEquals(metaBytes, Files.readAllBytes(out.resolve("meta.json")));
    for (int i = 0; i < CORPUS.size(); i++)
      assertArrayEquals(first.sentences().get(i).labels(), again.sentences().get(i).labels());

    // Another corpus: labelled again, under a new key.
    List<List<String>> more = new ArrayList<>(CORPUS);
    more.add(List.of("the", "cat", "ran"));
    log.clear();
    PseudoLabels relabelled = PseudoLabeler.labelCached(settings(List.of(-1), 3), more, out, log::add);
    assertTrue(log.get(0).contains("was made from other inputs; labelling again"), log.toString());
    assertNotEquals(first.cacheKey(), relabelled.cacheKey());
    assertEquals(more.size(), PseudoLabels.read(out).sentences().size());
    assertEquals(relabelled.cacheKey(), PseudoLabels.read(out).cacheKey());
  }

  @Test
  void labellingIsDeterministicAndLayersConcatenate() {
    PseudoLabels a = PseudoLabeler.label(settings(List.of(-1, -2), 3), CORPUS, "k", s -> {});
    PseudoLabels b = PseudoLabeler.label(settings(List.of(-1, -2), 3), CORPUS, "k", s -> {});
    assertEquals(48, a.meta().path("dim").asInt(), "two layers of 24 concatenated");
    for (int i = 0; i < CORPUS.size(); i++) assertArrayEquals(a.sentences().get(i).labels(), b.sentences().get(i).labels());
    MtpfException e = assertThrows(MtpfException.class,
        () -> PseudoLabeler.label(settings(List.of(-1), 40), CORPUS, "k", s -> {}));
    assertTrue(e.getMessage().contains("words cannot make 40 clusters"), e.getMessage());
    e = assertThrows(MtpfException.class, () -> PseudoLabeler.label(settings(List.of(-1), 3), List.of(), "k", s -> {}));
    assertTrue(e.getMessage().contains("the corpus is empty"), e.getMessage());
  }

  @Test
  void cacheKeyChangesWithEveryInputThatChangesTheLabels() throws IOException {
    String key = PseudoLabeler.cacheKey(settings(List.of(-1), 3), CORPUS);
    assertEquals(16, key.length());
    assertEquals(key, PseudoLabeler.cacheKey(settings(List.of(-1), 3), List.copyOf(CORPUS)));
    List<String> others = new ArrayList<>(List.of(
        PseudoLabeler.cacheKey(settings(List.of(-1, -7), 3), CORPUS),
        PseudoLabeler.cacheKey(settings(List.of(-1), 4), CORPUS),
        PseudoLabeler.cacheKey(new PseudoLabeler.Settings(teacher, List.of(-1), 3, 43, 16, "cpu", 1024, 100), CORPUS),
        PseudoLabeler.cacheKey(new PseudoLabeler.Settings(teacher, List.of(-1), 3, 42, 32, "cpu", 1024, 100), CORPUS),
        PseudoLabeler.cacheKey(new PseudoLabeler.Settings(teacher, List.of(-1), 3, 42, 16, "cpu", 512, 100), CORPUS),
        PseudoLabeler.cacheKey(settings(List.of(-1), 3), CORPUS.subList(0, 3)),
        // Word boundaries count: "ab" is not "a" "b"; sentence boundaries too.
        PseudoLabeler.cacheKey(settings(List.of(-1), 3), List.of(List.of("ab"))),
        PseudoLabeler.cacheKey(settings(List.of(-1), 3), List.of(List.of("a", "b"))),
        PseudoLabeler.cacheKey(settings(List.of(-1), 3), List.of(List.of("a"), List.of("b")))));
    Path otherTeacher = PretrainerTest.tinyBert(dir, "other", 24, 6);
    others.add(PseudoLabeler.cacheKey(new PseudoLabeler.Settings(otherTeacher, List.of(-1), 3, 42, 16, "cpu", 1024, 100),
        CORPUS));
    others.add(key);
    assertEquals(others.size(), others.stream().distinct().count(), others.toString());
  }
}
