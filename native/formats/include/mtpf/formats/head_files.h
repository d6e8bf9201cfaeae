// Linear heads beside an adapter, mtpf's own files (PEFT saves no heads): head_<name>.json
// {"name", "in_features", "num_labels", "labels"} and head_<name>.safetensors (weight [num_labels, in_features],
// bias [num_labels]). Both engines read the JSON through this and the tensors with their own safetensors reader.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mtpf {

struct HeadMeta {
  std::string json_path, weights_path;  // head_<name>.json and head_<name>.safetensors of the folder
  int64_t in_features = 0, num_labels = 0;
  std::vector<std::string> labels;  // empty, or one per output row
};

// The two paths, after refusing a name that cannot be part of a file name.
HeadMeta head_paths(const std::string& dir, const std::string& name);

// head_<name>.json of `dir`, read and checked: integer sizes, num_labels positive, one label per row when given.
HeadMeta head_read_meta(const std::string& dir, const std::string& name);

// The content of head_<name>.json.
nlohmann::json head_meta_json(const std::string& name, int64_t in_features, int64_t num_labels,
                              const std::vector<std::string>& labels);

// A JSON file, parsed: the error names the file (missing, or malformed and why).
nlohmann::json json_read_file(const std::string& path);

}  // namespace mtpf
