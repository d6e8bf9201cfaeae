#include "encoder_model.h"

#include "errors.h"

namespace mtpf {

std::shared_ptr<EncoderModel> encoder_model_create(const EncoderConfig& config) {
  if (config.model_type == "bert" || config.is_roberta()) return bert_model_create(config);
  if (config.is_distilbert()) return distilbert_model_create(config);
  fail("unknown architecture model_type '", config.model_type, "'");
}

void encoder_model_init_weights(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      linear->weight.normal_(0.0, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* embedding = module->as<torch::nn::Embedding>()) {
      embedding->weight.normal_(0.0, 0.02);
    } else if (auto* norm = module->as<torch::nn::LayerNorm>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

void fail_routing(int64_t routed_rows, int64_t batch_rows) {
  fail("adapter routing covers ", routed_rows, " rows but the batch has ", batch_rows);
}

}  // namespace mtpf
