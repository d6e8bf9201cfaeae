package io.mtpf.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Reads HF tokenizer files: tokenizer.json (the fast tokenizer's full description), or vocab.txt plus
 * tokenizer_config.json (the slow BertTokenizer's). Anything that is not BERT's pipeline is refused by name.
 */
final class TokenizerLoader {
  private TokenizerLoader() {}

  static final int DEFAULT_MAX_LENGTH = 512;
  /** Larger model_max_length values are HF's "no limit" sentinel (1e30), not a real limit. */
  private static final long MAX_SANE_LENGTH = 1_000_000;
  private static final String[] BERT_SPECIALS = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

  static WordPieceTokenizer fromFolder(Path dir) {
    if (!Files.isDirectory(dir)) throw error(dir, "not a folder (expected an HF model folder with tokenizer.json or vocab.txt)");
    Path json = dir.resolve("tokenizer.json");
    Path vocab = dir.resolve("vocab.txt");
    Path configFile = dir.resolve("tokenizer_config.json");
    JsonNode config = Files.exists(configFile) ? readJson(configFile) : null;
    // As a double: HF's sentinel does not fit a long (asLong would wrap it).
    double modelMax = config == null ? 0 : config.path("model_max_length").asDouble(0);
    boolean saneMax = modelMax > 0 && modelMax <= MAX_SANE_LENGTH;
    if (Files.exists(json)) {
      WordPieceTokenizer t = fromTokenizerJson(json);
      return saneMax ? t.withMaxLength((int) modelMax) : t;
    }
    if (!Files.exists(vocab)) throw error(dir, "no tokenizer.json and no vocab.txt in this folder");
    boolean lowercase = config == null || config.path("do_lower_case").asBoolean(true);
    Boolean stripAccents = config == null || !config.path("strip_accents").isBoolean() ? null : config.get("strip_accents").asBoolean();
    boolean chinese = config == null || config.path("tokenize_chinese_chars").asBoolean(true);
    String[] specials = BERT_SPECIALS.clone();
    String[] keys = {"pad_token", "unk_token", "cls_token", "sep_token", "mask_token"};
    for (int i = 0; i < keys.length && config != null; i++) {
      JsonNode v = config.get(keys[i]);
      if (v != null && v.isTextual()) specials[i] = v.asText();
      if (v != null && v.isObject() && v.path("content").isTextual()) specials[i] = v.get("content").asText();
    }
    return fromVocab(vocab, BertNormalizer.of(true, chinese, stripAccents, lowercase), specials,
        saneMax ? (int) modelMax : DEFAULT_MAX_LENGTH);
  }

  static WordPieceTokenizer fromVocab(Path vocabTxt, boolean lowercase) {
    return fromVocab(vocabTxt, BertNormalizer.of(true, true, null, lowercase), BERT_SPECIALS, DEFAULT_MAX_LENGTH);
  }

  /** @param specials pad, unk, cls, sep, mask */
  private static WordPieceTokenizer fromVocab(Path vocabTxt, BertNormalizer normalizer, String[] specials, int maxLength) {
    Map<String, Integer> vocab = new HashMap<>();
    try (BufferedReader in = Files.newBufferedReader(vocabTxt, StandardCharsets.UTF_8)) {
      int id = 0;
      for (String line = in.readLine(); line != null; line = in.readLine()) vocab.put(line, id++); // later duplicates win, as in HF
    } catch (NoSuchFileException e) {
      throw error(vocabTxt, "file not found");
    } catch (IOException e) {
      throw new TokenizerException(vocabTxt + ": cannot read: " + e.getMessage(), e);
    }
    if (vocab.isEmpty()) throw error(vocabTxt, "empty vocab");
    String pad = specials[0], unk = specials[1], cls = specials[2], sep = specials[3];
    for (String needed : new String[] {unk, cls, sep}) {
      if (!vocab.containsKey(needed)) throw error(vocabTxt, "special token " + needed + " is not in the vocab");
    }
    List<AddedToken> added = new ArrayList<>();
    for (String s : specials) {
      if (vocab.containsKey(s)) added.add(new AddedToken(vocab.get(s), s, true, false, false, false, false));
    }
    WordPieceModel model = new WordPieceModel(vocab, unk, "##", 100);
    TemplateProcessor template = TemplateProcessor.bert(vocab.get(cls), cls, vocab.get(sep), sep);
    int padId = vocab.getOrDefault(pad, 0);
    return build(normalizer, true, model, added, template, maxLength, false, padId, vocabTxt.toString());
  }

  static WordPieceTokenizer fromTokenizerJson(Path file) {
    JsonNode root = readJson(file);
    JsonNode modelNode = root.get("model");
    if (modelNode == null || !modelNode.isObject()) throw error(file, "no \"model\" object");
    String type = modelNode.path("type").asText("");
    if (!"WordPiece".equals(type)) {
      throw error(file, "model type '" + type + "' is not supported: only WordPiece (BERT-style) tokenizers are");
    }
    JsonNode vocabNode = modelNode.get("vocab");
    if (vocabNode == null || !vocabNode.isObject() || vocabNode.size() == 0) throw error(file, "model.vocab is missing or empty");
    Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
    for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      vocab.put(e.getKey(), tokenId(file, e.getValue(), "model.vocab entry '" + e.getKey() + "'"));
    }
    String unk = modelNode.path("unk_token").asText("[UNK]");
    if (!vocab.containsKey(unk)) throw error(file, "unk_token " + unk + " is not in model.vocab");
    String prefix = modelNode.path("continuing_subword_prefix").asText("##");
    int maxChars = modelNode.path("max_input_chars_per_word").asInt(100);
    WordPieceModel model = new WordPieceModel(vocab, unk, prefix, maxChars);

    BertNormalizer normalizer = normalizer(file, root.get("normalizer"));
    JsonNode pre = root.get("pre_tokenizer");
    boolean preTokenize = pre != null && !pre.isNull();
    if (preTokenize && !"BertPreTokenizer".equals(pre.path("type").asText())) {
      throw error(file, "pre_tokenizer type '" + pre.path("type").asText() + "' is not supported: only BertPreTokenizer is");
    }
    List<AddedToken> added = addedTokens(file, root.get("added_tokens"), vocab);
    TemplateProcessor template = template(file, root.get("post_processor"));

    int maxLength = DEFAULT_MAX_LENGTH;
    boolean left = false;
    JsonNode trunc = root.get("truncation");
    if (trunc != null && !trunc.isNull()) {
      String strategy = trunc.path("strategy").asText("LongestFirst");
      if (!"LongestFirst".equals(strategy)) {
        throw error(file, "truncation strategy '" + strategy + "' is not supported: only LongestFirst is");
      }
      maxLength = trunc.path("max_length").asInt(DEFAULT_MAX_LENGTH);
      left = "Left".equals(trunc.path("direction").asText("Right"));
    }
    JsonNode padding = root.get("padding");
    int padId = padding != null && padding.hasNonNull("pad_id")
        ? tokenId(file, padding.get("pad_id"), "padding.pad_id") : vocab.getOrDefault("[PAD]", 0);
    return build(normalizer, preTokenize, model, added, template, maxLength, left, padId, file.toString());
  }

  private static WordPieceTokenizer build(BertNormalizer normalizer, boolean preTokenize, WordPieceModel model,
      List<AddedToken> added, TemplateProcessor template, int maxLength, boolean left, int padId, String source) {
    List<AddedToken> raw = new ArrayList<>();
    List<String> rawPatterns = new ArrayList<>();
    List<AddedToken> norm = new ArrayList<>();
    List<String> normPatterns = new ArrayList<>();
    for (AddedToken t : added) {
      if (t.normalized) {
        // Normalized tokens are looked for in normalized text, so their own text is normalized first (as HF does).
        NormalizedText n = new NormalizedText(t.content.length() + 8);
        normalizer.normalize(t.content, 0, t.content.length(), n);
        norm.add(t);
        normPatterns.add(n.toString());
      } else {
        raw.add(t);
        rawPatterns.add(t.content);
      }
    }
    SequenceEncoder encoder = new SequenceEncoder(normalizer, preTokenize, model,
        new AddedTokenMatcher(raw, rawPatterns), new AddedTokenMatcher(norm, normPatterns));
    return new WordPieceTokenizer(encoder, model, added, template, maxLength, left, padId, source);
  }

  private static BertNormalizer normalizer(Path file, JsonNode n) {
    if (n == null || n.isNull()) return BertNormalizer.IDENTITY;
    String type = n.path("type").asText("");
    if (!"BertNormalizer".equals(type)) {
      throw error(file, "normalizer type '" + type + "' is not supported: only BertNormalizer is");
    }
    JsonNode strip = n.get("strip_accents");
    Boolean stripAccents = strip == null || strip.isNull() ? null : strip.asBoolean();
    return BertNormalizer.of(n.path("clean_text").asBoolean(true), n.path("handle_chinese_chars").asBoolean(true),
        stripAccents, n.path("lowercase").asBoolean(true));
  }

  /** An added token already in the vocab keeps its vocab id, whatever the file says (as HF re-adds them on load). */
  private static List<AddedToken> addedTokens(Path file, JsonNode list, Map<String, Integer> vocab) {
    List<AddedToken> out = new ArrayList<>();
    if (list == null || list.isNull()) return out;
    if (!list.isArray()) throw error(file, "added_tokens is not a list");
    for (JsonNode t : list) {
      if (!t.path("content").isTextual()) throw error(file, "added_tokens entry without text content: " + t);
      boolean special = t.path("special").asBoolean(false);
      String content = t.get("content").asText();
      int id = tokenId(file, t.get("id"), "added_tokens entry '" + content + "'");
      out.add(new AddedToken(vocab.getOrDefault(content, id), content, special,
          t.path("normalized").asBoolean(!special), t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
          t.path("single_word").asBoolean(false)));
    }
    return out;
  }

  private static TemplateProcessor template(Path file, JsonNode p) {
    if (p == null || p.isNull()) return TemplateProcessor.none();
    String type = p.path("type").asText("");
    if ("BertProcessing".equals(type)) {
      JsonNode cls = p.path("cls");
      JsonNode sep = p.path("sep");
      if (cls.size() != 2 || sep.size() != 2) throw error(file, "post_processor BertProcessing needs cls and sep as [token, id]");
      return TemplateProcessor.bert(tokenId(file, cls.get(1), "post_processor cls"), cls.get(0).asText(),
          tokenId(file, sep.get(1), "post_processor sep"), sep.get(0).asText());
    }
    if (!"TemplateProcessing".equals(type)) {
      throw error(file, "post_processor type '" + type + "' is not supported: only TemplateProcessing and BertProcessing are");
    }
    JsonNode specials = p.path("special_tokens");
    return new TemplateProcessor(templatePieces(file, p.get("single"), specials), templatePieces(file, p.get("pair"), specials));
  }

  private static List<TemplateProcessor.Piece> templatePieces(Path file, JsonNode items, JsonNode specials) {
    if (items == null || !items.isArray()) throw error(file, "post_processor template is missing 'single' or 'pair'");
    List<TemplateProcessor.Piece> out = new ArrayList<>();
    for (JsonNode item : items) {
      if (item.has("Sequence")) {
        JsonNode s = item.get("Sequence");
        String id = s.path("id").asText("A");
        if (!"A".equals(id) && !"B".equals(id)) throw error(file, "post_processor sequence id '" + id + "' is not A or B");
        out.add(TemplateProcessor.Piece.sequence("A".equals(id) ? 0 : 1, s.path("type_id").asInt(0)));
      } else if (item.has("SpecialToken")) {
        JsonNode s = item.get("SpecialToken");
        String id = s.path("id").asText();
        JsonNode def = specials.get(id);
        if (def == null || !def.path("ids").isArray() || def.path("ids").size() != def.path("tokens").size()) {
          throw error(file, "post_processor special token '" + id + "' is not defined in special_tokens");
        }
        int[] ids = new int[def.get("ids").size()];
        String[] tokens = new String[ids.length];
        for (int k = 0; k < ids.length; k++) {
          ids[k] = tokenId(file, def.get("ids").get(k), "post_processor special token '" + id + "'");
          tokens[k] = def.get("tokens").get(k).asText();
        }
        out.add(TemplateProcessor.Piece.special(ids, tokens, s.path("type_id").asInt(0)));
      } else {
        throw error(file, "post_processor template item is neither Sequence nor SpecialToken: " + item);
      }
    }
    return out;
  }

  private static JsonNode readJson(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      JsonNode root = new ObjectMapper().readTree(in);
      if (root == null || !root.isObject()) throw error(file, "not a JSON object");
      return root;
    } catch (NoSuchFileException e) {
      throw error(file, "file not found");
    } catch (JsonProcessingException e) {
      throw new TokenizerException(file + ": malformed JSON: " + e.getOriginalMessage()
          + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()), e);
    } catch (IOException e) {
      throw new TokenizerException(file + ": cannot read: " + e, e);
    }
  }

  /** A token id: an integer in [0, 2^31 - 1] (HF's are u32; one past int range could index no embedding matrix). */
  private static int tokenId(Path file, JsonNode n, String what) {
    if (n == null || !n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 0) {
      throw error(file, what + " has no integer id in [0, " + Integer.MAX_VALUE + "]: " + n);
    }
    return n.asInt();
  }

  private static TokenizerException error(Path file, String reason) {
    return new TokenizerException(file + ": " + reason);
  }
}
