// The one place where libtorch versions differ: Debian's 1.13 on CPU hosts, 2.x with CUDA on GPU hosts.
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#define MTPF_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace mtpf {

// bf16 autocast on CUDA for the lifetime of the guard (fp32 master weights stay untouched).
class CudaAutocastGuard {
 public:
  explicit CudaAutocastGuard(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
#if MTPF_TORCH_AT_LEAST(2, 4)
    prev_ = at::autocast::is_autocast_enabled(at::kCUDA);
    prev_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    prev_ = at::autocast::is_enabled();
    prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  ~CudaAutocastGuard() {
    if (!enabled_) return;
#if MTPF_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(at::kCUDA, prev_);
    at::autocast::set_autocast_dtype(at::kCUDA, prev_dtype_);
#else
    at::autocast::set_enabled(prev_);
    at::autocast::set_autocast_gpu_dtype(prev_dtype_);
#endif
    at::autocast::clear_cache();
  }
  CudaAutocastGuard(const CudaAutocastGuard&) = delete;
  CudaAutocastGuard& operator=(const CudaAutocastGuard&) = delete;

 private:
  bool enabled_;
  bool prev_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

}  // namespace mtpf
