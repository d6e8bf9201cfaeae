package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import io.mtpf.data.ClassificationReaders.Columns;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Text/label files (JSON lines, RFC 4180 CSV, TSV; plain and gzip), label maps across splits, errors, real data. */
class ClassificationReadersTest {
  @TempDir Path dir;

  /** "label: text" per example. */
  static List<String> examples(TextClassificationDataset d) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < d.size(); i++) out.add(d.labelName(i) + ": " + d.text(i));
    return out;
  }

  /** file name, content, columns, expected "label: text" examples, expected label map. */
  static Stream<Arguments> files() {
    List<String> emotion = List.of("sadness: i didnt feel humiliated", "joy: i feel good, really", "sadness: so \"sad\"");
    List<String> emotionLabels = List.of("joy", "sadness");
    String jsonl = """
        {"text": "i didnt feel humiliated", "label": "sadness"}

        {"text": "i feel good, really", "label": "joy", "id": 7}
        {"text": "  so \\"sad\\" ", "label": " sadness"}
        """;
    return Stream.of(
        Arguments.of("train.jsonl", jsonl, Columns.DEFAULT, emotion, emotionLabels),
        Arguments.of("train.jsonl.gz", "\uFEFF" + jsonl, Columns.DEFAULT, emotion, emotionLabels),
        // Integer labels keep their number as the name and sort numerically.
        Arguments.of("ints.jsonl", "{\"text\": \"a\", \"label\": 10}\n{\"text\": \"b\", \"label\": 2}\n{\"text\": \"c\", \"label\": \"2\"}\n",
            Columns.DEFAULT, List.of("10: a", "2: b", "2: c"), List.of("2", "10")),
        // RFC 4180: quoted commas, doubled quotes, a line break inside quotes, CRLF, other columns, any column order.
        Arguments.of("train.csv", "id,label,text\r\n1,sadness,i didnt feel humiliated\r\n2,joy,\"i feel good, really\"\r\n"
            + "3,sadness,\"so \"\"sad\"\"\"\r\n", Columns.DEFAULT, emotion, emotionLabels),
        Arguments.of("multiline.csv.gz", "text,label\n\"line one\nline two\",a\n\n\"\",b,extra\nlast,\"c\"\n", Columns.DEFAULT,
            null, null),
        Arguments.of("train.tsv", "text\tlabel\ni didnt feel humiliated\tsadness\ni feel good, really\tjoy\nso \"sad\"\tsadness\n",
            Columns.DEFAULT, emotion, emotionLabels),
        Arguments.of("news.csv", "label,content\nWorld,\"Talks resume, again\"\n", new Columns("content", "label"),
            List.of("World: Talks resume, again"), List.of("World")),
        Arguments.of("named.jsonl", "{\"sentence\": \"up 5%\", \"sentiment\": \"positive\"}\n", new Columns("sentence", "sentiment"),
            List.of("positive: up 5%"), List.of("positive")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("files")
  void readsTextsAndLabels(String name, String content, Columns columns, List<String> expected, List<String> labels) throws IOException {
    Path file = PairReadersTest.write(dir.resolve(name), content);
    if (expected == null) {
      // The multi-line CSV: the empty text is a bad line; skipping it leaves the rest.
      BadLines skip = BadLines.skip();
      TextClassificationDataset d = ClassificationReaders.read(file, columns, null, skip);
      assertEquals(List.of("a: line one\nline two", "c: last"), examples(d));
      assertEquals(1, skip.count());
      assertTrue(skip.summary().contains(file + ":5: empty text"), skip.summary());
      return;
    }
    TextClassificationDataset d = ClassificationReaders.read(file, columns, null, BadLines.fail());
    assertEquals(expected, examples(d));
    assertEquals(labels, d.labelMap().names());
  }

  /** file name, content, the "file:line: reason" part expected in the error. */
  static Stream<Arguments> badFiles() {
    return Stream.of(
        Arguments.of("after.csv", "text,label\n\"a\"b,x\n", ":2: text after a closing quote"),
        Arguments.of("inner.csv", "text,label\nsay \"hi\",x\n", ":2: a quote inside an unquoted field"),
        Arguments.of("open.csv", "text,label\nok,x\n\"never closed,x\nmore\n", ":3: a quoted field is never closed"),
        Arguments.of("short.csv", "text,label\nonly text\n", ":2: expected at least 2 comma-separated fields, got 1"),
        Arguments.of("short.tsv", "label\ttext\nx\n", ":2: expected at least 2 tab-separated fields, got 1"),
        Arguments.of("header.csv", "sentence,label\na,b\n", ":1: the header [sentence, label] has no column 'text'"),
        Arguments.of("notext.jsonl", "{\"label\": \"x\"}\n", ":1: no string field \"text\""),
        Arguments.of("float.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"a\", \"label\": 1.5}\n",
            ":2: field \"label\" is missing or neither a string nor an integer"),
        Arguments.of("empty.jsonl", "{\"text\": \" \", \"label\": \"x\"}\n", ":1: empty text"),
        Arguments.of("nolabel.tsv", "text\tlabel\na\t\n", ":2: empty label"),
        Arguments.of("broken.jsonl", "{\"text\": \"a\"\n", ":1: malformed JSON"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badFiles")
  void badLinesNameFileAndLine(String name, String content, String expected) throws IOException {
    Path file = PairReadersTest.write(dir.resolve(name), content);
    MtpfException e = assertThrows(MtpfException.class, () -> ClassificationReaders.read(file, BadLines.fail()));
    assertTrue(e.getMessage().startsWith(file + expected), e.getMessage());
  }

  @Test
  void unknownFormatIsAnError() throws IOException {
    Path file = PairReadersTest.write(dir.resolve("data.xml"), "<x/>");
    MtpfException e = assertThrows(MtpfException.class, () -> ClassificationReaders.read(file, BadLines.fail()));
    assertTrue(e.getMessage().contains("unknown classification file format 'xml'"), e.getMessage());
  }

  @Test
  void theTestSplitUsesTheTrainingMap() throws IOException {
    Path train = PairReadersTest.write(dir.resolve("train.jsonl"), "{\"text\": \"a\", \"label\": \"neg\"}\n{\"text\": \"b\", \"label\": \"pos\"}\n");
    Path test = PairReadersTest.write(dir.resolve("test.jsonl"), "{\"text\": \"c\", \"label\": \"pos\"}\n");
    Path bad = PairReadersTest.write(dir.resolve("bad.jsonl"), "{\"text\": \"c\", \"label\": \"pos\"}\n\n{\"text\": \"d\", \"label\": \"neutral\"}\n");
    TextClassificationDataset trainSet = ClassificationReaders.read(train, BadLines.fail());
    TextClassificationDataset testSet = ClassificationReaders.read(test, trainSet.labelMap(), BadLines.fail());
    assertEquals(trainSet.labelMap(), testSet.labelMap());  // its own map would be just [pos]
    assertEquals(1, testSet.labelId(0));
    // Never dropped, even when skipping bad lines: an unknown label is a wrong split or a wrong map.
    MtpfException e = assertThrows(MtpfException.class, () -> ClassificationReaders.read(bad, trainSet.labelMap(), BadLines.skip()));
    assertEquals(bad + ":3: label 'neutral' is not in the training split's label map [neg, pos]", e.getMessage());
  }

  // ---- real data (../shared/data): counts from each folder's README.md ----

  /** folder, training split, other split (or null), examples in the other (or the training) split, labels, label counts. */
  static Stream<Arguments> realSplits() {
    return Stream.of(
        Arguments.of("ag_news", "train_subset.jsonl.gz", null, 8000, 4, Map.of("World", 2000, "Sports", 2000, "Business", 2000, "Sci/Tech", 2000)),
        Arguments.of("ag_news", "train_subset.jsonl.gz", "test.jsonl.gz", 7600, 4, Map.of("Business", 1900, "Sci/Tech", 1900, "Sports", 1900, "World", 1900)),
        Arguments.of("amazon_counterfactual_en", "train.jsonl.gz", null, 4018, 2, Map.of("0", 3253, "1", 765)),
        Arguments.of("amazon_counterfactual_en", "train.jsonl.gz", "validation.jsonl.gz", 335, 2, Map.of("0", 277, "1", 58)),
        Arguments.of("amazon_counterfactual_en", "train.jsonl.gz", "test.jsonl.gz", 670, 2, Map.of("0", 539, "1", 131)),
        Arguments.of("amazon_counterfactual_en_ext", "train.jsonl.gz", null, 8000, 2, Map.of("0", 7176, "1", 824)),
        Arguments.of("amazon_counterfactual_en_ext", "train.jsonl.gz", "validation.jsonl.gz", 666, 2, Map.of("0", 599, "1", 67)),
        Arguments.of("amazon_counterfactual_en_ext", "train.jsonl.gz", "test.jsonl.gz", 1334, 2, Map.of("0", 1195, "1", 139)),
        Arguments.of("banking77", "train.jsonl.gz", null, 10003, 77, null),
        Arguments.of("banking77", "train.jsonl.gz", "test.jsonl.gz", 3080, 77, null),
        Arguments.of("emotion", "train.jsonl.gz", null, 16000, 6,
            Map.of("joy", 5362, "sadness", 4666, "anger", 2159, "fear", 1937, "love", 1304, "surprise", 572)),
        Arguments.of("emotion", "train.jsonl.gz", "validation.jsonl.gz", 2000, 6,
            Map.of("joy", 704, "sadness", 550, "anger", 275, "fear", 212, "love", 178, "surprise", 81)),
        Arguments.of("emotion", "train.jsonl.gz", "test.jsonl.gz", 2000, 6,
            Map.of("joy", 695, "sadness", 581, "anger", 275, "fear", 224, "love", 159, "surprise", 66)),
        Arguments.of("financial_phrasebank", "sentences_allagree.jsonl.gz", null, 2264, 3, Map.of("neutral", 1391, "positive", 570, "negative", 303)),
        Arguments.of("financial_phrasebank", "sentences_75agree.jsonl.gz", null, 3453, 3, Map.of("neutral", 2146, "positive", 887, "negative", 420)),
        Arguments.of("financial_phrasebank", "sentences_66agree.jsonl.gz", null, 4217, 3, Map.of("neutral", 2535, "positive", 1168, "negative", 514)),
        Arguments.of("financial_phrasebank", "sentences_50agree.jsonl.gz", null, 4846, 3, Map.of("neutral", 2879, "positive", 1363, "negative", 604)),
        // 60 intents in train; validation and test use 59 of them but keep train's 60 ids.
        Arguments.of("massive_intent_en", "train.jsonl.gz", null, 11514, 60, null),
        Arguments.of("massive_intent_en", "train.jsonl.gz", "validation.jsonl.gz", 2033, 60, null),
        Arguments.of("massive_intent_en", "train.jsonl.gz", "test.jsonl.gz", 2974, 60, null),
        Arguments.of("toxic_chat_human", "train.jsonl.gz", null, 2801, 2, Map.of("0", 2417, "1", 384)),
        Arguments.of("toxic_chat_human", "train.jsonl.gz", "test.jsonl.gz", 2853, 2, Map.of("0", 2491, "1", 362)),
        Arguments.of("tweet_sentiment_extraction", "train.jsonl.gz", null, 27480, 3, Map.of("neutral", 11117, "positive", 8582, "negative", 7781)),
        Arguments.of("tweet_sentiment_extraction", "train.jsonl.gz", "test.jsonl.gz", 3534, 3, Map.of("neutral", 1430, "positive", 1103, "negative", 1001)));
  }

  static final Map<String, TextClassificationDataset> TRAIN_SETS = new java.util.concurrent.ConcurrentHashMap<>();

  @ParameterizedTest(name = "{0}/{2}")
  @MethodSource("realSplits")
  void readsRealSplits(String folder, String trainSplit, String otherSplit, int size, int labels, Map<String, Integer> counts) {
    TextClassificationDataset train = TRAIN_SETS.computeIfAbsent(folder + "/" + trainSplit,
        f -> ClassificationReaders.read(NerReadersTest.dataFile(f), BadLines.fail()));
    TextClassificationDataset d = otherSplit == null ? train
        : ClassificationReaders.read(NerReadersTest.dataFile(folder + "/" + otherSplit), train.labelMap(), BadLines.fail());
    System.out.println("classification " + d.name() + ": " + d.size() + " texts, " + d.labelMap().size() + " labels");
    assertEquals(size, d.size());
    assertEquals(labels, d.labelMap().size());
    assertEquals(LabelMap.sorted(d.labelMap().names()), d.labelMap(), "sorted label order");
    if (counts != null) {
      Map<String, Integer> actual = new TreeMap<>();
      int[] byId = d.countsByLabel();
      for (int id = 0; id < byId.length; id++) actual.put(d.labelMap().name(id), byId[id]);
      assertEquals(new TreeMap<>(counts), actual);
    }
  }

  @Test
  void banking77CategoriesFileIsALabelMap() {
    LabelMap categories = LabelMap.load(NerReadersTest.dataFile("banking77/categories.json"));
    TextClassificationDataset train = ClassificationReaders.read(NerReadersTest.dataFile("banking77/train.jsonl.gz"), categories, BadLines.fail());
    assertEquals(77, categories.size());
    assertEquals(LabelMap.sorted(categories.names()), LabelMap.sorted(train.labelMap().names()));
  }

  @Test
  void anotherDatasetsMapFailsAtTheFirstUnknownLabel() {
    TextClassificationDataset emotion = ClassificationReaders.read(NerReadersTest.dataFile("emotion/validation.jsonl.gz"), BadLines.fail());
    Path news = NerReadersTest.dataFile("ag_news/test.jsonl.gz");
    MtpfException e = assertThrows(MtpfException.class, () -> ClassificationReaders.read(news, emotion.labelMap(), BadLines.fail()));
    assertTrue(e.getMessage().startsWith(news + ":1: label '"), e.getMessage());
  }
}
