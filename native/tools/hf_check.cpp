// Compares mtpf's encoder with a reference dumped by HF transformers (scripts/hf_parity.py).
//   mtpf_hf_check MODEL_DIR REFERENCE.safetensors
// The reference holds input_ids, attention_mask, [token_type_ids], last_hidden_state and hidden_states.N.
// Prints one JSON line with the max absolute differences; exits 1 when any exceeds 1e-4.
#include <cstdio>

#include "model_folder.h"
#include "safetensors.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR REFERENCE.safetensors\n", argv[0]);
    return 2;
  }
  try {
    auto loaded = mtpf::model_folder_load(argv[1]);
    auto ref = mtpf::safetensors_read(argv[2]).tensors;
    torch::NoGradGuard no_grad;
    auto types = ref.count("token_type_ids") ? ref.at("token_type_ids").to(torch::kLong) : torch::Tensor();
    auto mask = ref.at("attention_mask").to(torch::kLong);
    auto out = loaded.model->forward(ref.at("input_ids").to(torch::kLong), mask, types, true);
    auto keep = mask.unsqueeze(-1).to(torch::kFloat32);  // padded positions are not compared
    double last = ((out.last_hidden_state - ref.at("last_hidden_state").to(torch::kFloat32)).abs() * keep).max().item<double>();
    double worst_layer = 0;
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      auto key = "hidden_states." + std::to_string(i);
      if (!ref.count(key)) continue;
      worst_layer = std::max(worst_layer,
                             ((out.hidden_states[i] - ref.at(key).to(torch::kFloat32)).abs() * keep).max().item<double>());
    }
    std::printf("{\"model\":\"%s\",\"model_type\":\"%s\",\"max_abs_diff_last\":%.3g,\"max_abs_diff_layers\":%.3g}\n",
                argv[1], loaded.model->config().model_type.c_str(), last, worst_layer);
    return last <= 1e-4 && worst_layer <= 1e-4 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mtpf_hf_check: %s\n", e.what());
    return 2;
  }
}
