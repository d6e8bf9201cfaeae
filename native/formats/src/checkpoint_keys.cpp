#include "mtpf/formats/checkpoint_keys.h"

namespace mtpf {

std::string normalize_checkpoint_key(std::string key) {
  for (const std::string prefix : kTaskModelPrefixes) {
    if (key.rfind(prefix, 0) == 0) {
      key = key.substr(prefix.size());
      break;
    }
  }
  auto replace_suffix = [&key](const std::string& from, const std::string& to) {
    if (key.size() >= from.size() && key.compare(key.size() - from.size(), from.size(), from) == 0)
      key = key.substr(0, key.size() - from.size()) + to;
  };
  replace_suffix(".gamma", ".weight");
  replace_suffix(".beta", ".bias");
  return key;
}

}  // namespace mtpf
