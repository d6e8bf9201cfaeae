// DistilBERT: word + position embeddings (no token types), post-LN layers with q_lin/k_lin/v_lin/out_lin,
// sa_layer_norm, ffn.lin1/lin2 and output_layer_norm, as HF names them.
#include "attention.h"
#include "dropout.h"
#include "encoder_model.h"
#include "lora.h"

namespace mtpf {

namespace {

using torch::nn::Embedding;
using torch::nn::LayerNorm;
using torch::nn::LayerNormOptions;

struct DistilEmbeddings : torch::nn::Module {
  Embedding word_embeddings{nullptr}, position_embeddings{nullptr};
  LayerNorm LayerNorm_{nullptr};
  Dropout dropout{nullptr};

  explicit DistilEmbeddings(const EncoderConfig& c) {
    word_embeddings = register_module("word_embeddings", Embedding(c.vocab_size, c.hidden_size));
    position_embeddings = register_module("position_embeddings", Embedding(c.max_position_embeddings, c.hidden_size));
    LayerNorm_ = register_module("LayerNorm", LayerNorm(LayerNormOptions({c.hidden_size}).eps(1e-12)));
    dropout = register_module("dropout", Dropout(c.hidden_dropout_prob));
  }

  torch::Tensor forward(const torch::Tensor& input_ids) {
    auto position_ids = torch::arange(input_ids.size(1), input_ids.options()).unsqueeze(0);
    return dropout(LayerNorm_(word_embeddings(input_ids) + position_embeddings(position_ids)));
  }
};

struct MultiHeadSelfAttention : torch::nn::Module {
  LoraLinear q_lin{nullptr}, k_lin{nullptr}, v_lin{nullptr}, out_lin{nullptr};
  int64_t heads;
  double dropout_p;

  explicit MultiHeadSelfAttention(const EncoderConfig& c)
      : heads(c.num_attention_heads), dropout_p(c.attention_probs_dropout_prob) {
    q_lin = register_module("q_lin", LoraLinear(c.hidden_size, c.hidden_size));
    k_lin = register_module("k_lin", LoraLinear(c.hidden_size, c.hidden_size));
    v_lin = register_module("v_lin", LoraLinear(c.hidden_size, c.hidden_size));
    out_lin = register_module("out_lin", LoraLinear(c.hidden_size, c.hidden_size));
  }

  torch::Tensor forward(const torch::Tensor& x, const TokenLayout& layout) {
    return out_lin(layout.attend(q_lin(x), k_lin(x), v_lin(x), heads, is_training() ? dropout_p : 0.0));
  }
};

struct FFN : torch::nn::Module {
  LoraLinear lin1{nullptr}, lin2{nullptr};
  Dropout dropout{nullptr};

  explicit FFN(const EncoderConfig& c) {
    lin1 = register_module("lin1", LoraLinear(c.hidden_size, c.intermediate_size));
    lin2 = register_module("lin2", LoraLinear(c.intermediate_size, c.hidden_size));
    dropout = register_module("dropout", Dropout(c.hidden_dropout_prob));
  }

  torch::Tensor forward(const torch::Tensor& x) { return dropout(lin2(torch::gelu(lin1(x)))); }
};

struct TransformerBlock : torch::nn::Module {
  std::shared_ptr<MultiHeadSelfAttention> attention;
  LayerNorm sa_layer_norm{nullptr}, output_layer_norm{nullptr};
  std::shared_ptr<FFN> ffn;
  Dropout dropout{nullptr};

  explicit TransformerBlock(const EncoderConfig& c) {
    attention = register_module("attention", std::make_shared<MultiHeadSelfAttention>(c));
    sa_layer_norm = register_module("sa_layer_norm", LayerNorm(LayerNormOptions({c.hidden_size}).eps(1e-12)));
    ffn = register_module("ffn", std::make_shared<FFN>(c));
    output_layer_norm = register_module("output_layer_norm", LayerNorm(LayerNormOptions({c.hidden_size}).eps(1e-12)));
  }

  torch::Tensor forward(const torch::Tensor& x, const TokenLayout& layout) {
    auto sa = sa_layer_norm(attention->forward(x, layout) + x);
    return output_layer_norm(ffn->forward(sa) + sa);
  }
};

using Transformer = LayerStack<TransformerBlock>;

class DistilBertModel : public EncoderModel {
 public:
  explicit DistilBertModel(const EncoderConfig& c) : EncoderModel(c) {
    embeddings_ = register_module("embeddings", std::make_shared<DistilEmbeddings>(c));
    transformer_ = register_module("transformer", std::make_shared<Transformer>(c));
  }

  EncoderOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& /*token_type_ids: DistilBERT has none*/,
                        bool output_hidden_states) override {
    return encoder_run_layers(embeddings_->forward(input_ids), attention_mask, transformer_->layers,
                              output_hidden_states, pack_padding_);
  }

 private:
  std::shared_ptr<DistilEmbeddings> embeddings_;
  std::shared_ptr<Transformer> transformer_;
};

}  // namespace

std::shared_ptr<EncoderModel> distilbert_model_create(const EncoderConfig& config) {
  auto model = std::make_shared<DistilBertModel>(config);
  encoder_model_init_weights(*model);
  return model;
}

}  // namespace mtpf
