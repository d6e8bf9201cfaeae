// config.json of an HF encoder: the BERT family (bert, roberta, xlm-roberta: MiniLM, bge, e5 are "bert") and
// distilbert, whose own field names (dim, n_layers, ...) are mapped onto BERT's.
#pragma once
#include <string>

namespace mtpf::rt {

struct ModelConfig {
  std::string model_type;
  int vocab_size = 30522;
  int hidden_size = 768;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  int intermediate_size = 3072;
  int max_position_embeddings = 512;
  int type_vocab_size = 2;  // 0 for DistilBERT
  int pad_token_id = 0;
  float layer_norm_eps = 1e-12f;

  bool is_roberta() const { return model_type == "roberta" || model_type == "xlm-roberta"; }
  bool is_distilbert() const { return model_type == "distilbert"; }
  int head_dim() const { return hidden_size / num_attention_heads; }
  // RoBERTa spends padding_idx + 1 position rows on its offset.
  int max_sequence_length() const {
    return is_roberta() ? max_position_embeddings - pad_token_id - 1 : max_position_embeddings;
  }
};

ModelConfig config_read(const std::string& path);

}  // namespace mtpf::rt
