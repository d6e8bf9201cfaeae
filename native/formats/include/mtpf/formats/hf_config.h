// config.json of an HF encoder, read once for the core and the runtime: the BERT family (bert, roberta, xlm-roberta;
// MiniLM, bge and e5 are "bert") and distilbert, whose own names (dim, n_layers, ...) are mapped onto BERT's.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace mtpf {

struct EncoderConfig {
  std::string model_type;  // "bert", "roberta", "xlm-roberta", "distilbert"
  int vocab_size = 30522;
  int hidden_size = 768;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  int intermediate_size = 3072;
  int max_position_embeddings = 512;
  int type_vocab_size = 2;  // 0 for DistilBERT, which has no token types
  int pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::string hidden_act = "gelu";
  nlohmann::json raw;  // the whole file, written back unchanged on save

  bool is_roberta() const { return model_type == "roberta" || model_type == "xlm-roberta"; }
  bool is_distilbert() const { return model_type == "distilbert"; }
  int head_dim() const { return hidden_size / num_attention_heads; }
  // Tokens a sequence may have: RoBERTa spends padding_idx + 1 position rows on its offset.
  int max_sequence_length() const {
    return is_roberta() ? max_position_embeddings - pad_token_id - 1 : max_position_embeddings;
  }
};

// Reads and checks config.json; `path` is named in every error (mtpf::Error).
EncoderConfig config_read(const std::string& path);
EncoderConfig config_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace mtpf
