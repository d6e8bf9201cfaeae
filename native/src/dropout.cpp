#include "dropout.h"

#include <ATen/Parallel.h>

#include <cstdint>
#include <limits>

namespace mtpf {

namespace {

inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class DropoutFunction : public torch::autograd::Function<DropoutFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double p) {
    // One draw from the default generator per call: torch::manual_seed, and GradCache's saved generator states,
    // replay the same masks.
    const auto seed = static_cast<uint64_t>(torch::randint(std::numeric_limits<int64_t>::max(), {1}, torch::kLong).item<int64_t>());
    auto keep = dropout_keep_mask(x.numel(), p, seed).view(x.sizes());
    const double scale = 1.0 / (1.0 - p);
    ctx->save_for_backward({keep});
    ctx->saved_data["scale"] = scale;
    return x * keep * scale;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto keep = ctx->get_saved_variables()[0];
    return {grads[0] * keep * ctx->saved_data["scale"].toDouble(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor dropout_keep_mask(int64_t numel, double p, uint64_t seed) {
  auto keep = torch::empty({numel}, torch::kBool);
  bool* out = keep.data_ptr<bool>();
  // Keep where the upper 32 bits of the element's draw are >= p * 2^32.
  const auto threshold = static_cast<uint64_t>(p * 4294967296.0);
  at::parallel_for(0, numel, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      out[i] = (splitmix64(seed + static_cast<uint64_t>(i + 1) * 0x9E3779B97F4A7C15ULL) >> 32) >= threshold;
  });
  return keep;
}

torch::Tensor dropout(const torch::Tensor& x, double p, bool train) {
  if (!train || p <= 0) return x;
  if (!x.device().is_cpu() || p >= 1) return torch::dropout(x, p, train);
  return DropoutFunction::apply(x, p);
}

}  // namespace mtpf
