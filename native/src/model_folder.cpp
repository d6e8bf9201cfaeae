#include "model_folder.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "atomic_file.h"
#include "mtpf/formats/checkpoint_keys.h"
#include "errors.h"
#include "lora.h"
#include "safetensors.h"

namespace fs = std::filesystem;

namespace mtpf {

namespace {

const char* const kTokenizerFiles[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                       "special_tokens_map.json", "merges.txt", "vocab.json"};

std::map<std::string, torch::Tensor> read_weights(const fs::path& dir) {
  std::map<std::string, torch::Tensor> all;
  for (const auto& file : safetensors_weight_files(dir.string())) {
    auto part = safetensors_read(file).tensors;
    all.insert(part.begin(), part.end());
  }
  return all;
}

}  // namespace

void model_load_state(EncoderModel& model, const std::map<std::string, torch::Tensor>& tensors,
                      const std::string& source, std::map<std::string, torch::Tensor>* extras) {
  std::map<std::string, std::pair<std::string, torch::Tensor>> by_key;  // normalized key -> (file key, tensor)
  for (const auto& [name, t] : tensors) by_key.emplace(normalize_checkpoint_key(name), std::make_pair(name, t));

  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  std::vector<std::string> missing;
  for (auto& param : model.named_parameters(/*recurse=*/true)) {
    if (lora_is_adapter_key(param.key())) continue;  // adapters have their own files (peft.h)
    auto it = by_key.find(param.key());
    if (it == by_key.end()) {
      missing.push_back(param.key());
      continue;
    }
    const torch::Tensor& src = it->second.second;
    if (src.sizes() != param.value().sizes())
      fail(source, ": tensor '", it->second.first, "' has shape ", src.sizes(), " but config.json implies ",
           param.value().sizes());
    if (!src.is_floating_point()) fail(source, ": tensor '", it->second.first, "' is not floating point");
    auto value = src.to(torch::kFloat32);
    if (!torch::isfinite(value).all().item<bool>())
      fail(source, ": tensor '", it->second.first, "' contains NaN or Inf");
    param.value().copy_(value);
    used.insert(param.key());
  }
  if (!missing.empty()) {
    std::ostringstream list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) list << (i ? ", " : "") << missing[i];
    if (missing.size() > 5) list << ", ... (" << missing.size() << " in all)";
    fail(source, ": missing weights for model_type '", model.config().model_type, "': ", list.str());
  }
  if (extras)
    for (const auto& [key, entry] : by_key)
      if (!used.count(key)) extras->emplace(entry.first, entry.second);
}

LoadedModel model_folder_load(const std::string& dir_name, double dropout) {
  const fs::path dir(dir_name);
  if (!fs::is_directory(dir)) fail(dir_name, ": model folder not found");
  const fs::path config_path = dir / "config.json";
  if (!fs::exists(config_path)) fail(config_path.string(), ": file not found (an HF model folder needs config.json)");
  EncoderConfig config = config_read(config_path.string());
  if (dropout >= 0) config.hidden_dropout_prob = config.attention_probs_dropout_prob = dropout;
  LoadedModel out;
  out.source_dir = dir_name;
  out.model = encoder_model_create(config);
  model_load_state(*out.model, read_weights(dir), (dir / "model.safetensors").string(), &out.extras);
  out.model->eval();
  return out;
}

void model_folder_save(const LoadedModel& loaded, const std::string& dir_name) {
  const fs::path dir(dir_name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir_name, ": cannot create folder (", ec.message(), ")");
  std::map<std::string, torch::Tensor> tensors = loaded.extras;
  for (const auto& param : loaded.model->named_parameters(true)) {
    if (lora_is_adapter_key(param.key())) continue;  // saved by peft_save, never into the base checkpoint
    tensors[param.key()] = param.value().detach().to(torch::kCPU, torch::kFloat32);
  }
  safetensors_write((dir / "model.safetensors").string(), tensors, {{"format", "pt"}});
  write_text_atomic((dir / "config.json").string(), loaded.model->config().raw.dump(2) + "\n");
  if (!loaded.source_dir.empty() && fs::path(loaded.source_dir) != dir) {
    for (const char* name : kTokenizerFiles) {
      const fs::path src = fs::path(loaded.source_dir) / name;
      if (fs::exists(src)) fs::copy_file(src, dir / name, fs::copy_options::overwrite_existing);
    }
  }
}

}  // namespace mtpf
