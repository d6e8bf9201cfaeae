#include "safetensors.h"

#include <cmath>
#include <cstring>
#include <fstream>

#include "errors.h"

namespace mtpf::rt {

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
  SafetensorsHeader header = safetensors_read_header(in, static_cast<uint64_t>(in.tellg()), path);
  for (const auto& [name, e] : header.entries)
    if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16" && e.dtype != "F64")
      fail(path, ": tensor '", name, "' has dtype ", e.dtype, " (the runtime reads F32, F16, BF16, F64)");
  entries_ = std::move(header.entries);
  data_.resize(header.data_size);
  in.seekg(static_cast<std::streamoff>(header.data_start));
  in.read(reinterpret_cast<char*>(data_.data()), static_cast<std::streamsize>(header.data_size));
  if (static_cast<uint64_t>(in.gcount()) != header.data_size) fail(path, ": read failed (truncated file?)");
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
  const size_t n = (e.end - e.begin) / safetensors_dtype_size(e.dtype);
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
  std::map<std::string, SafetensorsEntry> entries;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const uint64_t bytes = t.second.size() * 4;
    entries[name] = {"F32", t.first, offset, offset + bytes};
    offset += bytes;
  }
  const std::string head = safetensors_header_bytes(entries);
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(path, ": cannot write");
  out.write(head.data(), static_cast<std::streamsize>(head.size()));
  for (const auto& [name, t] : tensors)
    out.write(reinterpret_cast<const char*>(t.second.data()), static_cast<std::streamsize>(t.second.size() * 4));
  if (!out) fail(path, ": write failed");
}

}  // namespace mtpf::rt
