// adapter_config.json of a PEFT LoRA adapter, read once for the core and the runtime, with PEFT's own defaults
// (LoraConfig: r 8, lora_alpha 8, lora_dropout 0) and PEFT's rule for which modules it targets.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace mtpf {

struct PeftConfig {
  int r = 8;
  double lora_alpha = 8.0;
  double lora_dropout = 0.0;
  bool use_rslora = false;
  std::vector<std::string> target_modules;  // names or "."-suffixes, as PEFT matches them ...
  std::string target_modules_regex;         // ... or, when PEFT was given a string, that regex (full match)
  std::vector<int> layers_to_transform;     // empty = all
  std::vector<std::string> modules_to_save;  // PEFT task heads ("classifier"): their tensors are not LoRA
  std::string base_model_name_or_path;
  std::string task_type;  // "" for null

  // PEFT's scaling: alpha / r, or alpha / sqrt(r) with rsLoRA.
  double scaling() const;
  // PEFT's check_target_module_exists for a backbone module name ("encoder.layer.3.attention.self.query"), which
  // a file may also spell with a task model's prefix ("bert."): layers_to_transform, then the list or the regex.
  bool selects(const std::string& module) const;
  // Whether a list entry of target_modules names this module (equal, or a "."-suffix of a spelling of it).
  static bool entry_matches(const std::string& entry, const std::string& module);
};

// Reads and checks `dir`/adapter_config.json; errors (mtpf::Error) name the file.
PeftConfig peft_read_config(const std::string& dir);

// One tensor of adapter_model.safetensors, "base_model.model.<module>.lora_A.weight": a LoRA matrix of a module, or
// a tensor of a module PEFT saved whole (modules_to_save: a task head, not LoRA; readers skip it).
struct PeftTensorKey {
  enum Kind { kLoraA, kLoraB, kSavedModule } kind;
  std::string module;  // as the file spells it, maybe under a task model's prefix ("bert.encoder...")
};
// Classifies `key` of `file`; any other key fails, naming the file and the key.
PeftTensorKey peft_tensor_key(const PeftConfig& config, const std::string& key, const std::string& file);
// A module as a file spells it -> the backbone's name for it, which `exists` accepts ("bert.encoder.x" ->
// "encoder.x"); "" when no spelling exists.
std::string peft_resolve_module(const std::string& spelled, const std::function<bool(const std::string&)>& exists);

// The encoder layer a module belongs to ("encoder.layer.11.output.dense" -> 11, "transformer.layer.0.ffn.lin1" -> 0),
// -1 outside the layer list.
int module_layer(const std::string& module);

}  // namespace mtpf
