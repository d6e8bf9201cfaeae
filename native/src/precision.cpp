#include "precision.h"

#ifdef MTPF_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "errors.h"

namespace mtpf {

bool has_bf16_matrix_units(const torch::Device& device) {
  if (device.is_cuda()) {
#ifdef MTPF_WITH_CUDA
    const auto* props = at::cuda::getDeviceProperties(device.has_index() ? device.index() : 0);
    return props->major >= 8;
#else
    return false;
#endif
  }
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

std::string resolve_precision(const std::string& requested, const torch::Device& device) {
  if (requested == "fp32" || requested == "bf16") return requested;
  if (requested == "auto") return has_bf16_matrix_units(device) ? "bf16" : "fp32";
  fail("unknown precision '", requested, "' (fp32, bf16 or auto)");
}

}  // namespace mtpf
