// EncoderModel: what every architecture (bert.cpp, distilbert.cpp) provides. Submodules are registered under
// HF's names, so named_parameters() yields checkpoint keys ("encoder.layer.0.attention.self.query.weight").
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "adapter_routing.h"
#include "attention.h"
#include "mtpf/formats/hf_config.h"

namespace mtpf {

struct EncoderOutput {
  torch::Tensor last_hidden_state;           // [batch, seq, hidden]
  std::vector<torch::Tensor> hidden_states;  // embeddings output, then each layer's; empty unless asked for
};

class EncoderModel : public torch::nn::Module {
 public:
  explicit EncoderModel(EncoderConfig config) : config_(std::move(config)) {}
  // input_ids, attention_mask (0/1), token_type_ids: int64 [batch, seq]. token_type_ids may be undefined.
  virtual EncoderOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                const torch::Tensor& token_type_ids, bool output_hidden_states) = 0;
  const EncoderConfig& config() const { return config_; }
  // Longest input the position table allows (RoBERTa spends padding_idx + 1 rows on its offset).
  int64_t max_sequence_length() const {
    return config_.is_roberta() ? config_.max_position_embeddings - config_.pad_token_id - 1
                                : config_.max_position_embeddings;
  }
  // Run the layers on real tokens only (TokenLayout): training turns it on; the outputs at padding are then zeros
  // instead of what a padded forward computes there (HF's values, which nothing downstream reads).
  void set_pack_padding(bool on) { pack_padding_ = on; }
  bool pack_padding() const { return pack_padding_; }

 protected:
  EncoderConfig config_;
  bool pack_padding_ = false;
};

// The "layer" list of an encoder ("encoder.layer.N" in BERT, "transformer.layer.N" in DistilBERT).
template <typename Layer>
struct LayerStack : torch::nn::Module {
  std::vector<std::shared_ptr<Layer>> layers;

  explicit LayerStack(const EncoderConfig& c) {
    auto list = register_module("layer", torch::nn::ModuleList());
    for (int i = 0; i < c.num_hidden_layers; ++i) {
      layers.push_back(std::make_shared<Layer>(c));
      list->push_back(layers.back());
    }
  }
};

[[noreturn]] void fail_routing(int64_t routed_rows, int64_t batch_rows);

// The post-LN layer stack shared by every architecture: layers over the embeddings output under one padding mask,
// collecting each hidden state when asked (HF's output_hidden_states). With `pack` the layers run on the real
// tokens only (TokenLayout); the outputs are [batch, seq, hidden] either way, zeros at padding when packed.
template <typename Layer>
EncoderOutput encoder_run_layers(torch::Tensor hidden, const torch::Tensor& attention_mask,
                                 const std::vector<std::shared_ptr<Layer>>& layers, bool output_hidden_states,
                                 bool pack = false) {
  EncoderOutput out;
  const auto layout = TokenLayout::from_mask(attention_mask, hidden.scalar_type(), pack);
  // Routed adapters: the layers' LoraLinears see rows of this layout, not batch rows.
  std::vector<int64_t> bounds;
  if (const auto& routing = AdapterRouting::current(); !routing.empty()) {
    int64_t rows = 0;
    bounds.push_back(0);
    for (const auto& s : routing) {
      rows += s.rows;
      if (rows > layout.batch) fail_routing(rows, layout.batch);
      bounds.push_back(layout.rows_before(rows));
    }
  }
  AdapterRouting::LayerRows layer_rows(std::move(bounds));
  hidden = layout.pack(hidden);
  if (output_hidden_states) out.hidden_states.push_back(layout.unpack(hidden));
  for (auto& layer : layers) {
    hidden = layer->forward(hidden, layout);
    if (output_hidden_states) out.hidden_states.push_back(layout.unpack(hidden));
  }
  out.last_hidden_state = layout.unpack(hidden);
  return out;
}

// Builds the architecture named by config.model_type, randomly initialised as HF does (normal(0, 0.02)).
std::shared_ptr<EncoderModel> encoder_model_create(const EncoderConfig& config);
std::shared_ptr<EncoderModel> bert_model_create(const EncoderConfig& config);
std::shared_ptr<EncoderModel> distilbert_model_create(const EncoderConfig& config);

// HF's _init_weights: Linear/Embedding weights ~ N(0, 0.02), biases 0, LayerNorm 1/0.
void encoder_model_init_weights(torch::nn::Module& model);

}  // namespace mtpf
