package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Positive-pair files (TSV, JSONL, WordNet synsets; plain and gzip) and how bad input is reported. */
class PairReadersTest {
  @TempDir Path dir;

  static Path write(Path file, String content) throws IOException {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    if (file.getFileName().toString().endsWith(".gz")) bytes = gzip(bytes);
    Files.write(file, bytes);
    return file;
  }

  static byte[] gzip(byte[] bytes) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (OutputStream gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
    }
    return out.toByteArray();
  }

  static List<List<String>> pairsOf(PairDataset d) {
    return d.pairs().stream().map(p -> List.of(p.anchor(), p.positive())).toList();
  }

  /** file name, content, expected pairs (anchor, positive). */
  static Stream<Arguments> pairFiles() {
    List<List<String>> ab = List.of(List.of("a cat", "a small cat"), List.of("the dog", "a big dog"));
    return Stream.of(
        Arguments.of("header.tsv", "anchor\tpositive\na cat\ta small cat\nthe dog\ta big dog\n", ab),
        Arguments.of("header.tsv.gz", "anchor\tpositive\na cat\ta small cat\nthe dog\ta big dog\n", ab),
        Arguments.of("noheader.tsv", "a cat\ta small cat\nthe dog\ta big dog\n", ab),
        Arguments.of("noheader.tsv.gz", "a cat\ta small cat\n\nthe dog\ta big dog\n", ab),
        // Named columns anywhere in the row, in any order; other columns ignored.
        Arguments.of("cols.tsv", "id\ttext2\tscore\ttext1\n1\ta small cat\t0.9\ta cat\n2\ta big dog\t0.8\tthe dog\n", ab),
        Arguments.of("strip.tsv", "sentence1\tsentence2\n  a cat \ta small cat  \nthe dog\ta big dog\n", ab),
        Arguments.of("debian.tsv.gz", "package\tshort_description\tlong_description_first_paragraph\n"
            + "0ad\tReal-time strategy game\t0 A.D. is a free real-time strategy game.\n"
            + "vim\tVi IMproved\tVim is an almost compatible version of the UNIX editor Vi.\n",
            List.of(List.of("Real-time strategy game", "0 A.D. is a free real-time strategy game."),
                List.of("Vi IMproved", "Vim is an almost compatible version of the UNIX editor Vi."))),
        // label != 1 is a negative pair: dropped; no label = positive.
        Arguments.of("mrpc.jsonl", """
            {"label": 1, "id1": "7", "text1": "a cat", "text2": "a small cat"}
            {"label": 0, "text1": "a cat", "text2": "not a cat at all"}

            {"text1": "the dog", "text2": "a big dog"}
            {"label": 2, "text1": "x", "text2": "y"}
            """, ab),
        Arguments.of("mrpc.jsonl.gz", """
            {"label": 1, "text1": "a cat", "text2": "a small cat"}
            {"label": 0, "text1": "a cat", "text2": "not a cat at all"}
            {"label": 1, "text1": "the dog", "text2": "a big dog"}
            """, ab),
        Arguments.of("qp.jsonl", """
            {"query": "a cat", "positive": "a small cat"}
            {"anchor": "the dog", "positive": "a big dog", "negative": "a fish"}
            """, ab));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("pairFiles")
  void readsPairs(String name, String content, List<List<String>> expected) throws IOException {
    Path file = write(dir.resolve(name), content);
    BadLines bad = BadLines.fail();
    List<PairDataset> sets = PairReaders.read(file, "d", bad);
    assertEquals(1, sets.size());
    assertEquals("d", sets.get(0).name());
    assertEquals(expected, pairsOf(sets.get(0)));
    assertEquals(0, bad.count());
  }

  @Test
  void wordNetSynsetTableGivesThreeDatasets() throws IOException {
    Path file = write(dir.resolve("synsets.tsv.gz"), "synset\tpos\tlemmas\tdefinition\texamples\n"
        // one lemma, no examples: no pair at all
        + "00001740-n\tn\tentity\tthat which is perceived\t\n"
        // two lemmas, one example: definition-example and lemmas-definition
        + "06216934-n\tn\treputation|report\tthe general estimation\the was a person of bad report\n"
        // one lemma, two examples: definition-example (first example) and example-example
        + "00022474-s\ts\tdead-on\taccurate and to the point\ta dead-on feel ||| dead-on dialogue\n");
    List<PairDataset> sets = PairReaders.read(file, "wn", BadLines.fail());
    assertEquals(List.of("wn-definition-example", "wn-lemmas-definition", "wn-example-example"),
        sets.stream().map(PairDataset::name).toList());
    assertEquals(List.of(List.of("the general estimation", "he was a person of bad report"),
        List.of("accurate and to the point", "a dead-on feel")), pairsOf(sets.get(0)));
    assertEquals(List.of(List.of("reputation, report", "the general estimation")), pairsOf(sets.get(1)));
    assertEquals(List.of(List.of("a dead-on feel", "dead-on dialogue")), pairsOf(sets.get(2)));
  }

  @Test
  void folderReadsTrainSplitsOfPairsFoldersAndLooseFiles() throws IOException {
    Path data = Files.createDirectories(dir.resolve("data"));
    Files.createDirectories(data.resolve("pairs_mrpc"));
    write(data.resolve("pairs_mrpc/train.jsonl.gz"), "{\"label\":1,\"text1\":\"a\",\"text2\":\"b\"}\n");
    write(data.resolve("pairs_mrpc/test.jsonl.gz"), "{\"label\":1,\"text1\":\"test\",\"text2\":\"split\"}\n");
    Files.createDirectories(data.resolve("pairs_debian"));
    write(data.resolve("pairs_debian/pairs.tsv.gz"), "package\tshort_description\tlong_description_first_paragraph\n"
        + "p\tshort\tlong\n");
    write(data.resolve("loose.tsv"), "x\ty\n");
    Files.createDirectories(data.resolve("conll2003"));
    write(data.resolve("conll2003/train.txt"), "EU\tB-ORG\n");  // not a pairs_* folder: ignored
    List<PairDataset> sets = PairReaders.readFolder(data, BadLines.fail());
    assertEquals(List.of("loose", "debian", "mrpc"), sets.stream().map(PairDataset::name).toList());
    assertEquals(List.of(List.of("a", "b")), pairsOf(sets.get(2)));  // train only, test split left out
    assertEquals(List.of(List.of("short", "long")), pairsOf(sets.get(1)));
  }

  @Test
  void unknownFormatAndEmptyFolderAreErrors() throws IOException {
    Path csv = write(dir.resolve("pairs.csv"), "a,b\n");
    MtpfException e = assertThrows(MtpfException.class, () -> PairReaders.read(csv, "x", BadLines.fail()));
    assertTrue(e.getMessage().contains("pairs.csv") && e.getMessage().contains("'csv'"), e.getMessage());
    Path empty = Files.createDirectories(dir.resolve("empty"));
    e = assertThrows(MtpfException.class, () -> PairReaders.readFolder(empty, BadLines.fail()));
    assertTrue(e.getMessage().contains("no pair data"), e.getMessage());
    e = assertThrows(MtpfException.class, () -> PairReaders.read(dir.resolve("absent.tsv"), "x", BadLines.fail()));
    assertTrue(e.getMessage().contains("absent.tsv") && e.getMessage().contains("not found"), e.getMessage());
  }

  /** file name, content, bad line number, reason. */
  static Stream<Arguments> malformed() {
    return Stream.of(
        Arguments.of("short.tsv", "anchor\tpositive\na\tb\nonly one column\nc\td\n", 3, "expected at least 2 tab-separated fields, got 1"),
        Arguments.of("cols.tsv.gz", "id\ttext1\tx\ttext2\n1\ta\tq\tb\n2\tc\td\n3\te\tq\tf\n", 3, "expected at least 4 tab-separated fields, got 3"),
        Arguments.of("empty.tsv", "a\tb\n  \t  x\nc\td\n", 2, "empty text in a pair"),
        Arguments.of("synsets.tsv", "synset\tpos\tlemmas\tdefinition\texamples\n1\tn\tx|y\tdef\t\n2\tn\tz\n", 3,
            "expected 5 tab-separated fields"),
        Arguments.of("json.jsonl", "{\"text1\":\"a\",\"text2\":\"b\"}\n{\"text1\": \"a\", \n{\"text1\":\"c\",\"text2\":\"d\"}\n", 2,
            "malformed JSON"),
        Arguments.of("array.jsonl.gz", "{\"text1\":\"a\",\"text2\":\"b\"}\n{\"text1\":\"c\",\"text2\":\"d\"}\n[1, 2]\n", 3,
            "not a JSON object"),
        Arguments.of("fields.jsonl", "{\"text1\":\"a\",\"text2\":\"b\"}\n{\"text\":\"a\",\"label\":1}\n{\"text1\":\"c\",\"text2\":\"d\"}\n", 2,
            "no pair fields"),
        Arguments.of("blank.jsonl", "{\"anchor\":\"a\",\"positive\":\"b\"}\n{\"anchor\":\"  \",\"positive\":\"b\"}\n{\"anchor\":\"c\",\"positive\":\"d\"}\n", 2,
            "empty text in a pair"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void malformedLineFailsNamingFileLineAndReason(String name, String content, int line, String reason) throws IOException {
    Path file = write(dir.resolve(name), content);
    MtpfException e = assertThrows(MtpfException.class, () -> PairReaders.read(file, "d", BadLines.fail()));
    assertTrue(e.getMessage().contains(file + ":" + line + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
    assertTrue(e.getMessage().contains("--skip-bad-lines"), e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void malformedLineIsSkippedCountedAndNamed(String name, String content, int line, String reason) throws IOException {
    Path file = write(dir.resolve(name), content);
    BadLines bad = BadLines.skip();
    List<PairDataset> sets = PairReaders.read(file, "d", bad);
    assertEquals(1, bad.count());
    assertTrue(bad.summary().startsWith("skipped 1 malformed line(s)"), bad.summary());
    assertTrue(bad.summary().contains(file + ":" + line + ": " + reason), bad.summary());
    // The good lines around the bad one are kept.
    int pairs = sets.stream().mapToInt(PairDataset::size).sum();
    assertEquals(name.startsWith("synsets") ? 1 : 2, pairs);
  }

  @Test
  void skippingCountsEveryBadLineAndNamesTheFirstFive() throws IOException {
    StringBuilder s = new StringBuilder("anchor\tpositive\n");
    for (int i = 0; i < 7; i++) s.append("bad").append(i).append('\n').append("a").append(i).append("\tb\n");
    Path file = write(dir.resolve("many.tsv"), s.toString());
    BadLines bad = BadLines.skip();
    assertEquals(7, PairReaders.read(file, "d", bad).get(0).size());
    assertEquals(7, bad.count());
    assertTrue(bad.summary().startsWith("skipped 7 malformed line(s)"), bad.summary());
    for (int line : new int[] {2, 4, 6, 8, 10}) assertTrue(bad.summary().contains(file + ":" + line + ":"), bad.summary());
    assertTrue(!bad.summary().contains(file + ":12:"), bad.summary());
    assertEquals("", BadLines.skip().summary());
  }

  @Test
  void invalidUtf8NamesFileAndLine() throws IOException {
    for (String name : List.of("latin1.tsv", "latin1.tsv.gz")) {
      byte[] good = "a\tb\nc\td\n".getBytes(StandardCharsets.UTF_8);
      byte[] bad = {'e', '\t', 'c', 'a', 'f', (byte) 0xe9, '\n'};  // "café" in Latin-1
      byte[] bytes = Arrays.copyOf(good, good.length + bad.length);
      System.arraycopy(bad, 0, bytes, good.length, bad.length);
      Path file = dir.resolve(name);
      Files.write(file, name.endsWith(".gz") ? gzip(bytes) : bytes);
      // Skipping bad lines does not hide an encoding error: the file is not what it claims to be.
      MtpfException e = assertThrows(MtpfException.class, () -> PairReaders.read(file, "d", BadLines.skip()));
      assertTrue(e.getMessage().contains(file + ":3: not valid UTF-8"), e.getMessage());
    }
  }

  @Test
  void truncatedGzipNamesTheFile() throws IOException {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 2000; i++) s.append("anchor number ").append(i).append("\tpositive number ").append(i).append('\n');
    byte[] full = gzip(s.toString().getBytes(StandardCharsets.UTF_8));
    Path file = dir.resolve("cut.tsv.gz");
    Files.write(file, Arrays.copyOf(full, full.length / 2));
    MtpfException e = assertThrows(MtpfException.class, () -> PairReaders.read(file, "d", BadLines.fail()));
    assertTrue(e.getMessage().startsWith(file + ": truncated"), e.getMessage());
  }

  @Test
  void namesAndFormatsIgnoreGzipSuffix() {
    assertEquals("pairs", DataFiles.baseName(Path.of("x/pairs.tsv.gz")));
    assertEquals("tsv", DataFiles.format(Path.of("x/pairs.TSV.gz")));
    assertEquals("jsonl", DataFiles.format(Path.of("train.jsonl")));
    assertEquals("", DataFiles.format(Path.of("README")));
  }
}
