// BERT and RoBERTa (bert, roberta, xlm-roberta): one struct per HF sub-module, registered under HF's names.
// RoBERTa differs only in its position ids (offset past padding_idx) and its single token type.
#include "attention.h"
#include "dropout.h"
#include "encoder_model.h"
#include "lora.h"

namespace mtpf {

namespace {

using torch::nn::Embedding;
using torch::nn::LayerNorm;
using torch::nn::LayerNormOptions;

struct BertEmbeddings : torch::nn::Module {
  Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  LayerNorm LayerNorm_{nullptr};
  Dropout dropout{nullptr};
  bool roberta_positions;
  int64_t padding_idx;

  explicit BertEmbeddings(const EncoderConfig& c)
      : roberta_positions(c.is_roberta()), padding_idx(c.pad_token_id) {
    word_embeddings = register_module("word_embeddings", Embedding(c.vocab_size, c.hidden_size));
    position_embeddings = register_module("position_embeddings", Embedding(c.max_position_embeddings, c.hidden_size));
    token_type_embeddings = register_module("token_type_embeddings", Embedding(c.type_vocab_size, c.hidden_size));
    LayerNorm_ = register_module("LayerNorm", LayerNorm(LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
    dropout = register_module("dropout", Dropout(c.hidden_dropout_prob));
  }

  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
    torch::Tensor position_ids;
    if (roberta_positions) {
      // HF's create_position_ids_from_input_ids: count non-pad tokens, start after padding_idx.
      auto not_pad = input_ids.ne(padding_idx).to(torch::kLong);
      position_ids = torch::cumsum(not_pad, 1) * not_pad + padding_idx;
    } else {
      position_ids = torch::arange(input_ids.size(1), input_ids.options()).unsqueeze(0);
    }
    auto types = token_type_ids.defined() ? token_type_ids : torch::zeros_like(input_ids);
    auto x = word_embeddings(input_ids) + token_type_embeddings(types) + position_embeddings(position_ids);
    return dropout(LayerNorm_(x));
  }
};

struct BertSelfAttention : torch::nn::Module {
  LoraLinear query{nullptr}, key{nullptr}, value{nullptr};
  int64_t heads;
  double dropout_p;

  explicit BertSelfAttention(const EncoderConfig& c)
      : heads(c.num_attention_heads), dropout_p(c.attention_probs_dropout_prob) {
    query = register_module("query", LoraLinear(c.hidden_size, c.hidden_size));
    key = register_module("key", LoraLinear(c.hidden_size, c.hidden_size));
    value = register_module("value", LoraLinear(c.hidden_size, c.hidden_size));
  }

  torch::Tensor forward(const torch::Tensor& hidden, const TokenLayout& layout) {
    return layout.attend(query(hidden), key(hidden), value(hidden), heads, is_training() ? dropout_p : 0.0);
  }
};

// dense -> dropout -> LayerNorm(x + residual): BertSelfOutput and BertOutput share this shape.
struct BertResidualOutput : torch::nn::Module {
  LoraLinear dense{nullptr};
  LayerNorm LayerNorm_{nullptr};
  Dropout dropout{nullptr};

  BertResidualOutput(const EncoderConfig& c, int64_t in_features) {
    dense = register_module("dense", LoraLinear(in_features, c.hidden_size));
    LayerNorm_ = register_module("LayerNorm", LayerNorm(LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
    dropout = register_module("dropout", Dropout(c.hidden_dropout_prob));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual) {
    return LayerNorm_(dropout(dense(x)) + residual);
  }
};

struct BertAttention : torch::nn::Module {
  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertResidualOutput> output;

  explicit BertAttention(const EncoderConfig& c) {
    self = register_module("self", std::make_shared<BertSelfAttention>(c));
    output = register_module("output", std::make_shared<BertResidualOutput>(c, c.hidden_size));
  }

  torch::Tensor forward(const torch::Tensor& hidden, const TokenLayout& layout) {
    return output->forward(self->forward(hidden, layout), hidden);
  }
};

struct BertIntermediate : torch::nn::Module {
  LoraLinear dense{nullptr};

  explicit BertIntermediate(const EncoderConfig& c) {
    dense = register_module("dense", LoraLinear(c.hidden_size, c.intermediate_size));
  }

  torch::Tensor forward(const torch::Tensor& x) { return torch::gelu(dense(x)); }  // exact erf GELU
};

struct BertLayer : torch::nn::Module {
  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertResidualOutput> output;

  explicit BertLayer(const EncoderConfig& c) {
    attention = register_module("attention", std::make_shared<BertAttention>(c));
    intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(c));
    output = register_module("output", std::make_shared<BertResidualOutput>(c, c.intermediate_size));
  }

  torch::Tensor forward(const torch::Tensor& hidden, const TokenLayout& layout) {
    auto attn = attention->forward(hidden, layout);
    return output->forward(intermediate->forward(attn), attn);
  }
};

using BertEncoder = LayerStack<BertLayer>;

class BertModel : public EncoderModel {
 public:
  explicit BertModel(const EncoderConfig& c) : EncoderModel(c) {
    embeddings_ = register_module("embeddings", std::make_shared<BertEmbeddings>(c));
    encoder_ = register_module("encoder", std::make_shared<BertEncoder>(c));
  }

  EncoderOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& token_type_ids, bool output_hidden_states) override {
    return encoder_run_layers(embeddings_->forward(input_ids, token_type_ids), attention_mask, encoder_->layers,
                              output_hidden_states, pack_padding_);
  }

 private:
  std::shared_ptr<BertEmbeddings> embeddings_;
  std::shared_ptr<BertEncoder> encoder_;
};

}  // namespace

std::shared_ptr<EncoderModel> bert_model_create(const EncoderConfig& config) {
  auto model = std::make_shared<BertModel>(config);
  encoder_model_init_weights(*model);
  return model;
}

}  // namespace mtpf
