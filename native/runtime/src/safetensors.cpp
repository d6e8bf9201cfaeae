#include "safetensors.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "errors.h"
#include "mtpf/formats/json_field.h"

namespace mtpf::rt {

namespace {

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "F64") return 8;
  return 0;
}

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, ": file not found or not readable");
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (size < 8) fail(path, ": truncated safetensors file (", size, " bytes, no header length)");
  uint8_t len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > size - 8)
    fail(path, ": truncated safetensors file (header of ", header_len, " bytes, but only ", size - 8, " follow)");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": malformed safetensors header (", e.what(), ")");
  }
  if (!j.is_object()) fail(path, ": safetensors header is not a JSON object");
  const uint64_t data_size = size - 8 - header_len;
  for (const auto& [name, e] : j.items()) {
    if (name == "__metadata__") continue;
    SafetensorsEntry entry;
    try {
      entry.dtype = e.at("dtype").get<std::string>();
      for (const auto& d : e.at("shape")) {
        auto dim = json_integer<int64_t>(d);
        if (!dim) fail(path, ": tensor '", name, "' has a bad shape ", e.at("shape").dump());
        entry.shape.push_back(*dim);
      }
      const auto& offsets = e.at("data_offsets");
      const auto begin = offsets.is_array() && offsets.size() == 2 ? json_integer<uint64_t>(offsets[0]) : std::nullopt;
      const auto end = offsets.is_array() && offsets.size() == 2 ? json_integer<uint64_t>(offsets[1]) : std::nullopt;
      if (!begin || !end) fail(path, ": tensor '", name, "': data_offsets must hold two byte offsets, not ", offsets.dump());
      entry.begin = *begin;
      entry.end = *end;
    } catch (const nlohmann::json::exception& ex) {
      fail(path, ": tensor '", name, "': bad header entry (", ex.what(), ")");
    }
    const size_t elem = dtype_size(entry.dtype);
    if (elem == 0) fail(path, ": tensor '", name, "' has dtype ", entry.dtype, " (supported: F32, F16, BF16, F64)");
    uint64_t count = 1;
    for (int64_t d : entry.shape) {
      if (d < 0) fail(path, ": tensor '", name, "' has a negative dimension in shape ", shape_string(entry.shape));
      if (d != 0 && count > std::numeric_limits<uint64_t>::max() / elem / static_cast<uint64_t>(d))
        fail(path, ": tensor '", name, "' has a shape ", shape_string(entry.shape), " too large for any file");
      count *= static_cast<uint64_t>(d);
    }
    if (entry.begin > entry.end || entry.end > data_size)
      fail(path, ": tensor '", name, "' has data_offsets [", entry.begin, ", ", entry.end, "] outside the ",
           data_size, " data bytes (truncated file?)");
    if (entry.end - entry.begin != count * elem)
      fail(path, ": tensor '", name, "' holds ", entry.end - entry.begin, " bytes but ", entry.dtype, " ",
           shape_string(entry.shape), " needs ", count * elem);
    entries_.emplace(name, std::move(entry));
  }
  data_.resize(data_size);
  in.read(reinterpret_cast<char*>(data_.data()), static_cast<std::streamsize>(data_size));
  if (static_cast<uint64_t>(in.gcount()) != data_size) fail(path, ": read failed (truncated file?)");
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_, ": tensor '", name, "' is missing");
  return it->second;
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name, const std::vector<int64_t>& shape,
                                             const std::string& why) const {
  const SafetensorsEntry& e = entry(name);
  if (!shape.empty() && e.shape != shape)
    fail(path_, ": tensor '", name, "' has shape ", shape_string(e.shape), " but ", why.empty() ? "" : why + " ",
         "needs ", shape_string(shape));
  const size_t n = (e.end - e.begin) / dtype_size(e.dtype);
  std::vector<float> out(n);
  const uint8_t* src = data_.data() + e.begin;
  if (e.dtype == "F32") {
    std::memcpy(out.data(), src, n * 4);
  } else if (e.dtype == "F64") {
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      out[i] = static_cast<float>(d);
    }
  } else {
    const bool half = e.dtype == "F16";
    for (size_t i = 0; i < n; ++i) {
      const uint16_t v = uint16_t(src[2 * i]) | uint16_t(src[2 * i + 1]) << 8;
      out[i] = half ? half_to_float(v) : bf16_to_float(v);
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(out[i])) fail(path_, ": tensor '", name, "' contains NaN or Inf");
  return out;
}

void safetensors_write_f32(const std::string& path,
                           const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const uint64_t bytes = t.second.size() * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(path, ": cannot write");
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(h.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& [name, t] : tensors)
    out.write(reinterpret_cast<const char*>(t.second.data()), static_cast<std::streamsize>(t.second.size() * 4));
  if (!out) fail(path, ": write failed");
}

}  // namespace mtpf::rt
