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

}  // namespace mtpf
