#include "mtpf/formats/head_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "mtpf/formats/error.h"
#include "mtpf/formats/json_field.h"

namespace mtpf {

nlohmann::json json_read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": file not found");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": malformed JSON (", e.what(), ")");
  }
}

HeadMeta head_paths(const std::string& dir, const std::string& name) {
  auto ok = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  if (name.empty() || !std::all_of(name.begin(), name.end(), ok))
    fail("head name '", name, "' must be non-empty and use only letters, digits, '_' and '-' (it names a file)");
  const std::string base = (std::filesystem::path(dir) / ("head_" + name)).string();
  HeadMeta meta;
  meta.json_path = base + ".json";
  meta.weights_path = base + ".safetensors";
  return meta;
}

HeadMeta head_read_meta(const std::string& dir, const std::string& name) {
  HeadMeta meta = head_paths(dir, name);
  const nlohmann::json j = json_read_file(meta.json_path);
  try {
    const auto in_features = json_integer<int64_t>(j.at("in_features"));
    const auto num_labels = json_integer<int64_t>(j.at("num_labels"));
    if (!in_features || !num_labels) fail(meta.json_path, ": in_features and num_labels must be integers");
    meta.in_features = *in_features;
    meta.num_labels = *num_labels;
    if (j.contains("labels") && !j["labels"].is_null()) meta.labels = j["labels"].get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    fail(meta.json_path, ": unexpected value (", e.what(), ")");
  }
  if (meta.num_labels <= 0 || meta.in_features <= 0)
    fail(meta.json_path, ": num_labels and in_features must be positive");
  if (!meta.labels.empty() && static_cast<int64_t>(meta.labels.size()) != meta.num_labels)
    fail(meta.json_path, ": ", meta.labels.size(), " labels but num_labels ", meta.num_labels);
  return meta;
}

nlohmann::json head_meta_json(const std::string& name, int64_t in_features, int64_t num_labels,
                              const std::vector<std::string>& labels) {
  return {{"name", name}, {"in_features", in_features}, {"num_labels", num_labels}, {"labels", labels}};
}

}  // namespace mtpf
