#include "lora.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "errors.h"
#include "mtpf/formats/checkpoint_keys.h"
#include "mtpf/formats/head_files.h"
#include "mtpf/formats/json_field.h"
#include "safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mtpf::rt {

std::vector<LoraWeights> peft_read_weights(const std::string& dir, const PeftConfig& config,
                                           const LinearShapes& linears) {
  const std::string file = (fs::path(dir) / "adapter_model.safetensors").string();
  if (!fs::exists(file)) fail(file, ": file not found (adapter_model.bin is not read; save with safetensors)");
  const std::string cfg = (fs::path(dir) / "adapter_config.json").string();
  // A list entry that names no linear of this backbone: the adapter was made for another architecture.
  for (const auto& t : config.target_modules) {
    bool any = false;
    for (const auto& [name, shape] : linears) any = any || PeftConfig::entry_matches(t, name);
    if (!any) fail(cfg, ": target module '", t, "' does not exist in this backbone");
  }
  SafetensorsFile st(file);
  struct Pair {
    std::string a_key, b_key;
  };
  std::map<std::string, Pair> found;
  for (const auto& [key, entry] : st.entries()) {
    const PeftTensorKey k = peft_tensor_key(config, key, file);
    if (k.kind == PeftTensorKey::kSavedModule) continue;  // a head PEFT kept beside the LoRA: see head_read
    const bool is_a = k.kind == PeftTensorKey::kLoraA;
    const std::string module =
        peft_resolve_module(k.module, [&](const std::string& m) { return linears.count(m) > 0; });
    if (module.empty())
      fail(file, ": tensor '", key, "' belongs to '", k.module, "', which is not a linear of this backbone");
    (is_a ? found[module].a_key : found[module].b_key) = key;
  }
  if (found.empty()) fail(file, ": holds no LoRA tensors");
  std::vector<LoraWeights> out;
  for (const auto& [name, shape] : linears) {
    auto it = found.find(name);
    if (it == found.end()) {
      if (config.selects(name))
        fail(dir, ": adapter_config.json targets '", name, "' but adapter_model.safetensors has no lora_A/lora_B for it");
      continue;
    }
    const Pair& p = it->second;
    if (p.a_key.empty()) fail(file, ": '", p.b_key, "' has no matching lora_A");
    if (p.b_key.empty()) fail(file, ": '", p.a_key, "' has no matching lora_B");
    if (!config.selects(name))
      fail(dir, ": adapter_model.safetensors has weights for '", name,
           "', which adapter_config.json's target_modules/layers_to_transform do not select");
    const auto [in, outf] = shape;
    const std::string why = "r=" + std::to_string(config.r) + " on '" + name + "' (in_features " +
                            std::to_string(in) + ", out_features " + std::to_string(outf) + ")";
    LoraWeights w;
    w.module = name;
    w.A = st.read_f32(p.a_key, {config.r, in}, why);
    w.B = st.read_f32(p.b_key, {outf, config.r}, why);
    out.push_back(std::move(w));
  }
  return out;
}

Head head_read(const std::string& dir, const std::string& name, int hidden_size) {
  const HeadMeta meta = head_read_meta(dir, name);
  if (meta.in_features != hidden_size)
    fail(meta.json_path, ": in_features ", meta.in_features, " but the backbone's hidden size is ", hidden_size);
  if (meta.num_labels > std::numeric_limits<int>::max()) fail(meta.json_path, ": num_labels ", meta.num_labels, " is too large");
  Head head;
  head.classes = static_cast<int>(meta.num_labels);
  head.labels = meta.labels;
  SafetensorsFile st(meta.weights_path);
  head.weight = st.read_f32("weight", {head.classes, hidden_size}, "head '" + name + "' over hidden size " +
                                                                      std::to_string(hidden_size));
  head.bias = st.read_f32("bias", {head.classes}, meta.json_path);
  return head;
}

}  // namespace mtpf::rt
