// safetensors as fp32 for the runtime: the header is the format layer's (mtpf/formats/safetensors.h: read and checked
// once for both engines); F32, F16, BF16 (and F64) tensors are read as fp32, other dtypes refused when the file
// opens. Every error names the file and the tensor.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mtpf/formats/safetensors.h"

namespace mtpf::rt {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return entries_.count(name) > 0; }
  const std::map<std::string, SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsEntry& entry(const std::string& name) const;
  // The tensor as fp32; `shape` (when non-empty) must match exactly, else the error names both shapes and `why`.
  std::vector<float> read_f32(const std::string& name, const std::vector<int64_t>& shape = {},
                              const std::string& why = "") const;

 private:
  std::string path_;
  std::vector<uint8_t> data_;  // the data section
  std::map<std::string, SafetensorsEntry> entries_;
};

// fp16 / bf16 bit patterns to fp32.
float half_to_float(uint16_t h);
float bf16_to_float(uint16_t b);

// Writes fp32 tensors (for tests and tools). tensors: name -> (shape, values).
void safetensors_write_f32(const std::string& path,
                           const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors);

}  // namespace mtpf::rt
