#include "dropout.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <cstdint>
#include <cstring>
#include <limits>

namespace mtpf {

namespace {

inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// dst = src * (keep ? scale : 0) in one pass, rounding as libtorch's x * keep * scale does (the product in float for
// bf16 / half / float, in double for double; NaN * 0 stays NaN). libtorch's two products take bool -> dtype casts on
// a scalar path: 3 ms per bf16 attention-probability tensor of 16 x 12 x 128 x 128, against 0.4 ms for a plain
// vectorized product. The fp32 and bf16 loops are plain so that the compiler vectorizes them; on x86 they are built
// for AVX-512 and AVX2 beside the baseline and picked at load time (GCC's target_clones).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MTPF_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MTPF_VECTOR_CLONES
#endif

MTPF_VECTOR_CLONES void scale_kept_f32(const float* src, const uint8_t* keep, float* dst, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * (static_cast<float>(keep[i]) * s);
}

// bf16 as its bits: widen to float, multiply, round to nearest even (c10::BFloat16's rule, NaN to 0x7FC0).
MTPF_VECTOR_CLONES void scale_kept_bf16(const uint16_t* src, const uint8_t* keep, uint16_t* dst, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t wide = static_cast<uint32_t>(src[i]) << 16;
    float v;
    std::memcpy(&v, &wide, 4);
    v *= static_cast<float>(keep[i]) * s;  // branch-free, so that it vectorizes
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    dst[i] = static_cast<uint16_t>((bits & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : rounded);
  }
}

torch::Tensor masked_scale(const torch::Tensor& x, const torch::Tensor& keep, double scale) {
  auto in = x.contiguous();
  auto out = torch::empty_like(in);
  const bool* k = keep.data_ptr<bool>();
  const auto* k8 = reinterpret_cast<const uint8_t*>(k);  // 0 / 1 bytes: GCC vectorizes no loads of bool
  const int64_t grain = 1 << 16;
  if (in.scalar_type() == torch::kFloat32) {
    const float* src = in.data_ptr<float>();
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, in.numel(), grain, [&](int64_t b, int64_t e) {
      scale_kept_f32(src + b, k8 + b, dst + b, e - b, static_cast<float>(scale));
    });
  } else if (in.scalar_type() == torch::kBFloat16) {
    const auto* src = reinterpret_cast<const uint16_t*>(in.data_ptr<at::BFloat16>());
    auto* dst = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
    at::parallel_for(0, in.numel(), grain, [&](int64_t b, int64_t e) {
      scale_kept_bf16(src + b, k8 + b, dst + b, e - b, static_cast<float>(scale));
    });
  } else {
    AT_DISPATCH_FLOATING_TYPES_AND(at::kHalf, in.scalar_type(), "mtpf_dropout", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const scalar_t* src = in.data_ptr<scalar_t>();
      scalar_t* dst = out.data_ptr<scalar_t>();
      const auto s = static_cast<acc_t>(scale);
      at::parallel_for(0, in.numel(), grain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          dst[i] = static_cast<scalar_t>(static_cast<acc_t>(src[i]) * (k[i] ? s : acc_t(0)));
      });
    });
  }
  return out;
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
    return masked_scale(x, keep, scale);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto keep = ctx->get_saved_variables()[0];
    return {masked_scale(grads[0], keep, ctx->saved_data["scale"].toDouble()), torch::Tensor()};
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
