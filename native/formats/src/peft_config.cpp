#include "mtpf/formats/peft_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "mtpf/formats/checkpoint_keys.h"
#include "mtpf/formats/error.h"
#include "mtpf/formats/json_field.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mtpf {

namespace {

bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// The module as a file may spell it: bare, or under a task model's prefix.
std::vector<std::string> spellings(const std::string& module) {
  std::vector<std::string> names = {module};
  for (const char* prefix : kTaskModelPrefixes) names.push_back(prefix + module);
  return names;
}

}  // namespace

double PeftConfig::scaling() const {
  return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / r;
}

bool PeftConfig::entry_matches(const std::string& entry, const std::string& module) {
  for (const auto& n : spellings(module))
    if (n == entry || ends_with(n, "." + entry)) return true;
  return false;
}

bool PeftConfig::selects(const std::string& module) const {
  if (!layers_to_transform.empty() &&
      std::find(layers_to_transform.begin(), layers_to_transform.end(), module_layer(module)) ==
          layers_to_transform.end())
    return false;
  if (!target_modules_regex.empty()) {
    const std::regex re(target_modules_regex);
    for (const auto& n : spellings(module))
      if (std::regex_match(n, re)) return true;
    return false;
  }
  for (const auto& t : target_modules)
    if (entry_matches(t, module)) return true;
  return false;
}

PeftTensorKey peft_tensor_key(const PeftConfig& config, const std::string& key, const std::string& file) {
  static const std::string kPrefix = "base_model.model.";  // PeftModel.base_model (LoraModel).model
  if (key.rfind(kPrefix, 0) != 0)
    fail(file, ": tensor '", key, "' does not start with '", kPrefix, "' (not a PEFT adapter file)");
  const std::string rest = key.substr(kPrefix.size());
  for (auto [suffix, kind] : {std::pair{".lora_A.weight", PeftTensorKey::kLoraA},
                              std::pair{".lora_B.weight", PeftTensorKey::kLoraB}})
    if (ends_with(rest, suffix)) return {kind, rest.substr(0, rest.size() - std::string(suffix).size())};
  for (const auto& m : config.modules_to_save)
    if (rest.rfind(m + ".", 0) == 0 || rest.find("." + m + ".") != std::string::npos)
      return {PeftTensorKey::kSavedModule, rest};
  fail(file, ": tensor '", key, "' is not a lora_A/lora_B weight (mtpf reads plain LoRA only)");
}

std::string peft_resolve_module(const std::string& spelled, const std::function<bool(const std::string&)>& exists) {
  if (exists(spelled)) return spelled;
  for (const std::string prefix : kTaskModelPrefixes)
    if (spelled.rfind(prefix, 0) == 0 && exists(spelled.substr(prefix.size()))) return spelled.substr(prefix.size());
  return "";
}

int module_layer(const std::string& module) {
  // "<...>layer.<digits>.<...>": the first such run, at most 6 digits (a longer one names no real layer).
  for (size_t at = module.find("layer."); at != std::string::npos; at = module.find("layer.", at + 1)) {
    if (at > 0 && module[at - 1] != '.') continue;
    size_t i = at + 6, j = i;
    while (j < module.size() && j - i <= 6 && module[j] >= '0' && module[j] <= '9') ++j;
    if (j > i && j - i <= 6 && j < module.size() && module[j] == '.') return std::stoi(module.substr(i, j - i));
  }
  return -1;
}

PeftConfig peft_read_config(const std::string& dir) {
  const fs::path path = fs::path(dir) / "adapter_config.json";
  if (!fs::is_directory(dir)) fail(dir, ": adapter folder not found");
  if (!fs::exists(path)) fail(path.string(), ": file not found (a PEFT adapter folder needs adapter_config.json)");
  const std::string src = path.string();
  json j;
  {
    std::ifstream in(path);
    if (!in) fail(src, ": file not found or not readable");
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      fail(src, ": malformed JSON (", e.what(), ")");
    }
  }
  if (!j.is_object()) fail(src, ": not a JSON object");
  auto get = [&](const char* key) -> const json* { return j.contains(key) && !j[key].is_null() ? &j[key] : nullptr; };
  auto is_true = [&](const char* key) { return get(key) && get(key)->is_boolean() && get(key)->get<bool>(); };
  PeftConfig c;
  try {
    if (!get("peft_type") || j["peft_type"] != "LORA")
      fail(src, ": peft_type is ", get("peft_type") ? j["peft_type"].dump() : "missing", "; mtpf reads LORA adapters");
    const auto r = get("r") ? json_integer<int>(j["r"]) : std::nullopt;
    if (!r || *r <= 0) fail(src, ": r must be a positive integer");
    c.r = *r;
    if (get("lora_alpha")) c.lora_alpha = j["lora_alpha"].get<double>();
    if (get("lora_dropout")) c.lora_dropout = j["lora_dropout"].get<double>();
    c.use_rslora = is_true("use_rslora");
    if (get("bias") && j["bias"] != "none")
      fail(src, ": bias ", j["bias"].dump(), " is not supported (mtpf adapters train no biases)");
    if (is_true("fan_in_fan_out")) fail(src, ": fan_in_fan_out (Conv1D layers) is not supported");
    if (is_true("use_dora")) fail(src, ": DoRA (use_dora) is not supported");
    for (const char* key : {"rank_pattern", "alpha_pattern"})
      if (get(key) && !j[key].empty()) fail(src, ": ", key, " (per-module ranks) is not supported");
    const json* t = get("target_modules");
    if (!t) fail(src, ": target_modules is missing");
    if (t->is_string()) {
      c.target_modules_regex = t->get<std::string>();
      try {
        std::regex check(c.target_modules_regex);
      } catch (const std::regex_error& e) {
        fail(src, ": target_modules regex '", c.target_modules_regex, "' is invalid (", e.what(), ")");
      }
    } else {
      c.target_modules = t->get<std::vector<std::string>>();
    }
    if (const json* l = get("layers_to_transform"))
      for (const json& v : l->is_array() ? *l : json::array({*l})) {
        auto layer = json_integer<int>(v);
        if (!layer) fail(src, ": layers_to_transform holds ", v.dump(), ", not a layer index");
        c.layers_to_transform.push_back(*layer);
      }
    if (const json* m = get("modules_to_save")) c.modules_to_save = m->get<std::vector<std::string>>();
    if (get("base_model_name_or_path")) c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
    if (get("task_type")) c.task_type = j["task_type"].get<std::string>();
  } catch (const json::exception& e) {
    fail(src, ": unexpected value (", e.what(), ")");
  }
  return c;
}

}  // namespace mtpf
