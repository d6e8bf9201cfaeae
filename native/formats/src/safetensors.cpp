#include "mtpf/formats/safetensors.h"

#include <filesystem>
#include <limits>
#include <set>
#include <nlohmann/json.hpp>

#include "mtpf/formats/error.h"
#include "mtpf/formats/head_files.h"
#include "mtpf/formats/json_field.h"

namespace mtpf {

size_t safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafetensorsHeader safetensors_read_header(std::istream& in, uint64_t file_size, const std::string& path) {
  // A header is JSON text of a few KB per hundred tensors: past this it is a corrupt length, not a model.
  constexpr uint64_t kMaxHeader = 100u << 20;
  if (file_size < 8) fail(path, ": truncated safetensors file (", file_size, " bytes, no header length)");
  in.seekg(0);
  uint8_t len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  if (!in) fail(path, ": read failed");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > file_size - 8)
    fail(path, ": truncated safetensors file (header of ", header_len, " bytes, but only ", file_size - 8, " follow)");
  if (header_len > kMaxHeader) fail(path, ": header of ", header_len, " bytes (over 100 MiB: not a safetensors file)");
  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  if (!in) fail(path, ": read failed in the header");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": malformed JSON header (", e.what(), ")");
  }
  if (!j.is_object()) fail(path, ": the safetensors header is not a JSON object");

  SafetensorsHeader h;
  h.data_start = 8 + header_len;
  h.data_size = file_size - h.data_start;
  for (const auto& [name, e] : j.items()) {
    if (name == "__metadata__") {
      if (e.is_object())
        for (const auto& [key, value] : e.items())
          if (value.is_string()) h.metadata[key] = value.get<std::string>();
      continue;
    }
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      fail(path, ": tensor '", name, "': bad header entry (it needs dtype, shape and data_offsets)");
    SafetensorsEntry entry;
    const auto& dtype = e["dtype"];
    const size_t elem = dtype.is_string() ? safetensors_dtype_size(dtype.get<std::string>()) : 0;
    if (elem == 0) fail(path, ": tensor '", name, "' has unsupported dtype ", dtype.dump());
    entry.dtype = dtype.get<std::string>();
    if (!e["shape"].is_array()) fail(path, ": tensor '", name, "' has a bad shape ", e["shape"].dump());
    uint64_t count = 1;
    for (const auto& d : e["shape"]) {
      const auto dim = json_integer<int64_t>(d);
      if (!dim || *dim < 0) fail(path, ": tensor '", name, "' has a bad shape ", e["shape"].dump());
      entry.shape.push_back(*dim);
      if (*dim != 0 && count > std::numeric_limits<uint64_t>::max() / elem / static_cast<uint64_t>(*dim))
        fail(path, ": tensor '", name, "' has a shape ", shape_string(entry.shape), " too large for any file");
      count *= static_cast<uint64_t>(*dim);
    }
    const auto& offsets = e["data_offsets"];
    const auto begin = offsets.is_array() && offsets.size() == 2 ? json_integer<uint64_t>(offsets[0]) : std::nullopt;
    const auto end = offsets.is_array() && offsets.size() == 2 ? json_integer<uint64_t>(offsets[1]) : std::nullopt;
    if (!begin || !end) fail(path, ": tensor '", name, "': data_offsets must hold two byte offsets, not ", offsets.dump());
    entry.begin = *begin;
    entry.end = *end;
    if (entry.begin > entry.end || entry.end > h.data_size)
      fail(path, ": tensor '", name, "' has data_offsets [", entry.begin, ", ", entry.end, "] outside the ",
           h.data_size, " data bytes (truncated file, or a header that lies about sizes)");
    if (entry.end - entry.begin != count * elem)
      fail(path, ": tensor '", name, "' holds ", entry.end - entry.begin, " bytes but ", entry.dtype, " ",
           shape_string(entry.shape), " needs ", count * elem, " bytes");
    h.entries.emplace(name, std::move(entry));
  }
  return h;
}

std::string safetensors_header_bytes(const std::map<std::string, SafetensorsEntry>& entries,
                                     const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  for (const auto& [name, e] : entries)
    header[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  std::string json = header.dump();
  while ((json.size() + 8) % 8 != 0) json.push_back(' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((uint64_t(json.size()) >> (8 * i)) & 0xff);
  return out + json;
}

std::vector<std::string> safetensors_weight_files(const std::string& model_dir) {
  namespace fs = std::filesystem;
  const fs::path dir(model_dir), single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
  if (fs::exists(single)) return {single.string()};
  if (fs::exists(index)) {
    const nlohmann::json j = json_read_file(index.string());
    if (!j.contains("weight_map") || !j["weight_map"].is_object()) fail(index.string(), ": no weight_map object");
    std::set<std::string> shards;
    for (auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) fail(index.string(), ": weight_map['", name, "'] is not a file name");
      shards.insert(file.get<std::string>());
    }
    if (shards.empty()) fail(index.string(), ": weight_map is empty");
    std::vector<std::string> files;
    for (const auto& shard : shards) files.push_back((dir / shard).string());
    return files;
  }
  if (fs::exists(dir / "pytorch_model.bin"))
    fail(model_dir, ": has only pytorch_model.bin; mtpf reads safetensors (convert with "
                    "`model.save_pretrained(dir, safe_serialization=True)`)");
  fail(model_dir, ": no model.safetensors (nor model.safetensors.index.json)");
}

}  // namespace mtpf
