package io.mtpf.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mtpf.MtpfException;
import io.mtpf.data.BadLines;
import io.mtpf.data.NerDataset;
import io.mtpf.eval.DownstreamDatasets.Family;
import io.mtpf.eval.DownstreamDatasets.Resolved;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registry of the paper's 21 datasets: names, lookup on disk (present / absent with a reason), user datasets. */
class DownstreamDatasetsTest {
  @TempDir Path tmp;

  static final Path SHARED = Path.of(System.getProperty("mtpf.data.dir", "../shared/data"));

  @Test
  void listsThePapersTwentyOneDatasetsInItsOrder() {
    assertEquals(21, DownstreamDatasets.ALL.size());
    assertEquals(List.of("CoNLL-2003", "OntoNotes5", "MIT Restaurant", "BioNLP", "CrossNER"),
        DownstreamDatasets.NER.stream().map(DownstreamDatasets.Dataset::name).toList());
    assertEquals(16, DownstreamDatasets.TC.size());
    assertEquals("Banking77", DownstreamDatasets.TC.get(0).name());
    assertEquals("TCon.", DownstreamDatasets.TC.get(15).abbreviation());
    assertEquals("CoNLL-2003", DownstreamDatasets.byName("conll2003").orElseThrow().name());
    assertEquals("BioNLP", DownstreamDatasets.byName("jnlpba").orElseThrow().name());
    assertEquals("Emotion", DownstreamDatasets.byName("EmotionClassification").orElseThrow().name());
    assertEquals(16, DownstreamDatasets.byName("emotion").orElseThrow().task().samplesPerLabel());
    assertTrue(DownstreamDatasets.byName("nope").isEmpty());
  }

  @Test
  void resolvesTheSharedDataAndListsTheRestAsAbsent() {
    if (!Files.isDirectory(SHARED)) {
      System.out.println("SKIPPED: " + SHARED.toAbsolutePath() + " not found");
      assumeTrue(false);
    }
    Resolved conll = DownstreamDatasets.resolve(DownstreamDatasets.byName("CoNLL-2003").orElseThrow(), SHARED);
    assertTrue(conll.present(), conll.status());
    assertEquals(SHARED.resolve("conll2003/dev.txt.gz"), conll.dev().get(0));
    Resolved mit = DownstreamDatasets.resolve(DownstreamDatasets.byName("MIT Restaurant").orElseThrow(), SHARED);
    assertEquals(2, mit.test().size());
    assertTrue(mit.dev().isEmpty());
    Resolved bio = DownstreamDatasets.resolve(DownstreamDatasets.byName("BioNLP").orElseThrow(), SHARED);
    assertTrue(bio.present() && bio.dev().isEmpty());
    Resolved cross = DownstreamDatasets.resolve(DownstreamDatasets.byName("CrossNER").orElseThrow(), SHARED);
    assertEquals(5, cross.train().size());
    assertEquals(5, cross.dev().size());
    // The five domains as one dataset over the union of their entity types (the paper's 39).
    NerDataset train = cross.readNerTrain(BadLines.fail());
    assertEquals(39, (train.labels().size() - 1) / 2, train.labels().names().toString());
    Resolved onto = DownstreamDatasets.resolve(DownstreamDatasets.byName("OntoNotes5").orElseThrow(), SHARED);
    assertFalse(onto.present());
    assertTrue(onto.status().startsWith("absent: not found under") && onto.status().contains("ontonotes5"),
        onto.status());
    long tcPresent = DownstreamDatasets.TC.stream().filter(d -> DownstreamDatasets.resolve(d, SHARED).present()).count();
    assertEquals(8, tcPresent);
    Resolved fpb = DownstreamDatasets.resolve(DownstreamDatasets.byName("FinancialPhrasebank").orElseThrow(), SHARED);
    assertEquals(fpb.train(), fpb.test());
    assertTrue(DownstreamDatasets.resolve(DownstreamDatasets.byName("IMDB").orElseThrow(), SHARED).status()
        .contains("imdb/"));
  }

  @Test
  void findsADatasetAUserAddedUnderItsFolderName() throws IOException {
    Path data = tmp.resolve("data");
    Files.createDirectories(data.resolve("imdb"));
    gzip(data.resolve("imdb/train.csv.gz"), "text,label\ngreat film,pos\nawful,neg\n");
    Files.writeString(data.resolve("imdb/test.csv"), "text,label\nfine,pos\n");
    Resolved imdb = DownstreamDatasets.resolve(DownstreamDatasets.byName("IMDB").orElseThrow(), data);
    assertTrue(imdb.present(), imdb.status());
    assertEquals(data.resolve("imdb/train.csv.gz"), imdb.train().get(0));
    assertEquals(2, imdb.readTc(imdb.train(), null, BadLines.fail()).size());
    // Without a test file it is absent, and says which file is missing.
    Files.createDirectories(data.resolve("arxiv"));
    Files.writeString(data.resolve("arxiv/train.jsonl"), "{\"text\":\"a\",\"label\":\"x\"}\n");
    Resolved arxiv = DownstreamDatasets.resolve(DownstreamDatasets.byName("ArXiv").orElseThrow(), data);
    assertEquals("absent: not found under " + data + ": arxiv/test.*", arxiv.status());
    assertEquals("absent: no --data directory given",
        DownstreamDatasets.resolve(DownstreamDatasets.byName("IMDB").orElseThrow(), null).status());
  }

  @Test
  void detectsTheFamilyOfAUsersDataset() throws IOException {
    Path conll = dir("conll", "train.txt", "Anna\tB-PER\nwent\tO\n\n", "test.txt", "Tom\tB-PER\n", "dev.txt", "x\tO\n");
    Resolved r = DownstreamDatasets.user("mine=" + conll);
    assertEquals(Family.NER, r.dataset().family());
    assertEquals("mine", r.dataset().name());
    assertEquals("user", r.source());
    assertEquals(conll.resolve("dev.txt"), r.dev().get(0));
    Path jsonNer = dir("jner", "train.jsonl", "{\"tokens\":[\"a\"],\"ner_tags\":[\"O\"]}\n", "test.jsonl",
        "{\"tokens\":[\"b\"],\"ner_tags\":[\"O\"]}\n");
    assertEquals(Family.NER, DownstreamDatasets.user("j=" + jsonNer).dataset().family());
    Path jsonTc = dir("jtc", "train.jsonl", "{\"text\":\"a\",\"label\":1}\n", "test.jsonl", "{\"text\":\"b\",\"label\":1}\n");
    Resolved tc = DownstreamDatasets.user("t=" + jsonTc);
    assertEquals(Family.TC, tc.dataset().family());
    assertEquals(8, tc.dataset().task().samplesPerLabel());
    Path tsvTc = dir("tsvtc", "train.tsv", "label\ttext\npos\tnice\n", "test.tsv", "label\ttext\nneg\tbad\n");
    assertEquals(Family.TC, DownstreamDatasets.user("s=" + tsvTc).dataset().family());
    Path tsvNer = dir("tsvner", "train.tsv", "Anna\tB-PER\nwent\tO\n", "test.tsv", "Tom\tB-PER\n");
    assertEquals(Family.NER, DownstreamDatasets.user("n=" + tsvNer).dataset().family());
    // Given explicitly, the family is not detected.
    assertEquals(Family.TC, DownstreamDatasets.user("f=" + jsonTc + ":tc").dataset().family());
    // One classification file: sampled from and scored, as FinancialPhrasebank.
    Resolved one = DownstreamDatasets.user("one=" + jsonTc.resolve("train.jsonl"));
    assertEquals(one.train(), one.test());
  }

  @Test
  void badUserDatasetsAreErrorsNamingThePath() throws IOException {
    MtpfException e = assertThrows(MtpfException.class, () -> DownstreamDatasets.user("x=" + tmp.resolve("missing")));
    assertTrue(e.getMessage().contains(tmp.resolve("missing").toString()) && e.getMessage().contains("does not exist"),
        e.getMessage());
    e = assertThrows(MtpfException.class, () -> DownstreamDatasets.user("no-equals-sign"));
    assertTrue(e.getMessage().contains("NAME=PATH"), e.getMessage());
    Path noTest = dir("notest", "train.txt", "a\tO\n");
    e = assertThrows(MtpfException.class, () -> DownstreamDatasets.user("x=" + noTest));
    assertTrue(e.getMessage().contains(noTest.toString()) && e.getMessage().contains("no test"), e.getMessage());
    Path odd = dir("odd", "train.jsonl", "{\"a\":1}\n", "test.jsonl", "{\"a\":2}\n");
    e = assertThrows(MtpfException.class, () -> DownstreamDatasets.user("x=" + odd));
    assertTrue(e.getMessage().contains(odd.resolve("train.jsonl").toString())
        && e.getMessage().contains("neither tokens"), e.getMessage());
    Path prose = dir("prose", "train.txt", "just some prose here\nand more\n", "test.txt", "x\n");
    e = assertThrows(MtpfException.class, () -> DownstreamDatasets.user("x=" + prose));
    assertTrue(e.getMessage().contains(prose.resolve("train.txt").toString())
        && e.getMessage().contains("cannot tell NER from classification"), e.getMessage());
    Path conllFile = dir("nerfile", "train.txt", "a\tB-X\n").resolve("train.txt");
    e = assertThrows(MtpfException.class, () -> DownstreamDatasets.user("x=" + conllFile));
    assertTrue(e.getMessage().contains("one NER file"), e.getMessage());
  }

  private Path dir(String name, String... fileAndContent) throws IOException {
    Path d = Files.createDirectories(tmp.resolve(name));
    for (int i = 0; i < fileAndContent.length; i += 2) Files.writeString(d.resolve(fileAndContent[i]), fileAndContent[i + 1]);
    return d;
  }

  static void gzip(Path file, String content) throws IOException {
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
      out.write(content.getBytes(StandardCharsets.UTF_8));
    }
  }

  @Test
  void stratifiedSubsampleKeepsLabelShares() {
    int[] labels = new int[1000];
    for (int i = 0; i < labels.length; i++) labels[i] = i < 700 ? 0 : i < 950 ? 1 : 2;
    int[] s = Evaluation.stratifiedSubsample(labels, 100, 42);
    assertEquals(100, s.length);
    int[] c = new int[3];
    for (int i : s) c[labels[i]]++;
    assertEquals(List.of(70, 25, 5), List.of(c[0], c[1], c[2]));
    for (int i = 1; i < s.length; i++) assertTrue(s[i] > s[i - 1], "ascending, distinct");
    assertEquals(1000, Evaluation.stratifiedSubsample(labels, 5000, 42).length);
  }
}
