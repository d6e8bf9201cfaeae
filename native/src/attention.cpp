#include "attention.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>
#include <limits>

#include "dropout.h"
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
  if (mask_bias.defined()) scores = scores + bias_as(mask_bias, scores.scalar_type());
  auto probs = torch::softmax(scores, -1);
  if (dropout_p > 0) probs = mtpf::dropout(probs, dropout_p, /*train=*/true);
  return torch::matmul(probs, v);
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask_bias, double dropout_p) {
  // With dropout on the CPU, the plain form: its probabilities take mtpf's parallel dropout (SDPA would fall back to
  // the same plain form there, with libtorch's single-threaded bernoulli_).
  if (dropout_p > 0 && q.device().is_cpu()) return attention_reference(q, k, v, mask_bias, dropout_p);
#if MTPF_TORCH_AT_LEAST(2, 0)
  std::optional<torch::Tensor> bias;
  if (mask_bias.defined()) bias = bias_as(mask_bias, q.scalar_type());
  return at::scaled_dot_product_attention(q, k, v, bias, dropout_p, /*is_causal=*/false);
#else
  return attention_reference(q, k, v, mask_bias, dropout_p);
#endif
}

TokenLayout TokenLayout::from_mask(const torch::Tensor& attention_mask, torch::ScalarType dtype, bool pack) {
  TokenLayout l;
  l.batch = attention_mask.size(0);
  l.seq = attention_mask.size(1);
  if (!pack) {
    l.mask_bias = attention_mask_bias(attention_mask, dtype);
    return l;
  }
  const auto mask = attention_mask.to(torch::kCPU).ne(0);  // the layout is planned on the host
  const int64_t tokens = mask.sum().item<int64_t>();
  if (tokens == l.batch * l.seq) {  // no padding: nothing to save
    l.mask_bias = attention_mask_bias(attention_mask, dtype);
    return l;
  }
  const auto device = attention_mask.device();
  l.index = mask.reshape({-1}).nonzero().squeeze(1).to(device);
  // Each row's real tokens are consecutive packed rows, starting at offset[r].
  const auto lengths_t = mask.sum(1).contiguous();
  const std::vector<int64_t> lengths(lengths_t.data_ptr<int64_t>(), lengths_t.data_ptr<int64_t>() + l.batch);
  std::vector<int64_t> offset(l.batch, 0), order;
  for (int64_t r = 1; r < l.batch; ++r) offset[r] = offset[r - 1] + lengths[r - 1];
  for (int64_t r = 0; r < l.batch; ++r)
    if (lengths[r] > 0) order.push_back(r);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  std::vector<int64_t> scatter(tokens);
  int64_t base = 0;
  for (size_t i = 0; i < order.size();) {
    // A group: the longest remaining row and every next one at least 0.8 of its length.
    const int64_t len = lengths[order[i]];
    size_t j = i;
    while (j < order.size() && lengths[order[j]] * 5 >= len * 4) ++j;
    Group g;
    g.rows = static_cast<int64_t>(j - i);
    g.len = len;
    std::vector<int64_t> gather(g.rows * len, tokens);
    std::vector<float> keep(g.rows * len, 1.f);
    bool ragged = false;
    for (int64_t s = 0; s < g.rows; ++s) {
      const int64_t r = order[i + s];
      for (int64_t t = 0; t < len; ++t) {
        if (t < lengths[r]) {
          gather[s * len + t] = offset[r] + t;
          scatter[offset[r] + t] = base + s * len + t;
        } else {
          keep[s * len + t] = 0.f;
          ragged = true;
        }
      }
    }
    g.gather = torch::tensor(gather, torch::kLong).to(device);
    if (ragged)
      g.mask_bias = attention_mask_bias(torch::tensor(keep, torch::kFloat32).view({g.rows, len}), dtype).to(device);
    base += g.rows * len;
    l.groups.push_back(std::move(g));
    i = j;
  }
  l.scatter = torch::tensor(scatter, torch::kLong).to(device);
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

torch::Tensor TokenLayout::attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  int64_t heads, double dropout_p) const {
  const int64_t width = q.size(-1), head_dim = width / heads;
  if (!packed()) {
    auto split = [&](const torch::Tensor& x) { return x.view({batch, seq, heads, head_dim}).transpose(1, 2); };
    auto ctx = attention(split(q), split(k), split(v), mask_bias, dropout_p);
    return ctx.transpose(1, 2).reshape({batch, seq, width});
  }
  // One zero row past the real ones: what padded slots of a group gather.
  auto zero = torch::zeros({1, width}, q.options());
  const auto qz = torch::cat({q, zero}), kz = torch::cat({k, zero}), vz = torch::cat({v, zero});
  std::vector<torch::Tensor> outs;
  for (const auto& g : groups) {
    auto split = [&](const torch::Tensor& x) {
      return x.index_select(0, g.gather).view({g.rows, g.len, heads, head_dim}).transpose(1, 2);
    };
    auto ctx = attention(split(qz), split(kz), split(vz), g.mask_bias, dropout_p);
    outs.push_back(ctx.transpose(1, 2).reshape({g.rows * g.len, width}));
  }
  return (outs.size() == 1 ? outs[0] : torch::cat(outs)).index_select(0, scatter);
}

}  // namespace mtpf
