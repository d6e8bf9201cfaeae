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

// From which length the CPU flash kernel beats the plain form, fwd + bwd (PyTorch 2.13, 2 threads, 12 heads of 32):
// fp32 from 128 tokens (16 rows of 128: flash 28.7 ms, plain 32.0; of 64: 9.3 and 8.5); in bf16 its kernel is far
// slower below 1024 (16 of 128: flash 40.0 ms, plain 11.1; 4 of 512: 51.5 and 31.4; 2 of 1024: 77.9 and 161.9).
// Measured on an AMD EPYC with avx512_bf16 by scripts/bench/attention_cpu.py.
int64_t cpu_flash_from_length(torch::ScalarType dtype) { return dtype == torch::kBFloat16 ? 1024 : 128; }

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

// x.index_select(0, index) for an index without repeats, whose backward places the gradient rows back with one
// index_copy into zeros (autograd's index_select backward accumulates them with index_add, which must allow
// repeats and is slower).
struct RowsAt : torch::autograd::Function<RowsAt> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& index) {
    ctx->save_for_backward({index});
    ctx->saved_data["rows"] = x.size(0);
    return x.index_select(0, index);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto index = ctx->get_saved_variables()[0];
    auto sizes = grads[0].sizes().vec();
    sizes[0] = ctx->saved_data["rows"].toInt();
    return {torch::zeros(sizes, grads[0].options()).index_copy_(0, index, grads[0]), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor attention_mask_bias(const torch::Tensor& attention_mask, torch::ScalarType dtype) {
  auto keep = attention_mask.to(dtype).unsqueeze(1).unsqueeze(2);
  return (1.0 - keep) * lowest_value(dtype);
}

torch::Tensor attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& mask_bias, double dropout_p) {
  // In place: the product's backward needs its inputs only, not its output.
  auto scores = torch::matmul(q, k.transpose(-1, -2)).mul_(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  if (mask_bias.defined()) scores.add_(bias_as(mask_bias, scores.scalar_type()));
  auto probs = torch::softmax(scores, -1);
  if (dropout_p > 0) probs = mtpf::dropout(probs, dropout_p, /*train=*/true);
  return torch::matmul(probs, v);
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask_bias, double dropout_p) {
  // On the CPU the plain form where it is faster: with dropout (its probabilities take mtpf's parallel dropout;
  // SDPA would fall back to the same plain form, with libtorch's single-threaded bernoulli_), and below the length
  // where the CPU flash kernel's fixed costs pay off (cpu_flash_from_length).
  if (q.device().is_cpu() && (dropout_p > 0 || q.size(-2) < cpu_flash_from_length(q.scalar_type())))
    return attention_reference(q, k, v, mask_bias, dropout_p);
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
  std::vector<int64_t> offset(l.batch + 1, 0), order;
  for (int64_t r = 1; r <= l.batch; ++r) offset[r] = offset[r - 1] + lengths[r - 1];
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
    std::vector<float> keep(g.rows * len, 1.f);
    bool ragged = false;
    for (int64_t s = 0; s < g.rows; ++s) {
      const int64_t r = order[i + s];
      for (int64_t t = 0; t < len; ++t) {
        if (t < lengths[r]) {
          scatter[offset[r] + t] = base + s * len + t;
        } else {
          keep[s * len + t] = 0.f;
          ragged = true;
        }
      }
    }
    if (ragged)
      g.mask_bias = attention_mask_bias(torch::tensor(keep, torch::kFloat32).view({g.rows, len}), dtype).to(device);
    base += g.rows * len;
    l.groups.push_back(std::move(g));
    i = j;
  }
  l.slots = base;
  l.scatter = torch::tensor(scatter, torch::kLong).to(device);
  l.row_offset = std::move(offset);
  return l;
}

torch::Tensor TokenLayout::pack(const torch::Tensor& padded) const {
  if (!packed()) return padded;
  return RowsAt::apply(padded.reshape({batch * seq, padded.size(-1)}), index);
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
  // Each projection's rows placed at their slots by one index_copy into zeros (padding slots stay 0), then split
  // into the groups: the backward is one index_select and one cat per projection (a slice per group would give a
  // zero-filled copy of the whole buffer per group, summed).
  std::vector<int64_t> sizes;
  for (const auto& g : groups) sizes.push_back(g.rows * g.len);
  auto place = [&](const torch::Tensor& x) {
    return torch::zeros({slots, width}, x.options()).index_copy(0, scatter, x).split_with_sizes(sizes);
  };
  const auto qs = place(q), ks = place(k), vs = place(v);
  std::vector<torch::Tensor> outs;
  for (size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    auto split = [&](const torch::Tensor& x) { return x.view({g.rows, g.len, heads, head_dim}).transpose(1, 2); };
    auto ctx = attention(split(qs[i]), split(ks[i]), split(vs[i]), g.mask_bias, dropout_p);
    outs.push_back(ctx.transpose(1, 2).reshape({g.rows * g.len, width}));
  }
  return RowsAt::apply(outs.size() == 1 ? outs[0] : torch::cat(outs), scatter);
}

}  // namespace mtpf
