package io.mtpf.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Jazzer fuzz tests of the tokenizer's inputs: tokenizer.json and vocab.txt as files, WordPiece on arbitrary text.
 * In a plain test run (regression mode) each replays its inputs under src/test/resources/.../TokenizerFuzzTestInputs
 * (seeds from real files, and every input that once failed); {@code JAZZER_FUZZ=1} fuzzes (scripts/fuzz-java.sh).
 * A file that does not load must be refused with an MtpfException naming it; anything else is a finding.
 */
class TokenizerFuzzTest {
  private static final Path DIR = tempDir();
  private static final WordPieceTokenizer TINY = tiny();

  @FuzzTest(maxDuration = "30s")
  void tokenizerJson(byte[] data) throws IOException {
    Path file = Files.write(DIR.resolve("tokenizer.json"), data);
    try {
      exercise(WordPieceTokenizer.fromTokenizerJson(file));
    } catch (MtpfException e) {
      assertNames(e, file);
    }
  }

  @FuzzTest(maxDuration = "30s")
  void vocabTxt(byte[] data) throws IOException {
    Path file = Files.write(DIR.resolve("vocab.txt"), data);
    for (boolean lowercase : new boolean[] {true, false}) {
      try {
        exercise(WordPieceTokenizer.fromVocab(file, lowercase));
      } catch (MtpfException e) {
        assertNames(e, file);
      }
    }
  }

  /** Any text (the bytes as UTF-8, malformed sequences replaced): encodings keep their invariants. */
  @FuzzTest(maxDuration = "30s")
  void wordPieceOnAnyText(byte[] data) {
    String text = new String(data, StandardCharsets.UTF_8);
    Encoding e = TINY.encode(text, 16);
    checkEncoding(e, text, 16);
    Encoding full = TINY.encode(text, Integer.MAX_VALUE);
    checkEncoding(full, text, Integer.MAX_VALUE);
    Encoding pair = TINY.encode(text, new StringBuilder(text).reverse().toString(), 24);
    assertTrue(pair.length() <= 24);
    List<String> words = List.of(text.split(" ", 8));
    Encoding w = TINY.encodeWords(words, 32);
    for (int i : w.firstSubtokenIndices()) assertTrue(i < 0 || i < w.length(), "first sub-token index in range");
  }

  private static void exercise(WordPieceTokenizer t) {
    for (String text : List.of("Hello, world! Don't", "naïve café 中文 😀", "", "a".repeat(300))) {
      checkEncoding(t.encode(text, 64), text, 64);
    }
  }

  private static void checkEncoding(Encoding e, String text, int maxLength) {
    assertTrue(e.length() <= maxLength, "truncated to the max length");
    assertEquals(e.length(), e.ids().length);
    assertEquals(e.length(), e.wordIds().length);
    int lastStart = 0;
    for (int i = 0; i < e.length(); i++) {
      assertTrue(e.ids()[i] >= 0, "ids are vocab rows");
      int s = e.charStart()[i], end = e.charEnd()[i];
      if (e.wordIds()[i] < 0) continue;  // special tokens have no span
      assertTrue(0 <= s && s <= end && end <= text.length(), "offsets inside the text: " + s + ".." + end);
      assertTrue(s >= lastStart, "offsets in order");
      lastStart = s;
    }
  }

  static void assertNames(MtpfException e, Path file) {
    assertTrue(e.getMessage() != null && e.getMessage().contains(file.getFileName().toString()),
        "the error names the file: " + e.getMessage());
  }

  private static Path tempDir() {
    try {
      Path d = Files.createTempDirectory("mtpf-fuzz-tokenizer");
      d.toFile().deleteOnExit();
      return d;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static WordPieceTokenizer tiny() {
    try {
      return WordPieceTokenizer.fromTokenizerJson(TinyVocab.tokenizerJson(DIR, TinyVocab.BERT_NORMALIZER,
          TinyVocab.TEMPLATE));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
