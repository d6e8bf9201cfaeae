// Scaled dot-product attention over [batch, heads, seq, head_dim] with a key padding mask.
#pragma once
#include <torch/torch.h>

namespace mtpf {

// Additive mask [batch, 1, 1, seq] from a 0/1 attention mask [batch, seq]: 0 where attended, the dtype's
// lowest value where padded (as HF's get_extended_attention_mask does).
torch::Tensor attention_mask_bias(const torch::Tensor& attention_mask, torch::ScalarType dtype);

// softmax(q k^T / sqrt(d) + mask_bias) v. On libtorch >= 2.0 this is at::scaled_dot_product_attention
// (flash / memory-efficient kernels on CUDA); attention_reference is the plain form both are tested against.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask_bias, double dropout_p);
torch::Tensor attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& mask_bias, double dropout_p);

// Where a layer's token rows live. Padded: [batch, seq, hidden], as HF computes. Packed: only the real tokens,
// [tokens, hidden], with the flat positions (row * seq + column) they came from — every linear, LayerNorm, GELU
// and dropout then computes on real tokens only, and attention scatters q, k, v back to [batch, seq] for its two
// products (a small share of the FLOPs) and gathers its result. Real tokens get the same values either way.
struct TokenLayout {
  torch::Tensor mask_bias;  // [batch, 1, 1, seq] (attention_mask_bias)
  torch::Tensor index;      // packed: [tokens] flat positions of the real tokens; undefined: padded
  int64_t batch = 0, seq = 0;

  // From a 0/1 attention mask [batch, seq]; packed when `pack` and the mask has padding.
  static TokenLayout from_mask(const torch::Tensor& attention_mask, torch::ScalarType dtype, bool pack);
  bool packed() const { return index.defined(); }
  // [batch, seq, hidden] -> this layout's rows (packed: [tokens, hidden]).
  torch::Tensor pack(const torch::Tensor& padded) const;
  // This layout's rows -> [batch, seq, hidden] (packed: zeros at padding).
  torch::Tensor unpack(const torch::Tensor& rows) const;
  // Rows [.., heads * head_dim] -> [batch, heads, seq, head_dim], and back.
  torch::Tensor to_heads(const torch::Tensor& rows, int64_t heads) const;
  torch::Tensor from_heads(const torch::Tensor& ctx) const;
};

}  // namespace mtpf
