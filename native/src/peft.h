// PEFT's on-disk LoRA format, so an adapter trained here loads with `PeftModel.from_pretrained(model, dir)` and back:
//   adapter_config.json        {"peft_type": "LORA", "r", "lora_alpha", "target_modules": [full module names], ...}
//   adapter_model.safetensors  base_model.model.<module>.lora_A.weight [r, in], ...lora_B.weight [out, r]
// Saved keys carry no adapter name (PEFT drops it on save); loading puts the tensors under the name the caller picks.
// Linear heads (classifiers) are not PEFT's business: they go beside the adapter as head_<name>.safetensors + .json.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "lora.h"
#include "mtpf/formats/peft_config.h"  // PeftConfig, peft_read_config: adapter_config.json

namespace mtpf {

struct PeftSaveOptions {
  std::string base_model_name_or_path;
  std::string task_type;  // "" writes null; "FEATURE_EXTRACTION" suits a bare encoder
};

// Writes adapter `adapter` of `model` (the EncoderModel: module names are relative to it) into `dir`.
void peft_save(const torch::nn::Module& model, const std::string& adapter, const std::string& dir,
               const PeftSaveOptions& options = {});
// Reads `dir` into a new adapter `adapter` on the modules it names; every shape is checked against the model
// before anything changes. is_trainable as in PEFT's from_pretrained (false: requires_grad off on A and B).
// Returns the module names that got the adapter.
std::vector<std::string> peft_load(torch::nn::Module& model, const std::string& dir, const std::string& adapter,
                                   bool is_trainable = false);

// A linear head: weight [num_labels, in], bias [num_labels], labels (empty, or one per row).
struct PeftHead {
  torch::Tensor weight, bias;
  std::vector<std::string> labels;
};
// head_<name>.safetensors ("weight", "bias") and head_<name>.json ({"name", "in_features", "num_labels", "labels"}).
void peft_save_head(const std::string& dir, const std::string& name, const torch::Tensor& weight,
                    const torch::Tensor& bias, const std::vector<std::string>& labels);
PeftHead peft_load_head(const std::string& dir, const std::string& name);

}  // namespace mtpf
