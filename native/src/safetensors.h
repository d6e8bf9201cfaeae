// safetensors as torch tensors: the header is the format layer's (mtpf/formats/safetensors.h: read and checked
// once for both engines); this reads every tensor in its own dtype and writes tensors in theirs.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "mtpf/formats/safetensors.h"

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
