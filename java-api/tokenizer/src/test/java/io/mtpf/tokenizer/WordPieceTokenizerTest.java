package io.mtpf.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Tokenization rules on a handmade vocab; TokenizerParityTest (tests module) checks the same against HF on real data. */
class WordPieceTokenizerTest {
  @TempDir static Path dir;
  static WordPieceTokenizer uncased;
  static WordPieceTokenizer cased;

  @BeforeAll
  static void load() throws IOException {
    Path vocab = TinyVocab.vocabTxt(dir);
    uncased = WordPieceTokenizer.fromVocab(vocab, true);
    cased = WordPieceTokenizer.fromVocab(vocab, false);
  }

  /** Input, expected tokens (special tokens included), expected word ids. */
  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("Hello, World!", "[CLS] hello , world ! [SEP]", "-1 0 1 2 3 -1"),
        Arguments.of("Café NAÏVE", "[CLS] cafe naive [SEP]", "-1 0 1 -1"), // NFD, drop marks, lowercase
        Arguments.of("unaffable", "[CLS] un ##aff ##able [SEP]", "-1 0 0 0 -1"), // greedy longest match
        Arguments.of("中文字", "[CLS] 中 文 [UNK] [SEP]", "-1 0 1 2 -1"), // each CJK ideograph is a word
        Arguments.of("hello\u00a0world\u200b!", "[CLS] hello world ! [SEP]", "-1 0 1 2 -1"), // no-break space, zero-width
        Arguments.of("a\u0000\u0007a\ta", "[CLS] a ##a a [SEP]", "-1 0 0 1 -1"), // controls dropped, tab is whitespace
        Arguments.of("don't", "[CLS] don ' t [SEP]", "-1 0 1 2 -1"),
        Arguments.of("$5.", "[CLS] $ 5 . [SEP]", "-1 0 1 2 -1"), // ASCII symbols count as punctuation
        Arguments.of("unxyz", "[CLS] [UNK] [SEP]", "-1 0 -1"), // one unknown piece: the whole word is [UNK]
        Arguments.of("a".repeat(100), "[CLS] a" + " ##a".repeat(99) + " [SEP]", "-1" + " 0".repeat(100) + " -1"),
        Arguments.of("a".repeat(101) + " a", "[CLS] [UNK] a [SEP]", "-1 0 1 -1"), // over max_input_chars_per_word
        Arguments.of("hello [SEP] world [sep]", "[CLS] hello [SEP] world [ [UNK] ] [SEP]", "-1 0 1 2 3 4 5 -1"),
        Arguments.of("😀 play", "[CLS] 😀 play [SEP]", "-1 0 1 -1"),
        Arguments.of("", "[CLS] [SEP]", "-1 -1"));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void tokenizes(String text, String tokens, String wordIds) {
    Encoding e = uncased.encode(text);
    assertEquals(tokens, String.join(" ", e.tokens()));
    assertEquals(wordIds, join(e.wordIds()));
    for (int i = 0; i < e.length(); i++) assertEquals(TinyVocab.TOKENS.indexOf(e.tokens()[i]), e.id(i), "id of " + e.tokens()[i]);
    assertArrayEquals(new int[e.length()], e.typeIds());
  }

  @Test
  void casedKeepsCaseAndAccents() {
    assertEquals("[CLS] Hello hello [UNK] é [SEP]", String.join(" ", cased.encode("Hello hello HELLO é").tokens()));
  }

  @Test
  void offsetsPointIntoTheOriginalText() {
    String text = "Unaffable  Café, 中文 😀!";
    Encoding e = uncased.encode(text);
    String[] expected = {"", "Un", "aff", "able", "Café", ",", "中", "文", "😀", "!", ""};
    for (int i = 0; i < e.length(); i++) {
      assertEquals(expected[i], text.substring(e.charStart()[i], e.charEnd()[i]), "token " + e.tokens()[i]);
    }
    assertEquals(0, e.charStart()[0]);
    assertEquals(0, e.charEnd()[e.length() - 1]); // specials: 0, 0
  }

  @Test
  void pairGetsTypeIdsAndSequenceIds() {
    Encoding e = uncased.encode("hello world", "play");
    assertEquals("[CLS] hello world [SEP] play [SEP]", String.join(" ", e.tokens()));
    assertEquals("0 0 0 0 1 1", join(e.typeIds()));
    assertEquals("-1 0 0 -1 1 -1", join(e.sequenceIds()));
    assertEquals("-1 0 1 -1 0 -1", join(e.wordIds())); // word ids restart in the second text
    assertEquals("0 0 6 0 0 0", join(e.charStart())); // offsets are within each text
  }

  /** Pair lengths (in tokens, before specials), max length, expected kept lengths: HF's longest_first. */
  static Stream<Arguments> pairTruncation() {
    return Stream.of(
        Arguments.of(5, 1, 7, 3, 1), // the longer one alone gives way
        Arguments.of(5, 4, 9, 3, 3), // both cut to half
        Arguments.of(5, 4, 10, 4, 3), // the longer keeps the odd token
        Arguments.of(4, 5, 10, 3, 4),
        Arguments.of(2, 2, 7, 2, 2), // fits
        Arguments.of(6, 6, 3, 0, 0)); // room for the specials only
  }

  @ParameterizedTest
  @MethodSource("pairTruncation")
  void truncatesPairsLongestFirst(int lenA, int lenB, int maxLength, int keptA, int keptB) {
    Encoding e = uncased.encode("hello ".repeat(lenA), "play ".repeat(lenB), maxLength);
    assertEquals(keptA + keptB + 3, e.length());
    int[] seq = e.sequenceIds();
    assertEquals(keptA, count(seq, 0));
    assertEquals(keptB, count(seq, 1));
  }

  @Test
  void truncatesSingleTextsToMaxLength() {
    WordPieceTokenizer t = uncased.withMaxLength(5);
    assertEquals(5, t.maxLength());
    assertEquals("[CLS] hello world hello [SEP]", String.join(" ", t.encode("hello world hello world").tokens()));
    assertEquals("[CLS] un ##aff [SEP]", String.join(" ", uncased.encode("unaffable", 4).tokens())); // mid-word
    assertEquals(512, uncased.maxLength());
    assertEquals(512, uncased.encode("a ".repeat(798)).length()); // the default
    assertEquals(800, uncased.encode("a ".repeat(798), Integer.MAX_VALUE).length());
    assertThrows(IllegalArgumentException.class, () -> uncased.withMaxLength(1));
    assertThrows(IllegalArgumentException.class, () -> uncased.encode("a", "b", 2));
  }

  @Test
  void preSplitWordsKeepTheirIndex() {
    List<String> words = List.of("Hello", "don't", "\u200b", "unaffable", "[SEP]");
    Encoding e = uncased.encodeWords(words);
    assertEquals("[CLS] hello don ' t un ##aff ##able [SEP] [SEP]", String.join(" ", e.tokens()));
    assertEquals("-1 0 1 1 1 3 3 3 4 -1", join(e.wordIds()));
    assertEquals("0 0 0 3 4 0 2 5 0 0", join(e.charStart())); // offsets within each word
    assertEquals(5, e.wordCount());
    assertArrayEquals(new int[] {1, 2, -1, 5, 8}, e.firstSubtokenIndices()); // the zero-width word has no token
    assertArrayEquals(new int[] {-100, 10, 11, -100, -100, 13, -100, -100, 14, -100}, e.tokenLabels(new int[] {10, 11, 12, 13, 14}));
    assertThrows(IllegalArgumentException.class, () -> e.tokenLabels(new int[] {1}));

    Encoding cut = uncased.encodeWords(words, 6); // [CLS] hello don ' t [SEP]
    assertArrayEquals(new int[] {1, 2, -1, -1, -1}, cut.firstSubtokenIndices());
  }

  @Test
  void batchPadsToTheLongestRowMajor() {
    Batch b = uncased.encodeBatch(List.of("hello", "hello world !"));
    assertEquals(2, b.batchSize());
    assertEquals(5, b.seqLen());
    assertArrayEquals(new long[] {2, 5, 3, 0, 0, 2, 5, 6, 8, 3}, b.inputIds());
    assertArrayEquals(new long[] {1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, b.attentionMask());
    assertArrayEquals(new long[10], b.tokenTypeIds());

    Batch pair = Batch.pad(List.of(uncased.encode("hello", "world")), 7);
    assertArrayEquals(new long[] {0, 0, 0, 1, 1}, pair.tokenTypeIds());
    assertEquals(0, Batch.pad(List.of(), 0).seqLen());
  }

  @Test
  void encodingsAreImmutable() {
    Encoding e = uncased.encode("hello");
    e.ids()[1] = 99;
    e.tokens()[1] = "x";
    assertEquals(5, e.id(1));
    assertEquals("hello", e.tokens()[1]);
  }

  @Test
  void looksUpTokens() {
    assertEquals(TinyVocab.TOKENS.size(), uncased.vocabSize());
    assertEquals(3, uncased.tokenToId("[SEP]"));
    assertEquals(-1, uncased.tokenToId("nope"));
    assertEquals("##aff", uncased.idToToken(16));
    assertEquals(0, uncased.padId());
  }

  private static int count(int[] a, int v) {
    int n = 0;
    for (int x : a) if (x == v) n++;
    return n;
  }

  private static String join(int[] a) {
    StringBuilder b = new StringBuilder();
    for (int x : a) b.append(b.length() == 0 ? "" : " ").append(x);
    return b.toString();
  }
}
