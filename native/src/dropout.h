// Dropout for the encoder's training forwards.
#pragma once
#include <torch/torch.h>

namespace mtpf {

// Zeroes each element with probability p and scales the rest by 1 / (1 - p), as torch::dropout does, with the
// same determinism under torch::manual_seed. On the CPU the mask comes from a counter-based generator (SplitMix64
// over element indices, seeded by one draw from libtorch's default generator), filled by all threads: libtorch's
// bernoulli_ fills it on one thread and took 16% of a training step. Other devices use torch::dropout.
torch::Tensor dropout(const torch::Tensor& x, double p, bool train);

// The 0/1 keep mask dropout(x, p) draws on the CPU for `numel` elements from `seed` (exposed for tests).
torch::Tensor dropout_keep_mask(int64_t numel, double p, uint64_t seed);

// A Dropout module under HF's name ("dropout"), for the encoders' layers.
struct DropoutImpl : torch::nn::Module {
  double p;
  explicit DropoutImpl(double p) : p(p) {}
  torch::Tensor forward(const torch::Tensor& x) { return mtpf::dropout(x, p, is_training()); }
};
TORCH_MODULE(Dropout);

}  // namespace mtpf
