// Sentence embeddings from token embeddings.
#pragma once
#include <torch/torch.h>

namespace mtpf {

// Mean of the token embeddings [batch, seq, hidden] where attention_mask [batch, seq] is 1.
torch::Tensor mean_pool(const torch::Tensor& hidden, const torch::Tensor& attention_mask);
// The first token's embedding ([CLS] / <s>).
torch::Tensor cls_pool(const torch::Tensor& hidden);
torch::Tensor l2_normalize(const torch::Tensor& x);

}  // namespace mtpf
