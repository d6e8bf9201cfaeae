// The one place where libtorch versions differ: Debian's 1.13 on CPU hosts, 2.x with CUDA on GPU hosts.
#pragma once
#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>
#include <torch/version.h>

#define MTPF_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace mtpf {

// bf16 autocast on `device`'s type (CUDA, or CPU) for the lifetime of the guard; fp32 master weights stay
// untouched. The CPU form runs the same mixed-precision code as the GPU (it is how the bf16 logic is tested on
// hosts without one); it pays off only where the CPU has bf16 matrix units.
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, const torch::Device& device) : enabled_(enabled), cuda_(device.is_cuda()) {
    if (!enabled_) return;
#if MTPF_TORCH_AT_LEAST(2, 4)
    const auto type = cuda_ ? at::kCUDA : at::kCPU;
    prev_ = at::autocast::is_autocast_enabled(type);
    prev_dtype_ = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, true);
#else
    prev_ = cuda_ ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
    prev_dtype_ = cuda_ ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
#endif
  }
  ~AutocastGuard() {
    if (!enabled_) return;
#if MTPF_TORCH_AT_LEAST(2, 4)
    const auto type = cuda_ ? at::kCUDA : at::kCPU;
    at::autocast::set_autocast_enabled(type, prev_);
    at::autocast::set_autocast_dtype(type, prev_dtype_);
#else
    if (cuda_) {
      at::autocast::set_enabled(prev_);
      at::autocast::set_autocast_gpu_dtype(prev_dtype_);
    } else {
      at::autocast::set_cpu_enabled(prev_);
      at::autocast::set_autocast_cpu_dtype(prev_dtype_);
    }
#endif
    at::autocast::clear_cache();
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_, cuda_;
  bool prev_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

// Plain arithmetic on data (clustering, logistic regression): no autograd graph, and no bf16 matmuls even when
// the caller runs under autocast (distances of nearby points would lose their digits).
struct NoGradNoAutocast {
  torch::NoGradGuard no_grad;
  c10::impl::ExcludeDispatchKeyGuard no_autocast{c10::autocast_dispatch_keyset};
};

}  // namespace mtpf
