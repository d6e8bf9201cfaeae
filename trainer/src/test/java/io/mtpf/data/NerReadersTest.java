package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mtpf.MtpfException;
import io.mtpf.data.BioTags.Scheme;
import io.mtpf.eval.EntityF1;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** NER files (CoNLL columns, CoNLL-2012, JSON lines; plain and gzip) to IOB2 sentences, errors as file:line, real data. */
class NerReadersTest {
  @TempDir Path dir;

  static final List<String> HF_CONLL2003_NAMES = List.of("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC");

  /** "word/TAG word/TAG ..." per sentence. */
  static List<String> sentences(NerDataset d) {
    return d.sentences().stream().map(s -> {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < s.words().size(); i++) sb.append(i > 0 ? " " : "").append(s.words().get(i)).append('/').append(s.tags().get(i));
      return sb.toString();
    }).toList();
  }

  /** A small CoNLL-2012 file in the layout of OntoNotes 5's *_gold_conll (two documents, parse and coref columns). */
  static final String CONLL_2012 = """
      #begin document (nw/wsj/00/wsj_0001); part 000
      nw/wsj/00/wsj_0001   0    0        Pierre   NNP  (TOP(S(NP(NP*         -    -   -   -   (PERSON*       (ARG0*   (0
      nw/wsj/00/wsj_0001   0    1        Vinken   NNP             *)         -    -   -   -         *)            *    0)
      nw/wsj/00/wsj_0001   0    2          will    MD          (VP*          -    -   -   -          *   (ARGM-MOD*)    -
      nw/wsj/00/wsj_0001   0    3          join    VB          (VP*        join  01   1   -          *          (V*)    -
      nw/wsj/00/wsj_0001   0    4           the    DT          (NP*          -    -   -   -    (ORG*             *    -
      nw/wsj/00/wsj_0001   0    5         Dutch    JJ             *          -    -   -   -          *             *    -
      nw/wsj/00/wsj_0001   0    6         board    NN             *)))       -    -   -   -          *)            *)   -
      nw/wsj/00/wsj_0001   0    7             .     .             *))        -    -   -   -          *             *    -

      nw/wsj/00/wsj_0001   0    0            He   PRP      (TOP(S(NP*)       -    -   -   -          *        (ARG0*)   -
      nw/wsj/00/wsj_0001   0    1         lives   VBZ          (VP*        live  01   1   -          *           (V*)   -
      nw/wsj/00/wsj_0001   0    2            in    IN          (PP*          -    -   -   -          *        (ARGM-LOC* -
      nw/wsj/00/wsj_0001   0    3     Amsterdam   NNP            (NP*)))     -    -   -   -      (GPE)            *)   -

      #end document
      #begin document (bc/cnn/00/cnn_0002); part 001
      bc/cnn/00/cnn_0002   1    0          2008    CD   (TOP(NP*)         -    -   -  Speaker#1  (DATE*)   -
      #end document
      """;

  /** file name, content, expected "word/TAG" sentences, scheme of the file, expected label names. */
  static Stream<Arguments> files() {
    String iob2 = "EU\tB-ORG\nrejects\tO\nGerman\tB-MISC\ncall\tO\n\nPeter\tB-PER\nBlackburn\tI-PER\n";
    List<String> iob2Sentences = List.of("EU/B-ORG rejects/O German/B-MISC call/O", "Peter/B-PER Blackburn/I-PER");
    List<String> conllLabels = List.of("O", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER");
    return Stream.of(
        Arguments.of("train.txt", iob2, iob2Sentences, Scheme.IOB2, conllLabels),
        Arguments.of("train.txt.gz", "\n\n" + iob2 + "\n\n", iob2Sentences, Scheme.IOB2, conllLabels),
        // CoNLL-2003 as first released: space-separated word POS chunk NER, IOB1, -DOCSTART- lines.
        Arguments.of("eng.train", """
            -DOCSTART- -X- -X- O

            EU NNP I-NP I-ORG
            rejects VBZ I-VP O
            German JJ I-NP I-MISC
            call NN I-NP O

            Peter NNP I-NP I-PER
            Blackburn NNP I-NP I-PER
            """, iob2Sentences, Scheme.IOB1, conllLabels),
        // IOB1 with B- between two adjacent entities of one type.
        Arguments.of("adjacent.conll", "Tom\tI-PER\nand\tO\nAnn\tI-PER\nBob\tB-PER\n",
            List.of("Tom/B-PER and/O Ann/B-PER Bob/B-PER"), Scheme.IOB1, List.of("O", "B-PER", "I-PER")),
        Arguments.of("bioes.bio", "New\tB-LOC\nYork\tE-LOC\nis\tO\nbig\tS-MISC\n",
            List.of("New/B-LOC York/I-LOC is/O big/B-MISC"), Scheme.IOBES, List.of("O", "B-LOC", "I-LOC", "B-MISC", "I-MISC")),
        // Columns separated by tabs keep spaces inside a token.
        Arguments.of("spaces.tsv", "New York\tB-LOC\nrocks\tO\n", List.of("New York/B-LOC rocks/O"), Scheme.IOB2,
            List.of("O", "B-LOC", "I-LOC")),
        Arguments.of("bom.txt", "\uFEFFEU\tB-ORG\n", List.of("EU/B-ORG"), Scheme.IOB2, List.of("O", "B-ORG", "I-ORG")),
        Arguments.of("sample.jsonl", """
            {"tokens": ["EU", "rejects", "German", "call"], "tags": ["B-ORG", "O", "B-MISC", "O"]}

            {"id": "2", "tokens": ["Peter", "Blackburn"], "tags": ["B-PER", "I-PER"]}
            """, iob2Sentences, Scheme.IOB2, conllLabels),
        Arguments.of("sample_conll.jsonl.gz", """
            {"tokens": ["EU", "rejects", "German", "call"], "ner_tags": [3, 0, 7, 0]}
            {"tokens": ["Peter", "Blackburn"], "ner_tags": [1, 2]}
            """, iob2Sentences, Scheme.IOB2, conllLabels),
        Arguments.of("wsj_0001.v4_gold_conll", CONLL_2012, List.of(
                "Pierre/B-PERSON Vinken/I-PERSON will/O join/O the/B-ORG Dutch/I-ORG board/I-ORG ./O",
                "He/O lives/O in/O Amsterdam/B-GPE", "2008/B-DATE"), Scheme.IOB2,
            List.of("O", "B-DATE", "I-DATE", "B-GPE", "I-GPE", "B-ORG", "I-ORG", "B-PERSON", "I-PERSON")),
        // Any name: a first line "#begin document" marks CoNLL-2012.
        Arguments.of("ontonotes.txt.gz", CONLL_2012, List.of(
                "Pierre/B-PERSON Vinken/I-PERSON will/O join/O the/B-ORG Dutch/I-ORG board/I-ORG ./O",
                "He/O lives/O in/O Amsterdam/B-GPE", "2008/B-DATE"), Scheme.IOB2,
            List.of("O", "B-DATE", "I-DATE", "B-GPE", "I-GPE", "B-ORG", "I-ORG", "B-PERSON", "I-PERSON")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("files")
  void readsToIob2(String name, String content, List<String> expected, Scheme scheme, List<String> labels) throws IOException {
    Path file = PairReadersTest.write(dir.resolve(name), content);
    NerDataset d = NerReaders.read(file, null, HF_CONLL2003_NAMES, BadLines.fail());
    assertEquals(expected, sentences(d));
    assertEquals(scheme, d.sourceScheme());
    assertEquals(labels, d.labels().names());
    for (int i = 0; i < d.size(); i++) {
      int[] ids = d.tagIds(i);
      for (int k = 0; k < ids.length; k++) assertEquals(d.sentences().get(i).tags().get(k), d.labels().name(ids[k]));
    }
  }

  /** file name, content, the "file:line: reason" part expected in the error. */
  static Stream<Arguments> badFiles() {
    return Stream.of(
        Arguments.of("prefix.txt", "EU\tB-ORG\nrejects\tX-ORG\n", ":2: tag 'X-ORG' has an unknown prefix"),
        Arguments.of("notype.txt", "EU\tB-\n", ":1: tag 'B-' has no entity type"),
        Arguments.of("nolabel.txt", "EU\tB-ORG\n\nrejects\n", ":3: no label column"),
        Arguments.of("lower.txt", "EU\tb-org\n", ":1: tag 'b-org' has an unknown prefix"),
        Arguments.of("mismatch.jsonl", "{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n",
            ":2: 2 tokens but 1 tags"),
        Arguments.of("broken.jsonl", "{\"tokens\": [\"a\"], \"tags\": [\"O\"]\n", ":1: malformed JSON"),
        Arguments.of("intrange.jsonl", "{\"tokens\": [\"a\"], \"ner_tags\": [9]}\n", ":1: tag id 9 is outside the 9 tag names"),
        Arguments.of("few_conll", "#begin document (x); part 000\nx 0 0 Pierre NNP * - - - - \n", ":2: expected at least 11 columns"),
        Arguments.of("unclosed_conll", "#begin document (x); part 000\nx 0 0 Pierre NNP * - - - - (PERSON*\nx 0 1 Vinken NNP * - - - - *\n\n",
            ":2: named entity '(PERSON*' is never closed"),
        Arguments.of("nested_conll", "x 0 0 the DT * - - - - (ORG*\nx 0 1 US NNP * - - - - (GPE)\nx 0 2 army NN * - - - - *)\n",
            ":2: named entity '(GPE)' opens inside '(ORG*' of line 1"),
        Arguments.of("stray_conll", "x 0 0 the DT * - - - - *)\n", ":1: named entity '*)' closes an entity that was never opened"),
        Arguments.of("garbage_conll", "x 0 0 the DT * - - - - (ORG\n", ":1: named entity '(ORG' is not one of"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badFiles")
  void badLinesNameFileAndLine(String name, String content, String expected) throws IOException {
    Path file = PairReadersTest.write(dir.resolve(name), content);
    MtpfException e = assertThrows(MtpfException.class, () -> NerReaders.read(file, null, HF_CONLL2003_NAMES, BadLines.fail()));
    assertTrue(e.getMessage().startsWith(file + expected), e.getMessage());
  }

  @Test
  void skippingDropsTheWholeSentenceWithABadLine() throws IOException {
    Path file = PairReadersTest.write(dir.resolve("skip.txt"), "EU\tB-ORG\nrejects\tO\n\nGerman\tB-MISC\ncall\tQ\nnow\tO\n\nPeter\tB-PER\n");
    BadLines skip = BadLines.skip();
    NerDataset d = NerReaders.read(file, skip);
    assertEquals(List.of("EU/B-ORG rejects/O", "Peter/B-PER"), sentences(d));
    assertEquals(1, skip.count());
    assertTrue(skip.summary().contains(file + ":5: tag 'Q'"), skip.summary());
  }

  @Test
  void aTestSplitUsesTheTrainingMapAndRejectsUnknownTags() throws IOException {
    NerDataset train = NerReaders.read(PairReadersTest.write(dir.resolve("train.txt"), "EU\tB-ORG\nPeter\tB-PER\n"), BadLines.fail());
    Path test = PairReadersTest.write(dir.resolve("test.txt"), "Peter\tI-PER\n\nParis\tB-LOC\n");
    // IOB1 'I-PER' becomes B-PER, which the map has; B-LOC it has not.
    MtpfException e = assertThrows(MtpfException.class, () -> NerReaders.read(test, train.labels(), BadLines.skip()));
    assertTrue(e.getMessage().startsWith(test + ":3: tag 'B-LOC' is not in the training split's label map [O, B-ORG, I-ORG, B-PER, I-PER]"),
        e.getMessage());
    Path ok = PairReadersTest.write(dir.resolve("ok.txt"), "Peter\tI-PER\n");
    NerDataset d = NerReaders.read(ok, train.labels(), BadLines.fail());
    assertEquals(train.labels(), d.labels());
  }

  @Test
  void integerTagsNeedTheirNames() throws IOException {
    Path file = PairReadersTest.write(dir.resolve("ints.jsonl"), "{\"tokens\": [\"a\"], \"ner_tags\": [0]}\n");
    MtpfException e = assertThrows(MtpfException.class, () -> NerReaders.read(file, BadLines.skip()));
    assertTrue(e.getMessage().startsWith(file + ":1: integer tags need the tag names"), e.getMessage());
  }

  @Test
  void formatByNameOrFirstLine() throws IOException {
    assertEquals(NerReaders.Format.JSON_LINES, NerReaders.formatOf(Path.of("x/train.jsonl.gz")));
    assertEquals(NerReaders.Format.CONLL_2012, NerReaders.formatOf(Path.of("x/cctv_0001.v4_gold_conll")));
    Path plain = PairReadersTest.write(dir.resolve("a.txt"), "EU\tB-ORG\n");
    assertEquals(NerReaders.Format.CONLL_COLUMNS, NerReaders.formatOf(plain));
    Path onto = PairReadersTest.write(dir.resolve("b.txt.gz"), "\n#begin document (x); part 000\n");
    assertEquals(NerReaders.Format.CONLL_2012, NerReaders.formatOf(onto));
  }

  // ---- real data (../shared/data): counts from each folder's README.md ----

  /** folder, split file, sentences, tokens, entities (B- count); train files also give their entity types. */
  static Stream<Arguments> realSplits() {
    return Stream.of(
        Arguments.of("conll2003", "train.txt.gz", 14041, 203621, 23429), Arguments.of("conll2003", "dev.txt.gz", 3250, 51362, 5938),
        Arguments.of("conll2003", "test.txt.gz", 3453, 46435, 5628),
        Arguments.of("mit_restaurant", "train.txt.gz", 7660, 70525, 15363),
        Arguments.of("mit_restaurant", "test_part_a.txt.gz", 815, 7449, 1712),
        Arguments.of("mit_restaurant", "test_part_b.txt.gz", 706, 6807, 1439),
        Arguments.of("jnlpba", "train.txt.gz", 18546, 492551, 51301), Arguments.of("jnlpba", "test.txt.gz", 3856, 101039, 8662),
        Arguments.of("crossner_ai", "train.txt.gz", 100, 3782, 532), Arguments.of("crossner_ai", "dev.txt.gz", 350, 10919, 1549),
        Arguments.of("crossner_ai", "test.txt.gz", 431, 12991, 1809),
        Arguments.of("crossner_literature", "train.txt.gz", 100, 3782, 541),
        Arguments.of("crossner_literature", "dev.txt.gz", 400, 14503, 2130),
        Arguments.of("crossner_literature", "test.txt.gz", 416, 16157, 2266),
        Arguments.of("crossner_music", "train.txt.gz", 100, 3909, 648), Arguments.of("crossner_music", "dev.txt.gz", 380, 15591, 2679),
        Arguments.of("crossner_music", "test.txt.gz", 465, 19605, 3336),
        Arguments.of("crossner_politics", "train.txt.gz", 200, 8384, 1304),
        Arguments.of("crossner_politics", "dev.txt.gz", 541, 24624, 3482),
        Arguments.of("crossner_politics", "test.txt.gz", 651, 27585, 4209),
        Arguments.of("crossner_science", "train.txt.gz", 200, 7100, 1075),
        Arguments.of("crossner_science", "dev.txt.gz", 450, 16139, 2538),
        Arguments.of("crossner_science", "test.txt.gz", 543, 19487, 3089));
  }

  /** Entity types per the READMEs' train.txt rows. */
  static final java.util.Map<String, Set<String>> TRAIN_TYPES = java.util.Map.of(
      "conll2003", Set.of("location", "misc", "organisation", "person"),
      "mit_restaurant", Set.of("Amenity", "Cuisine", "Dish", "Hours", "Location", "Price", "Rating", "Restaurant_Name"),
      "jnlpba", Set.of("DNA", "RNA", "cell_line", "cell_type", "protein"),
      "crossner_ai", Set.of("algorithm", "conference", "country", "field", "location", "metrics", "misc", "organisation",
          "person", "product", "programlang", "researcher", "task", "university"),
      "crossner_literature", Set.of("award", "book", "country", "event", "literarygenre", "location", "magazine", "misc",
          "organisation", "person", "poem", "writer"),
      "crossner_music", Set.of("album", "award", "band", "country", "event", "location", "misc", "musicalartist",
          "musicalinstrument", "musicgenre", "organisation", "person", "song"),
      "crossner_politics", Set.of("country", "election", "event", "location", "misc", "organisation", "person",
          "politicalparty", "politician"),
      "crossner_science", Set.of("academicjournal", "astronomicalobject", "award", "chemicalcompound", "chemicalelement",
          "country", "discipline", "enzyme", "event", "location", "misc", "organisation", "person", "protein", "scientist",
          "theory", "university"));

  static final java.util.Map<String, NerDataset> TRAIN_SETS = new java.util.concurrent.ConcurrentHashMap<>();

  @ParameterizedTest(name = "{0}/{1}")
  @MethodSource("realSplits")
  void readsRealSplits(String folder, String split, int sentences, int tokens, int entities) {
    NerDataset trainSet = TRAIN_SETS.computeIfAbsent(folder, f -> NerReaders.read(dataFile(f + "/train.txt.gz"), BadLines.fail()));
    Set<String> types = new TreeSet<>();
    for (String label : trainSet.labels().names()) if (label.startsWith("B-")) types.add(label.substring(2));
    assertEquals(TRAIN_TYPES.get(folder), types);
    // Dev and test are read with the training split's map: every tag must be in it.
    NerDataset d = split.startsWith("train") ? trainSet : NerReaders.read(dataFile(folder + "/" + split), trainSet.labels(), BadLines.fail());
    System.out.println("NER " + d.name() + ": " + d.size() + " sentences, " + d.tokenCount() + " tokens, " + d.entityCount()
        + " entities, " + d.sourceScheme() + ", " + d.labels().size() + " labels");
    assertEquals(sentences, d.size());
    assertEquals(tokens, d.tokenCount());
    assertEquals(entities, d.entityCount());
    assertEquals(Scheme.IOB2, d.sourceScheme());
    assertEquals(1.0, EntityF1.f1(d.tagSequences(), d.tagSequences()), "gold against itself");
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
