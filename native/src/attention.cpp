#include "attention.h"

#include <cmath>
#include <limits>

#include "torch_compat.h"

namespace mtpf {

namespace {

double lowest_value(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat64: return std::numeric_limits<double>::lowest();
    case torch::kBFloat16: return -3.3895313892515355e38;
    case torch::kFloat16: return -65504.0;
    default: return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

// Under autocast q is bf16 while the bias was made in fp32: rebuild it with bf16's lowest finite value
// (casting fp32's lowest would round to -inf, and an all-masked row would then give NaN).
torch::Tensor bias_as(const torch::Tensor& mask_bias, torch::ScalarType dtype) {
  if (mask_bias.scalar_type() == dtype) return mask_bias;
  return mask_bias.lt(0).to(dtype) * lowest_value(dtype);
}

}  // namespace

torch::Tensor attention_mask_bias(const torch::Tensor& attention_mask, torch::ScalarType dtype) {
  auto keep = attention_mask.to(dtype).unsqueeze(1).unsqueeze(2);
  return (1.0 - keep) * lowest_value(dtype);
}

torch::Tensor attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& mask_bias, double dropout_p) {
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(q.size(-1)));
  auto probs = torch::softmax(scores + bias_as(mask_bias, scores.scalar_type()), -1);
  if (dropout_p > 0) probs = torch::dropout(probs, dropout_p, /*train=*/true);
  return torch::matmul(probs, v);
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask_bias, double dropout_p) {
#if MTPF_TORCH_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(q, k, v, bias_as(mask_bias, q.scalar_type()), dropout_p, /*is_causal=*/false);
#else
  return attention_reference(q, k, v, mask_bias, dropout_p);
#endif
}

TokenLayout TokenLayout::from_mask(const torch::Tensor& attention_mask, torch::ScalarType dtype, bool pack) {
  TokenLayout l;
  l.batch = attention_mask.size(0);
  l.seq = attention_mask.size(1);
  l.mask_bias = attention_mask_bias(attention_mask, dtype);
  if (pack) {
    auto real = attention_mask.reshape({-1}).ne(0);
    // One host sync (nonzero); padding-free batches stay padded: nothing to save.
    auto index = real.nonzero().squeeze(1);
    if (index.size(0) < real.size(0)) l.index = index;
  }
  return l;
}

torch::Tensor TokenLayout::pack(const torch::Tensor& padded) const {
  if (!packed()) return padded;
  return padded.reshape({batch * seq, padded.size(-1)}).index_select(0, index);
}

torch::Tensor TokenLayout::unpack(const torch::Tensor& rows) const {
  if (!packed()) return rows;
  return torch::zeros({batch * seq, rows.size(-1)}, rows.options()).index_copy(0, index, rows).view({batch, seq, -1});
}

torch::Tensor TokenLayout::to_heads(const torch::Tensor& rows, int64_t heads) const {
  const int64_t width = rows.size(-1);
  return unpack(rows).view({batch, seq, heads, width / heads}).transpose(1, 2);
}

torch::Tensor TokenLayout::from_heads(const torch::Tensor& ctx) const {
  auto padded = ctx.transpose(1, 2).reshape({batch, seq, ctx.size(1) * ctx.size(3)});
  return pack(padded);
}

}  // namespace mtpf
