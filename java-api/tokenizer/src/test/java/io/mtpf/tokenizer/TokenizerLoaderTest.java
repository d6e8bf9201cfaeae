package io.mtpf.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Loading from tokenizer.json, vocab.txt and model folders, and the errors for files we cannot use. */
class TokenizerLoaderTest {
  @TempDir Path dir;

  private static final String TEXT = "Unaffable Café, [SEP] don't!";

  @Test
  void tokenizerJsonAndVocabTxtAgree() throws IOException {
    Encoding fromVocab = WordPieceTokenizer.fromVocab(TinyVocab.vocabTxt(dir), true).encode(TEXT, "hello world");
    for (String post : new String[] {TinyVocab.TEMPLATE, TinyVocab.BERT_PROCESSING}) {
      Path json = TinyVocab.tokenizerJson(Files.createTempDirectory(dir, "t"), TinyVocab.BERT_NORMALIZER, post);
      Encoding fromJson = WordPieceTokenizer.fromTokenizerJson(json).encode(TEXT, "hello world");
      assertArrayEquals(fromVocab.tokens(), fromJson.tokens());
      assertArrayEquals(fromVocab.ids(), fromJson.ids());
      assertArrayEquals(fromVocab.typeIds(), fromJson.typeIds());
      assertArrayEquals(fromVocab.charStart(), fromJson.charStart());
    }
  }

  @Test
  void noPostProcessorAddsNoSpecialTokens() throws IOException {
    Path json = TinyVocab.tokenizerJson(dir, TinyVocab.BERT_NORMALIZER, "null");
    Encoding e = WordPieceTokenizer.fromTokenizerJson(json).encode("hello", "world");
    assertEquals("hello world", String.join(" ", e.tokens()));
    assertArrayEquals(new int[] {0, 1}, e.typeIds());
  }

  @Test
  void folderPrefersTokenizerJsonAndTakesModelMaxLength() throws IOException {
    TinyVocab.vocabTxt(dir);
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"do_lower_case\": false, \"model_max_length\": 8}");
    WordPieceTokenizer fromVocab = WordPieceTokenizer.fromFolder(dir);
    assertEquals(8, fromVocab.maxLength());
    assertEquals("[CLS] Hello [UNK] [SEP]", String.join(" ", fromVocab.encode("Hello HELLO").tokens())); // cased

    TinyVocab.tokenizerJson(dir, TinyVocab.BERT_NORMALIZER, TinyVocab.TEMPLATE); // lowercases
    WordPieceTokenizer fromJson = WordPieceTokenizer.fromFolder(dir);
    assertEquals(8, fromJson.maxLength());
    assertEquals("[CLS] hello hello [SEP]", String.join(" ", fromJson.encode("Hello HELLO").tokens()));

    // HF's "no limit" sentinel is not a limit: the default 512 applies.
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 1000000000000000019884624838656}");
    assertEquals(512, WordPieceTokenizer.fromFolder(dir).maxLength());
  }

  @Test
  void tokenizerJsonTruncationSetsMaxLength() throws IOException {
    Path json = TinyVocab.tokenizerJson(dir, TinyVocab.BERT_NORMALIZER, TinyVocab.TEMPLATE);
    String text = Files.readString(json).replace("\"truncation\": null",
        "\"truncation\": {\"direction\": \"Right\", \"max_length\": 4, \"strategy\": \"LongestFirst\", \"stride\": 0}");
    Files.writeString(json, text);
    WordPieceTokenizer t = WordPieceTokenizer.fromTokenizerJson(json);
    assertEquals(4, t.maxLength());
    assertEquals("[CLS] hello world [SEP]", String.join(" ", t.encode("hello world play").tokens()));

    Files.writeString(json, text.replace("\"Right\"", "\"Left\""));
    assertEquals("[CLS] world play [SEP]", String.join(" ", WordPieceTokenizer.fromTokenizerJson(json).encode("hello world play").tokens()));
  }

  /** A file we refuse, and words its error message must contain (besides the path). */
  static Stream<Arguments> badFiles() {
    String ok = "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0, \"a\": 1}}";
    return Stream.of(
        Arguments.of("{ \"model\": ", "malformed JSON"),
        Arguments.of("[1, 2]", "not a JSON object"),
        Arguments.of("{\"version\": \"1.0\"}", "no \"model\""),
        Arguments.of("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", "model type 'BPE' is not supported"),
        Arguments.of("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", "unk_token [UNK] is not in model.vocab"),
        Arguments.of("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": \"zero\"}}}", "'[UNK]' has no integer id"),
        Arguments.of("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1333333333333}}}",
            "model.vocab entry 'a' has no integer id in [0, 2147483647]: 1333333333333"),
        Arguments.of(ok + ", \"padding\": {\"pad_id\": \"0\"}}", "padding.pad_id has no integer id"),
        Arguments.of(ok + ", \"added_tokens\": [{\"id\": -1, \"content\": \"[X]\"}]}", "added_tokens entry '[X]' has no integer id"),
        Arguments.of(ok + ", \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": []}}", "normalizer type 'Sequence' is not supported"),
        Arguments.of(ok + ", \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "pre_tokenizer type 'ByteLevel' is not supported"),
        Arguments.of(ok + ", \"post_processor\": {\"type\": \"RobertaProcessing\"}}", "post_processor type 'RobertaProcessing'"),
        Arguments.of(ok + ", \"truncation\": {\"max_length\": 8, \"strategy\": \"OnlyFirst\"}}", "truncation strategy 'OnlyFirst'"));
  }

  @ParameterizedTest
  @MethodSource("badFiles")
  void refusesBadTokenizerJson(String content, String reason) throws IOException {
    Path json = dir.resolve("tokenizer.json");
    Files.writeString(json, content);
    TokenizerException e = assertThrows(TokenizerException.class, () -> WordPieceTokenizer.fromTokenizerJson(json));
    assertTrue(e.getMessage().startsWith(json.toString()), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  /** Ids need not be dense (HF allows any u32): a vocab with one id near 2^31 loads without an array that large. */
  @Test
  void sparseIdsLoad() throws IOException {
    Path json = dir.resolve("tokenizer.json");
    Files.writeString(json, "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
        + "\"vocab\": {\"[UNK]\": 0, \"play\": 2147483000, \"##ing\": 7}}}");
    WordPieceTokenizer t = WordPieceTokenizer.fromTokenizerJson(json);
    Encoding e = t.encode("playing", Integer.MAX_VALUE);
    assertArrayEquals(new String[] {"play", "##ing"}, e.tokens());
    assertArrayEquals(new int[] {2147483000, 7}, e.ids());
    assertEquals("play", t.idToToken(2147483000));
  }

  @Test
  void missingFilesNameThePath() {
    Path json = dir.resolve("nope/tokenizer.json");
    TokenizerException e = assertThrows(TokenizerException.class, () -> WordPieceTokenizer.fromTokenizerJson(json));
    assertEquals(json + ": file not found", e.getMessage());

    Path vocab = dir.resolve("vocab.txt");
    e = assertThrows(TokenizerException.class, () -> WordPieceTokenizer.fromVocab(vocab, true));
    assertEquals(vocab + ": file not found", e.getMessage());

    e = assertThrows(TokenizerException.class, () -> WordPieceTokenizer.fromFolder(dir));
    assertEquals(dir + ": no tokenizer.json and no vocab.txt in this folder", e.getMessage());

    e = assertThrows(TokenizerException.class, () -> WordPieceTokenizer.fromFolder(dir.resolve("absent")));
    assertTrue(e.getMessage().contains("not a folder"), e.getMessage());
  }

  @Test
  void vocabWithoutSpecialTokensIsRefused() throws IOException {
    Path vocab = dir.resolve("vocab.txt");
    Files.writeString(vocab, "[UNK]\nhello\n");
    TokenizerException e = assertThrows(TokenizerException.class, () -> WordPieceTokenizer.fromVocab(vocab, true));
    assertEquals(vocab + ": special token [CLS] is not in the vocab", e.getMessage());
  }
}
