#include "mtpf/formats/hf_config.h"

#include <fstream>

#include "mtpf/formats/error.h"
#include "mtpf/formats/json_field.h"

namespace mtpf {

namespace {

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback, const std::string& source) {
  return json_field_or<Error>(j, key, fallback, source);
}

}  // namespace

EncoderConfig config_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) fail(source, ": not a JSON object");
  EncoderConfig c;
  c.raw = j;
  c.model_type = get_or<std::string>(j, "model_type", "", source);
  if (c.model_type.empty()) fail(source, ": no 'model_type' field; cannot tell the architecture");
  if (c.model_type == "bert" || c.model_type == "roberta" || c.model_type == "xlm-roberta") {
    c.vocab_size = get_or(j, "vocab_size", c.vocab_size, source);
    c.hidden_size = get_or(j, "hidden_size", c.hidden_size, source);
    c.num_hidden_layers = get_or(j, "num_hidden_layers", c.num_hidden_layers, source);
    c.num_attention_heads = get_or(j, "num_attention_heads", c.num_attention_heads, source);
    c.intermediate_size = get_or(j, "intermediate_size", c.intermediate_size, source);
    c.max_position_embeddings = get_or(j, "max_position_embeddings", c.max_position_embeddings, source);
    c.type_vocab_size = get_or(j, "type_vocab_size", c.type_vocab_size, source);
    c.pad_token_id = get_or(j, "pad_token_id", c.is_roberta() ? 1 : 0, source);
    c.layer_norm_eps = get_or(j, "layer_norm_eps", c.layer_norm_eps, source);
    c.hidden_dropout_prob = get_or(j, "hidden_dropout_prob", c.hidden_dropout_prob, source);
    c.attention_probs_dropout_prob =
        get_or(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, source);
    c.hidden_act = get_or<std::string>(j, "hidden_act", c.hidden_act, source);
    std::string pos = get_or<std::string>(j, "position_embedding_type", "absolute", source);
    if (pos != "absolute") fail(source, ": position_embedding_type '", pos, "' is not supported (only 'absolute')");
  } else if (c.model_type == "distilbert") {
    c.vocab_size = get_or(j, "vocab_size", c.vocab_size, source);
    c.hidden_size = get_or(j, "dim", c.hidden_size, source);
    c.num_hidden_layers = get_or(j, "n_layers", 6, source);
    c.num_attention_heads = get_or(j, "n_heads", c.num_attention_heads, source);
    c.intermediate_size = get_or(j, "hidden_dim", c.intermediate_size, source);
    c.max_position_embeddings = get_or(j, "max_position_embeddings", c.max_position_embeddings, source);
    c.type_vocab_size = 0;
    c.pad_token_id = get_or(j, "pad_token_id", 0, source);
    c.layer_norm_eps = 1e-12;  // fixed in HF's DistilBERT
    c.hidden_dropout_prob = get_or(j, "dropout", c.hidden_dropout_prob, source);
    c.attention_probs_dropout_prob = get_or(j, "attention_dropout", c.attention_probs_dropout_prob, source);
    c.hidden_act = get_or<std::string>(j, "activation", c.hidden_act, source);
    if (get_or(j, "sinusoidal_pos_embds", false, source))
      fail(source, ": sinusoidal_pos_embds=true is not supported");
  } else {
    fail(source, ": unknown architecture model_type '", c.model_type,
         "' (supported: bert, roberta, xlm-roberta, distilbert)");
  }
  if (c.hidden_act != "gelu") fail(source, ": hidden_act '", c.hidden_act, "' is not supported (only exact 'gelu')");
  if (c.hidden_size <= 0 || c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0)
    fail(source, ": hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ", c.num_attention_heads);
  if (c.num_hidden_layers <= 0 || c.vocab_size <= 0 || c.intermediate_size <= 0 || c.max_sequence_length() <= 0)
    fail(source, ": layer count, vocab size, intermediate size and max positions must be positive");
  if (c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size)
    fail(source, ": pad_token_id ", c.pad_token_id, " is outside the vocabulary of ", c.vocab_size);
  return c;
}

EncoderConfig config_read(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": file not found or not readable");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": malformed JSON (", e.what(), ")");
  }
  return config_from_json(j, path);
}

}  // namespace mtpf
