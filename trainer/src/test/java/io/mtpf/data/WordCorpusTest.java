package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Unlabelled NER corpora: CoNLL, text lines and JSONL, split into the words BERT's pre-tokenizer would make. */
class WordCorpusTest {
  @TempDir Path dir;

  static final String CONLL = """
      -DOCSTART-\tO

      EU\tB-ORG
      rejects\tO
      German\tB-MISC
      call\tO


      Peter\tB-PER
      Blackburn\tI-PER
      -DOCSTART-\tO
      """;

  @Test
  void conllSkipsDocstartAndBreaksSentencesOnBlankLines() throws IOException {
    for (String name : List.of("train.txt", "train.txt.gz", "train.conll")) {
      Path file = PairReadersTest.write(dir.resolve(name), CONLL);
      assertEquals(List.of(List.of("EU", "rejects", "German", "call"), List.of("Peter", "Blackburn")),
          WordCorpus.read(file, "conll", BadLines.fail()), name);
    }
  }

  @Test
  void conllWithSpacesAndNoFinalBlankLine() throws IOException {
    Path file = PairReadersTest.write(dir.resolve("orig.txt"), "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
        + "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER");
    assertEquals(List.of(List.of("EU", "rejects"), List.of("Peter", "Blackburn")),
        WordCorpus.read(file, "conll", BadLines.fail()));
  }

  @Test
  void conllEmptyTokenColumnIsABadLine() throws IOException {
    Path file = PairReadersTest.write(dir.resolve("bad.txt"), "EU\tB-ORG\n\tO\nrejects\tO\n");
    MtpfException e = assertThrows(MtpfException.class, () -> WordCorpus.read(file, "conll", BadLines.fail()));
    assertTrue(e.getMessage().contains(file + ":2: empty token column"), e.getMessage());
    BadLines bad = BadLines.skip();
    assertEquals(List.of(List.of("EU", "rejects")), WordCorpus.read(file, "conll", bad));
    assertEquals(1, bad.count());
  }

  /** text, words. */
  static Stream<Arguments> splits() {
    return Stream.of(
        Arguments.of("Hello, world!", List.of("Hello", ",", "world", "!")),
        Arguments.of("  don't  stop\tnow ", List.of("don", "'", "t", "stop", "now")),
        Arguments.of("U.S.-based (2003)", List.of("U", ".", "S", ".", "-", "based", "(", "2003", ")")),
        Arguments.of("$5 ~ a@b", List.of("$", "5", "~", "a", "@", "b")),
        Arguments.of("«Guillemets» — dash…", List.of("«", "Guillemets", "»", "—", "dash", "…")),
        Arguments.of("naïve café", List.of("naïve", "café")),
        Arguments.of("bell\u0007ring", List.of("bell", "ring")),
        Arguments.of("   ", List.of()));
  }

  @ParameterizedTest(name = "[{index}] {1}")
  @MethodSource("splits")
  void splitsOnWhitespaceWithPunctuationAsWords(String text, List<String> words) {
    assertEquals(words, WordCorpus.splitWords(text));
  }

  @Test
  void textAndJsonlCorpora() throws IOException {
    Path text = PairReadersTest.write(dir.resolve("corpus.txt.gz"), "The cat sat.\n\n   \nA dog, barking!\n");
    assertEquals(List.of(List.of("The", "cat", "sat", "."), List.of("A", "dog", ",", "barking", "!")),
        WordCorpus.read(text, "text", BadLines.fail()));
    Path jsonl = PairReadersTest.write(dir.resolve("corpus.jsonl"),
        "{\"text\": \"The cat sat.\", \"label\": 3}\n\n{\"title\": \"no text\"}\n{\"text\": \"A dog!\"}\n{broken\n");
    BadLines bad = BadLines.skip();
    assertEquals(List.of(List.of("The", "cat", "sat", "."), List.of("A", "dog", "!")), WordCorpus.read(jsonl, "jsonl", bad));
    assertEquals(2, bad.count());
    assertTrue(bad.summary().contains(jsonl + ":3: no \"text\" field"), bad.summary());
    assertTrue(bad.summary().contains(jsonl + ":5: malformed JSON"), bad.summary());
    MtpfException e = assertThrows(MtpfException.class, () -> WordCorpus.read(text, "csv", BadLines.fail()));
    assertTrue(e.getMessage().contains("unknown corpus format 'csv'"), e.getMessage());
  }

  /** file name, content, detected format. */
  static Stream<Arguments> formats() {
    return Stream.of(
        Arguments.of("a.jsonl", "{\"text\": \"x\ty\"}\n", "jsonl"),
        Arguments.of("a.jsonl.gz", "{\"text\": \"x\"}\n", "jsonl"),
        Arguments.of("tabs.txt", "\n\nEU\tB-ORG\nrejects\tO\n", "conll"),
        Arguments.of("tabs.txt.gz", "EU\tB-ORG\n", "conll"),
        Arguments.of("orig.txt", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\n", "conll"),
        Arguments.of("lines.txt", "The cat sat on the mat.\nAnother line\twith a tab later.\n", "text"),
        Arguments.of("empty.txt", "", "text"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("formats")
  void detectsFormat(String name, String content, String format) throws IOException {
    assertEquals(format, WordCorpus.detectFormat(PairReadersTest.write(dir.resolve(name), content)));
  }

  @Test
  void forPretrainingReadsFilesOrConllTrainSplitsAndSamples() throws IOException {
    Path data = Files.createDirectories(dir.resolve("data"));
    Files.createDirectories(data.resolve("conll2003"));
    Files.createDirectories(data.resolve("crossner_ai"));
    Files.createDirectories(data.resolve("banking77"));
    PairReadersTest.write(data.resolve("conll2003/train.txt.gz"), CONLL);
    PairReadersTest.write(data.resolve("conll2003/test.txt.gz"), "Test\tO\nsplit\tO\n");
    PairReadersTest.write(data.resolve("crossner_ai/train.txt.gz"), "Popular\tO\napproaches\tO\n");
    PairReadersTest.write(data.resolve("banking77/train.jsonl.gz"), "{\"text\":\"x\"}\n");
    assertEquals(List.of(data.resolve("conll2003/train.txt.gz"), data.resolve("crossner_ai/train.txt.gz")),
        WordCorpus.conllTrainFiles(data));
    List<List<String>> all = WordCorpus.forPretraining(List.of(), data.toString(), 0, 1, null, BadLines.fail());
    assertEquals(List.of(List.of("EU", "rejects", "German", "call"), List.of("Peter", "Blackburn"),
        List.of("Popular", "approaches")), all);
    List<List<String>> two = WordCorpus.forPretraining(List.of(), data.toString(), 2, 7, null, BadLines.fail());
    assertEquals(2, two.size());
    assertTrue(all.containsAll(two));
    assertEquals(two, WordCorpus.forPretraining(List.of(), data.toString(), 2, 7, null, BadLines.fail()));
    // Files win over the data folder; each file's format is detected.
    Path text = PairReadersTest.write(dir.resolve("lines.txt"), "One line.\n");
    Path conll = PairReadersTest.write(dir.resolve("c.txt"), "EU\tB-ORG\n");
    assertEquals(List.of(List.of("One", "line", "."), List.of("EU")),
        WordCorpus.forPretraining(List.of(text.toString(), conll.toString()), data.toString(), 0, 1, null, BadLines.fail()));
    Path empty = Files.createDirectories(dir.resolve("nothing"));
    MtpfException e = assertThrows(MtpfException.class,
        () -> WordCorpus.forPretraining(List.of(), empty.toString(), 0, 1, null, BadLines.fail()));
    assertTrue(e.getMessage().contains("no NER corpus"), e.getMessage());
  }
}
