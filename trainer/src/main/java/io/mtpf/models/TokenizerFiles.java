package io.mtpf.models;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tokenizer files of a HF BERT folder, derived from a WordPiece tokenizer.json: vocab.txt (tokens by id),
 * tokenizer_config.json and special_tokens_map.json, and tokenizer.json itself without fixed padding/truncation.
 */
public final class TokenizerFiles {
  private static final ObjectMapper JSON = new ObjectMapper();

  // The BERT special tokens, keyed as special_tokens_map.json names them.
  private static final Map<String, String> SPECIAL = new LinkedHashMap<>();

  static {
    SPECIAL.put("unk_token", "[UNK]");
    SPECIAL.put("sep_token", "[SEP]");
    SPECIAL.put("pad_token", "[PAD]");
    SPECIAL.put("cls_token", "[CLS]");
    SPECIAL.put("mask_token", "[MASK]");
  }

  private final String source;
  private final JsonNode root;
  private final List<String> vocab;

  private TokenizerFiles(String source, JsonNode root, List<String> vocab) {
    this.source = source;
    this.root = root;
    this.vocab = vocab;
  }

  /** Parses tokenizer.json; {@code source} names it in error messages. */
  public static TokenizerFiles parse(byte[] tokenizerJson, String source) {
    JsonNode root;
    try {
      root = JSON.readTree(tokenizerJson);
    } catch (JsonProcessingException e) {
      throw new ModelImportException(source + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
    } catch (IOException e) {
      throw new ModelImportException(source + ": cannot read (" + e.getMessage() + ")", e);
    }
    JsonNode model = root.path("model");
    if (!model.path("type").asText("").equals("WordPiece") || !model.path("vocab").isObject()) {
      throw new ModelImportException(source + ": not a WordPiece tokenizer.json (model.type "
          + model.path("type").asText("absent") + ")");
    }
    JsonNode vocabNode = model.get("vocab");
    String[] byId = new String[vocabNode.size()];
    for (Map.Entry<String, JsonNode> e : vocabNode.properties()) {
      int id = e.getValue().asInt(-1);
      if (id < 0 || id >= byId.length || byId[id] != null) {
        throw new ModelImportException(source + ": vocab ids are not 0.." + (byId.length - 1)
            + " each once (token '" + e.getKey() + "' has id " + e.getValue() + ")");
      }
      byId[id] = e.getKey();
    }
    return new TokenizerFiles(source, root, List.of(byId));
  }

  public int vocabSize() {
    return vocab.size();
  }

  /** Whether the normalizer lowercases (BertNormalizer.lowercase, or a Lowercase step in a Sequence). */
  public boolean doLowerCase() {
    JsonNode n = root.path("normalizer");
    if (n.path("type").asText("").equals("BertNormalizer")) return n.path("lowercase").asBoolean(false);
    if (n.path("type").asText("").equals("Sequence")) {
      for (JsonNode step : n.path("normalizers")) {
        if (step.path("type").asText("").equals("Lowercase")) return true;
        if (step.path("type").asText("").equals("BertNormalizer") && step.path("lowercase").asBoolean(false)) {
          return true;
        }
      }
    }
    return false;
  }

  /** vocab.txt: one token per line, line i holding id i. */
  public byte[] vocabTxt() {
    StringBuilder sb = new StringBuilder(vocab.size() * 8);
    for (String token : vocab) sb.append(token).append('\n');
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** special_tokens_map.json: the BERT special tokens this vocabulary has. */
  public Map<String, String> specialTokens() {
    Map<String, String> m = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : SPECIAL.entrySet()) {
      String token = e.getKey().equals("unk_token") ? root.path("model").path("unk_token").asText(e.getValue())
          : e.getValue();
      if (vocab.contains(token)) m.put(e.getKey(), token);
    }
    return m;
  }

  /** tokenizer_config.json for HF's BertTokenizer(Fast). */
  public Map<String, Object> tokenizerConfig(int modelMaxLength) {
    JsonNode n = root.path("normalizer");
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("tokenizer_class", "BertTokenizer");
    m.put("do_lower_case", doLowerCase());
    m.put("do_basic_tokenize", true);
    m.put("tokenize_chinese_chars", n.path("handle_chinese_chars").asBoolean(true));
    m.put("strip_accents", n.path("strip_accents").isBoolean() ? n.get("strip_accents").asBoolean() : null);
    m.put("never_split", null);
    m.put("model_max_length", modelMaxLength);
    m.put("clean_up_tokenization_spaces", true);
    m.putAll(specialTokens());
    return m;
  }

  /** The settings {@link #tokenizerJson} clears, with the values they had. */
  public Map<String, JsonNode> clearedSettings() {
    Map<String, JsonNode> cleared = new LinkedHashMap<>();
    for (String key : List.of("padding", "truncation")) {
      if (root.hasNonNull(key)) cleared.put(key, root.get(key));
    }
    return cleared;
  }

  /**
   * tokenizer.json, byte for byte unless it fixes padding or truncation (all-MiniLM-L6-v2's pads every input to
   * 128): those are cleared, because the trainer chooses sequence lengths and HF tokenizers would apply them to
   * every call.
   */
  public byte[] tokenizerJson(byte[] original) throws IOException {
    if (clearedSettings().isEmpty()) return original;
    ObjectNode copy = root.deepCopy();
    copy.putNull("padding");
    copy.putNull("truncation");
    return JSON.writeValueAsBytes(copy);
  }

  public String source() {
    return source;
  }
}
