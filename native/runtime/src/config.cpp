#include "config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "errors.h"
#include "json_number.h"

namespace mtpf::rt {

namespace {

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback, const std::string& source) {
  return json_field_or<std::runtime_error>(j, key, fallback, source);
}

}  // namespace

ModelConfig config_read(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": file not found or not readable");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": malformed JSON (", e.what(), ")");
  }
  if (!j.is_object()) fail(path, ": not a JSON object");
  ModelConfig c;
  c.model_type = get_or<std::string>(j, "model_type", "", path);
  std::string act;
  if (c.model_type == "bert" || c.model_type == "roberta" || c.model_type == "xlm-roberta") {
    c.vocab_size = get_or(j, "vocab_size", c.vocab_size, path);
    c.hidden_size = get_or(j, "hidden_size", c.hidden_size, path);
    c.num_hidden_layers = get_or(j, "num_hidden_layers", c.num_hidden_layers, path);
    c.num_attention_heads = get_or(j, "num_attention_heads", c.num_attention_heads, path);
    c.intermediate_size = get_or(j, "intermediate_size", c.intermediate_size, path);
    c.max_position_embeddings = get_or(j, "max_position_embeddings", c.max_position_embeddings, path);
    c.type_vocab_size = get_or(j, "type_vocab_size", c.type_vocab_size, path);
    c.pad_token_id = get_or(j, "pad_token_id", c.is_roberta() ? 1 : 0, path);
    c.layer_norm_eps = static_cast<float>(get_or(j, "layer_norm_eps", 1e-12, path));
    act = get_or<std::string>(j, "hidden_act", "gelu", path);
    const std::string pos = get_or<std::string>(j, "position_embedding_type", "absolute", path);
    if (pos != "absolute") fail(path, ": position_embedding_type '", pos, "' is not supported (only 'absolute')");
  } else if (c.model_type == "distilbert") {
    c.vocab_size = get_or(j, "vocab_size", c.vocab_size, path);
    c.hidden_size = get_or(j, "dim", c.hidden_size, path);
    c.num_hidden_layers = get_or(j, "n_layers", 6, path);
    c.num_attention_heads = get_or(j, "n_heads", c.num_attention_heads, path);
    c.intermediate_size = get_or(j, "hidden_dim", c.intermediate_size, path);
    c.max_position_embeddings = get_or(j, "max_position_embeddings", c.max_position_embeddings, path);
    c.type_vocab_size = 0;
    c.pad_token_id = get_or(j, "pad_token_id", 0, path);
    c.layer_norm_eps = 1e-12f;  // fixed in HF's DistilBERT
    act = get_or<std::string>(j, "activation", "gelu", path);
    if (get_or(j, "sinusoidal_pos_embds", false, path)) fail(path, ": sinusoidal_pos_embds=true is not supported");
  } else {
    fail(path, ": model_type '", c.model_type, "' is not supported (bert, roberta, xlm-roberta, distilbert)");
  }
  if (act != "gelu") fail(path, ": activation '", act, "' is not supported (only exact 'gelu')");
  if (c.hidden_size <= 0 || c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0)
    fail(path, ": hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ", c.num_attention_heads);
  if (c.num_hidden_layers <= 0 || c.vocab_size <= 0 || c.intermediate_size <= 0 || c.max_sequence_length() <= 0)
    fail(path, ": layer count, vocab size, intermediate size and max positions must be positive");
  if (c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size)
    fail(path, ": pad_token_id ", c.pad_token_id, " is outside the vocabulary of ", c.vocab_size);
  return c;
}

}  // namespace mtpf::rt
