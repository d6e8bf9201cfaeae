// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw little-endian data. We read F32/F16/BF16/F64 and write F32 (or the tensor's own dtype).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace mtpf {

struct SafetensorsFile {
  std::map<std::string, torch::Tensor> tensors;  // CPU tensors, in the file's dtype
  std::map<std::string, std::string> metadata;   // the optional "__metadata__" entry
};

// Reads the whole file, checking the header against the data: every error names `path` and the tensor.
SafetensorsFile safetensors_read(const std::string& path);

// Writes atomically (temp file + rename). Tensors are written contiguous, in their own dtype.
void safetensors_write(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace mtpf
