#include "peft.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "mtpf/formats/checkpoint_keys.h"
#include "mtpf/formats/head_files.h"
#include "mtpf/formats/json_field.h"
#include "atomic_file.h"
#include "errors.h"
#include "safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mtpf {

namespace {

const char* const kConfigFile = "adapter_config.json";
const char* const kWeightsFile = "adapter_model.safetensors";
const std::string kKeyPrefix = "base_model.model.";  // PeftModel.base_model (LoraModel).model


void json_write(const fs::path& path, const json& j) { write_text_atomic(path.string(), j.dump(2) + "\n"); }

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, ": cannot create folder (", ec.message(), ")");
}

using Linears = torch::OrderedDict<std::string, LoraLinearImpl*>;  // in model order

Linears linears_by_name(const torch::nn::Module& model) {
  Linears out;
  for (const auto& item : model.named_modules("", /*include_self=*/false))
    if (auto* linear = item.value()->as<LoraLinear>()) out.insert(item.key(), linear);
  return out;
}

}  // namespace

void peft_save(const torch::nn::Module& model, const std::string& adapter, const std::string& dir,
               const PeftSaveOptions& options) {
  std::map<std::string, torch::Tensor> tensors;
  std::vector<std::string> modules;
  const LoraConfig* config = nullptr;
  for (const auto& item : linears_by_name(model)) {
    const std::string& name = item.key();
    LoraLinearImpl* linear = item.value();
    if (!linear->has_adapter(adapter)) continue;
    const LoraAdapter& a = linear->adapter(adapter);
    if (!config) config = &a.config;
    if (a.config.r != config->r || a.config.lora_alpha != config->lora_alpha ||
        a.config.lora_dropout != config->lora_dropout || a.config.use_rslora != config->use_rslora)
      fail("peft_save '", adapter, "': module '", name, "' has another r/lora_alpha than '", modules.front(),
           "' (PEFT's rank_pattern is not written)");
    modules.push_back(name);
    tensors[kKeyPrefix + name + ".lora_A.weight"] = a.lora_A->weight.detach().to(torch::kCPU, torch::kFloat32);
    tensors[kKeyPrefix + name + ".lora_B.weight"] = a.lora_B->weight.detach().to(torch::kCPU, torch::kFloat32);
  }
  if (!config) fail("peft_save: no module holds LoRA adapter '", adapter, "'");

  json j;
  j["peft_type"] = "LORA";
  j["r"] = config->r;
  const double alpha = config->lora_alpha;
  j["lora_alpha"] = alpha == std::floor(alpha) && std::abs(alpha) < 1e15 ? json(int64_t(alpha)) : json(alpha);
  j["lora_dropout"] = config->lora_dropout;
  j["use_rslora"] = config->use_rslora;
  j["target_modules"] = modules;  // exact names: PEFT matches a list entry equal to the module name
  j["bias"] = "none";
  j["task_type"] = options.task_type.empty() ? json(nullptr) : json(options.task_type);
  j["base_model_name_or_path"] =
      options.base_model_name_or_path.empty() ? json(nullptr) : json(options.base_model_name_or_path);
  j["inference_mode"] = true;  // what PEFT's save_pretrained writes
  j["init_lora_weights"] = true;
  j["fan_in_fan_out"] = false;
  j["modules_to_save"] = nullptr;
  j["layers_to_transform"] = nullptr;

  make_dir(dir);
  safetensors_write((fs::path(dir) / kWeightsFile).string(), tensors, {{"format", "pt"}});
  json_write(fs::path(dir) / kConfigFile, j);
}

std::vector<std::string> peft_load(torch::nn::Module& model, const std::string& dir, const std::string& adapter,
                                   bool is_trainable) {
  const PeftConfig config = peft_read_config(dir);
  if (!lora_adapter_modules(model, adapter).empty())
    fail("peft_load ", dir, ": the model already has a LoRA adapter named '", adapter, "' (remove it first)");
  const std::string file = (fs::path(dir) / kWeightsFile).string();
  if (!fs::exists(file)) fail(file, ": file not found (PEFT's adapter_model.bin is not read; save with safetensors)");
  const auto tensors = safetensors_read(file).tensors;
  const auto linears = linears_by_name(model);

  // Module -> (lora_A, lora_B), with their file keys for the messages. Every check runs before the model changes.
  struct Pair {
    torch::Tensor a, b;
    std::string a_key, b_key;
  };
  std::map<std::string, Pair> found;
  for (const auto& [key, t] : tensors) {
    const PeftTensorKey k = peft_tensor_key(config, key, file);
    if (k.kind == PeftTensorKey::kSavedModule) continue;  // a head PEFT kept beside the LoRA: see peft_load_head
    const bool is_a = k.kind == PeftTensorKey::kLoraA;
    const std::string module =
        peft_resolve_module(k.module, [&](const std::string& m) { return linears.contains(m); });
    if (module.empty())
      fail(file, ": tensor '", key, "' belongs to '", k.module, "', which is not a linear of this model");
    if (!t.is_floating_point()) fail(file, ": tensor '", key, "' is not floating point");
    if (!torch::isfinite(t).all().item<bool>()) fail(file, ": tensor '", key, "' contains NaN or Inf");
    Pair& p = found[module];
    (is_a ? p.a : p.b) = t;
    (is_a ? p.a_key : p.b_key) = key;
  }
  if (found.empty()) fail(file, ": holds no LoRA tensors");
  const int64_t r = config.r;
  for (const auto& entry : found) {
    const std::string& module = entry.first;  // a named reference: lambdas cannot capture bindings before C++20
    const auto& p = entry.second;
    if (!p.a.defined()) fail(file, ": '", p.b_key, "' has no matching lora_A");
    if (!p.b.defined()) fail(file, ": '", p.a_key, "' has no matching lora_B");
    const auto& opts = linears[module]->options;
    auto check = [&](const torch::Tensor& t, const std::string& key, std::vector<int64_t> want) {
      if (t.sizes() != torch::IntArrayRef(want))
        fail(file, ": tensor '", key, "' has shape ", t.sizes(), " but r=", r, " on '", module, "' (in_features ",
             opts.in_features(), ", out_features ", opts.out_features(), ") needs ", torch::IntArrayRef(want));
    };
    check(p.a, p.a_key, {r, opts.in_features()});
    check(p.b, p.b_key, {opts.out_features(), r});
    if (!config.selects(module))
      fail(dir, ": ", kWeightsFile, " has weights for '", module, "', which ", kConfigFile,
           "'s target_modules/layers_to_transform do not select");
  }
  std::vector<std::string> modules;
  for (const auto& item : linears) {
    const std::string& name = item.key();
    if (found.count(name)) {
      modules.push_back(name);
    } else if (config.selects(name)) {
      fail(dir, ": ", kConfigFile, " targets '", name, "' but ", kWeightsFile, " has no lora_A/lora_B for it");
    }
  }

  LoraConfig lora;
  lora.r = config.r;
  lora.lora_alpha = config.lora_alpha;
  lora.lora_dropout = config.lora_dropout;
  lora.use_rslora = config.use_rslora;
  lora_inject_modules(model, adapter, lora, modules, is_trainable);
  torch::NoGradGuard no_grad;
  for (const auto& name : modules) {
    const LoraAdapter& a = linears[name]->adapter(adapter);
    a.lora_A->weight.copy_(found.at(name).a);
    a.lora_B->weight.copy_(found.at(name).b);
  }
  return modules;
}

void peft_save_head(const std::string& dir, const std::string& name, const torch::Tensor& weight,
                    const torch::Tensor& bias, const std::vector<std::string>& labels) {
  const HeadMeta files = head_paths(dir, name);
  if (weight.dim() != 2) fail("head '", name, "': weight must be [num_labels, in_features], got ", weight.sizes());
  const int64_t n = weight.size(0);
  if (!bias.defined() || bias.sizes() != torch::IntArrayRef({n}))
    fail("head '", name, "': bias must be [", n, "] to match weight ", weight.sizes());
  if (!labels.empty() && int64_t(labels.size()) != n)
    fail("head '", name, "': ", labels.size(), " labels for ", n, " output rows");
  make_dir(dir);
  safetensors_write(files.weights_path,
                    {{"weight", weight.detach().to(torch::kCPU, torch::kFloat32)},
                     {"bias", bias.detach().to(torch::kCPU, torch::kFloat32)}},
                    {{"format", "pt"}});
  json_write(files.json_path, head_meta_json(name, weight.size(1), n, labels));
}

PeftHead peft_load_head(const std::string& dir, const std::string& name) {
  const HeadMeta meta = head_read_meta(dir, name);
  const int64_t n = meta.num_labels, in = meta.in_features;
  PeftHead head;
  head.labels = meta.labels;
  const std::string& file = meta.weights_path;
  auto tensors = safetensors_read(file).tensors;
  for (const char* key : {"weight", "bias"})
    if (!tensors.count(key)) fail(file, ": tensor '", key, "' is missing");
  head.weight = tensors["weight"].to(torch::kFloat32);
  head.bias = tensors["bias"].to(torch::kFloat32);
  if (head.weight.sizes() != torch::IntArrayRef({n, in}))
    fail(file, ": tensor 'weight' has shape ", head.weight.sizes(), " but ", meta.json_path, " says [", n, ", ", in, "]");
  if (head.bias.sizes() != torch::IntArrayRef({n}))
    fail(file, ": tensor 'bias' has shape ", head.bias.sizes(), " but ", meta.json_path, " says [", n, "]");
  return head;
}

}  // namespace mtpf
