// Which precision a training or inference run computes in: fp32, or bf16 autocast (fp32 master weights).
#pragma once
#include <torch/torch.h>

#include <string>

namespace mtpf {

// True where `device` has bf16 matrix units: a CUDA GPU of compute capability 8.0 or newer (Ampere on), or an x86
// CPU with AVX512_BF16 (Cooper Lake, Zen 4 on; AMX parts have it too). Elsewhere bf16 autocast runs, but
// converting costs more than the products save.
bool has_bf16_matrix_units(const torch::Device& device);

// "fp32" or "bf16" as asked; "auto" = bf16 where has_bf16_matrix_units(device), else fp32. Anything else fails.
std::string resolve_precision(const std::string& requested, const torch::Device& device);

}  // namespace mtpf
