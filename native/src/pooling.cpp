#include "pooling.h"

namespace mtpf {

torch::Tensor mean_pool(const torch::Tensor& hidden, const torch::Tensor& attention_mask) {
  auto mask = attention_mask.to(hidden.scalar_type()).unsqueeze(-1);
  auto summed = (hidden * mask).sum(1);
  auto counts = mask.sum(1).clamp_min(1e-9);  // an all-pad row pools to zeros, not NaN
  return summed / counts;
}

torch::Tensor cls_pool(const torch::Tensor& hidden) { return hidden.select(1, 0); }

torch::Tensor l2_normalize(const torch::Tensor& x) {
  return x / x.norm(2, -1, /*keepdim=*/true).clamp_min(1e-12);
}

}  // namespace mtpf
