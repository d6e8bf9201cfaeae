// Scaled dot-product attention over [batch, heads, seq, head_dim] with a key padding mask.
#pragma once
#include <torch/torch.h>

namespace mtpf {

// Additive mask [batch, 1, 1, seq] from a 0/1 attention mask [batch, seq]: 0 where attended, the dtype's
// lowest value where padded (as HF's get_extended_attention_mask does).
torch::Tensor attention_mask_bias(const torch::Tensor& attention_mask, torch::ScalarType dtype);

// softmax(q k^T / sqrt(d) + mask_bias) v; mask_bias may be undefined (no padding). On libtorch >= 2.0 this is
// at::scaled_dot_product_attention (flash / memory-efficient kernels on CUDA; flash on the CPU from 128 tokens,
// the plain form below, where it is faster); attention_reference is the plain form both are tested against.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask_bias, double dropout_p);
torch::Tensor attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& mask_bias, double dropout_p);

// Where a layer's token rows live. Padded: [batch, seq, hidden], as HF computes. Packed: only the real tokens,
// [tokens, hidden], in row-major order — every linear, LayerNorm, GELU and dropout then computes on real tokens
// only, and attention runs per group of rows of similar length, each group padded to its own longest row (at most
// 1/0.8 of any member's length), so its two products see little padding either. Real tokens get the same values
// either way.
struct TokenLayout {
  torch::Tensor mask_bias;  // padded: [batch, 1, 1, seq] (attention_mask_bias)
  torch::Tensor index;      // packed: [tokens] flat positions (row * seq + column) of the real tokens
  int64_t batch = 0, seq = 0;
  // Packed: rows of similar length attend together, each group padded to its longest row. The groups' slots lie
  // one after another in one buffer of `slots` rows: group g's rows * len slots, row-major.
  struct Group {
    int64_t rows = 0, len = 0;
    torch::Tensor mask_bias;  // [rows, 1, 1, len]; undefined when every row of the group has length len
  };
  std::vector<Group> groups;
  int64_t slots = 0;
  torch::Tensor scatter;  // [tokens] each packed row's slot (unique; the slots it misses are the groups' padding)
  std::vector<int64_t> row_offset;  // packed: [batch + 1] where each batch row's tokens start (host)

  // From a 0/1 attention mask [batch, seq]; packed when `pack` and the mask has padding (one host copy of it).
  static TokenLayout from_mask(const torch::Tensor& attention_mask, torch::ScalarType dtype, bool pack);
  bool packed() const { return index.defined(); }
  // How many of this layout's rows batch rows [0, batch_row) occupy.
  int64_t rows_before(int64_t batch_row) const { return packed() ? row_offset.at(batch_row) : batch_row * seq; }
  // [batch, seq, hidden] -> this layout's rows (packed: [tokens, hidden]).
  torch::Tensor pack(const torch::Tensor& padded) const;
  // This layout's rows -> [batch, seq, hidden] (packed: zeros at padding).
  torch::Tensor unpack(const torch::Tensor& rows) const;
  // Multi-head attention over rows of q, k, v projections ([.., heads * head_dim]) in this layout; rows out.
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t heads,
                       double dropout_p) const;
};

}  // namespace mtpf
