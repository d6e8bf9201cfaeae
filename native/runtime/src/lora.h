// LoRA adapters in PEFT's on-disk format, as the libtorch core writes them (native/src/peft.cpp):
//   adapter_config.json        {"peft_type": "LORA", "r", "lora_alpha", "use_rslora", "target_modules",
//                               "layers_to_transform", ...}
//   adapter_model.safetensors  base_model.model.<prefix?><module>.lora_A.weight [r, in], ...lora_B.weight [out, r]
// <prefix?> is a task model's "bert." / "roberta." / "distilbert." / "model."; modules are HF names
// ("encoder.layer.3.attention.self.query", "transformer.layer.0.ffn.lin1"). Everything is checked against the
// backbone's linears (by shape: base_model_name_or_path is only informative) before the adapter is used.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "mtpf/formats/peft_config.h"  // PeftConfig, peft_read_config, module_layer: adapter_config.json

namespace mtpf::rt {

// One module's LoRA: A [r, in], B [out, r].
struct LoraWeights {
  std::string module;
  std::vector<float> A, B;
};

// The backbone's linears: module name -> {in_features, out_features}.
using LinearShapes = std::map<std::string, std::pair<int, int>>;

// Reads and checks adapter_model.safetensors of `dir` against `config` and `linears`.
std::vector<LoraWeights> peft_read_weights(const std::string& dir, const PeftConfig& config,
                                           const LinearShapes& linears);

// A linear head beside the adapter: head_<name>.safetensors (weight [classes, hidden], bias [classes]) and
// head_<name>.json ({"name", "in_features", "num_labels", "labels"}).
struct Head {
  int classes = 0;
  std::vector<float> weight, bias;
  std::vector<std::string> labels;  // empty, or one per class
};
Head head_read(const std::string& dir, const std::string& name, int hidden_size);

}  // namespace mtpf::rt
