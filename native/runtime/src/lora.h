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

namespace mtpf::rt {

struct PeftConfig {
  int r = 8;
  double lora_alpha = 8.0;
  bool use_rslora = false;
  std::vector<std::string> target_modules;  // names or "."-suffixes, as PEFT matches them ...
  std::string target_modules_regex;         // ... or, when given as a string, a full-match regex
  std::vector<int> layers_to_transform;     // empty = all
  std::vector<std::string> modules_to_save;  // PEFT task heads: their tensors are skipped
  std::string base_model_name_or_path;

  // PEFT's scaling: alpha / r, or alpha / sqrt(r) with rsLoRA.
  float scaling() const;
};

PeftConfig peft_read_config(const std::string& dir);

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

// "encoder.layer.11.output.dense" -> 11; -1 outside the layer list.
int module_layer(const std::string& module);

// A linear head beside the adapter: head_<name>.safetensors (weight [classes, hidden], bias [classes]) and
// head_<name>.json ({"name", "in_features", "num_labels", "labels"}).
struct Head {
  int classes = 0;
  std::vector<float> weight, bias;
  std::vector<std::string> labels;  // empty, or one per class
};
Head head_read(const std::string& dir, const std::string& name, int hidden_size);

}  // namespace mtpf::rt
