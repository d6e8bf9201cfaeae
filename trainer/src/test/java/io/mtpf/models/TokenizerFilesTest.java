package io.mtpf.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TokenizerFilesTest {
  // Vocab keys out of id order, as tokenizer.json may list them.
  static final String TOKENIZER = """
      {"version": "1.0",
       "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
       "padding": {"strategy": {"Fixed": 128}, "pad_id": 0, "pad_token": "[PAD]"},
       "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                      "strip_accents": null, "lowercase": true},
       "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                 "vocab": {"[PAD]": 0, "hello": 5, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "##lo": 6}}}
      """;

  @Test
  void vocabTxtListsTokensById() {
    TokenizerFiles t = TokenizerFiles.parse(TOKENIZER.getBytes(StandardCharsets.UTF_8), "tok.json");
    assertEquals(7, t.vocabSize());
    assertEquals("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##lo\n",
        new String(t.vocabTxt(), StandardCharsets.UTF_8));
  }

  @Test
  void configFollowsTheNormalizer() {
    TokenizerFiles t = TokenizerFiles.parse(TOKENIZER.getBytes(StandardCharsets.UTF_8), "tok.json");
    var config = t.tokenizerConfig(512);
    assertEquals(true, config.get("do_lower_case"));
    assertEquals(512, config.get("model_max_length"));
    assertEquals("BertTokenizer", config.get("tokenizer_class"));
    assertEquals(List.of("unk_token", "sep_token", "pad_token", "cls_token", "mask_token"),
        List.copyOf(t.specialTokens().keySet()));
    assertEquals("[MASK]", t.specialTokens().get("mask_token"));

    String cased = TOKENIZER.replace("\"lowercase\": true", "\"lowercase\": false");
    assertEquals(false, TokenizerFiles.parse(cased.getBytes(StandardCharsets.UTF_8), "t").doLowerCase());
  }

  @Test
  void fixedPaddingAndTruncationAreCleared() throws Exception {
    byte[] original = TOKENIZER.getBytes(StandardCharsets.UTF_8);
    TokenizerFiles t = TokenizerFiles.parse(original, "tok.json");
    assertEquals(List.of("padding", "truncation"), List.copyOf(t.clearedSettings().keySet()));
    JsonNode written = new ObjectMapper().readTree(t.tokenizerJson(original));
    assertTrue(written.get("padding").isNull());
    assertTrue(written.get("truncation").isNull());
    assertEquals(7, written.path("model").path("vocab").size());

    byte[] plain = TOKENIZER.replaceFirst("\"truncation\": \\{[^}]*\\}", "\"truncation\": null")
        .replaceFirst("\"padding\": \\{.*\"\\[PAD\\]\"\\}", "\"padding\": null").getBytes(StandardCharsets.UTF_8);
    TokenizerFiles untouched = TokenizerFiles.parse(plain, "tok.json");
    assertTrue(untouched.clearedSettings().isEmpty());
    assertArrayEquals(plain, untouched.tokenizerJson(plain), "copied byte for byte");
  }

  @Test
  void badInputsAreNamed() {
    String gap = TOKENIZER.replace("\"##lo\": 6", "\"##lo\": 9");
    ModelImportException e = assertThrows(ModelImportException.class,
        () -> TokenizerFiles.parse(gap.getBytes(StandardCharsets.UTF_8), "tok.json"));
    assertEquals("tok.json: vocab ids are not 0..6 each once (token '##lo' has id 9)", e.getMessage());

    String bpe = TOKENIZER.replace("\"WordPiece\"", "\"BPE\"");
    e = assertThrows(ModelImportException.class,
        () -> TokenizerFiles.parse(bpe.getBytes(StandardCharsets.UTF_8), "tok.json"));
    assertEquals("tok.json: not a WordPiece tokenizer.json (model.type BPE)", e.getMessage());

    e = assertThrows(ModelImportException.class,
        () -> TokenizerFiles.parse("{\"model\": ".getBytes(StandardCharsets.UTF_8), "tok.json"));
    assertTrue(e.getMessage().startsWith("tok.json: not valid JSON"), e.getMessage());
  }
}
