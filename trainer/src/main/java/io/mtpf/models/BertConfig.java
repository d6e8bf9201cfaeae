package io.mtpf.models;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The HF BertConfig fields an imported encoder needs, in config.json's key order. */
public record BertConfig(
    int vocabSize,
    int hiddenSize,
    int numHiddenLayers,
    int numAttentionHeads,
    int intermediateSize,
    int maxPositionEmbeddings,
    int typeVocabSize,
    double layerNormEps) {

  /** Reads back the fields {@link #toJson} writes (e.g. from an existing model folder's config.json). */
  public static BertConfig fromJson(JsonNode json) {
    String[] required = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
        "max_position_embeddings", "type_vocab_size"};
    for (String key : required) {
      if (!json.path(key).canConvertToInt()) throw new IllegalArgumentException("config.json lacks " + key);
    }
    return new BertConfig(json.get("vocab_size").asInt(), json.get("hidden_size").asInt(),
        json.get("num_hidden_layers").asInt(), json.get("num_attention_heads").asInt(),
        json.get("intermediate_size").asInt(), json.get("max_position_embeddings").asInt(),
        json.get("type_vocab_size").asInt(), json.path("layer_norm_eps").asDouble(1e-12));
  }

  /** The content of config.json; the values a pretrained checkpoint does not fix are HF's BERT defaults. */
  public Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("architectures", List.of("BertModel"));
    m.put("model_type", "bert");
    m.put("vocab_size", vocabSize);
    m.put("hidden_size", hiddenSize);
    m.put("num_hidden_layers", numHiddenLayers);
    m.put("num_attention_heads", numAttentionHeads);
    m.put("intermediate_size", intermediateSize);
    m.put("max_position_embeddings", maxPositionEmbeddings);
    m.put("type_vocab_size", typeVocabSize);
    m.put("hidden_act", "gelu");
    m.put("layer_norm_eps", layerNormEps);
    m.put("pad_token_id", 0);
    m.put("hidden_dropout_prob", 0.1);
    m.put("attention_probs_dropout_prob", 0.1);
    m.put("position_embedding_type", "absolute");
    m.put("initializer_range", 0.02);
    m.put("torch_dtype", "float32");
    return m;
  }
}
