package io.mtpf.tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A handmade BERT vocab for unit tests, written as vocab.txt or as an HF tokenizer.json. */
final class TinyVocab {
  private TinyVocab() {}

  static final List<String> TOKENS = List.of(
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
      "hello", "world", ",", "!", ".", "'", "$", "5", "cafe", "naive", "un", "##aff", "##able", "中", "文",
      "don", "t", "the", "a", "##a", "play", "##ing", "new", "york", "Hello", "é", "😀", "[", "]");

  static int id(String token) {
    return TOKENS.indexOf(token);
  }

  static Path vocabTxt(Path dir) throws IOException {
    Path p = dir.resolve("vocab.txt");
    Files.write(p, TOKENS, StandardCharsets.UTF_8);
    return p;
  }

  /** tokenizer.json as HF writes it for BERT; postProcessor is the "post_processor" JSON value. */
  static Path tokenizerJson(Path dir, String normalizer, String postProcessor) throws IOException {
    StringBuilder vocab = new StringBuilder();
    for (int i = 0; i < TOKENS.size(); i++) {
      if (i > 0) vocab.append(", ");
      vocab.append('"').append(TOKENS.get(i)).append("\": ").append(i);
    }
    StringBuilder added = new StringBuilder();
    for (int i = 0; i < 5; i++) {
      if (i > 0) added.append(", ");
      added.append("{\"id\": ").append(i).append(", \"content\": \"").append(TOKENS.get(i))
          .append("\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}");
    }
    String json = "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,\n"
        + " \"added_tokens\": [" + added + "],\n"
        + " \"normalizer\": " + normalizer + ",\n"
        + " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},\n"
        + " \"post_processor\": " + postProcessor + ",\n"
        + " \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true},\n"
        + " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\","
        + " \"max_input_chars_per_word\": 100, \"vocab\": {" + vocab + "}}}";
    Path p = dir.resolve("tokenizer.json");
    Files.writeString(p, json);
    return p;
  }

  static final String BERT_NORMALIZER =
      "{\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true, \"strip_accents\": null, \"lowercase\": true}";

  static final String TEMPLATE = "{\"type\": \"TemplateProcessing\","
      + " \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
      + " {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}],"
      + " \"pair\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
      + " {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}},"
      + " {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 1}}],"
      + " \"special_tokens\": {\"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [2], \"tokens\": [\"[CLS]\"]},"
      + " \"[SEP]\": {\"id\": \"[SEP]\", \"ids\": [3], \"tokens\": [\"[SEP]\"]}}}";

  static final String BERT_PROCESSING = "{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3], \"cls\": [\"[CLS]\", 2]}";
}
