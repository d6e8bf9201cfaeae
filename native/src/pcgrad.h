// PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning"): in a random task order, each task's gradient
// is projected onto the normal plane of every other task's gradient it conflicts with (negative dot product); the
// projected gradients are summed. Applied to the shared parameters only: task-specific ones keep their own gradient.
#pragma once
#include <torch/torch.h>

#include <random>
#include <vector>

namespace mtpf {

// grads[t][p]: task t's gradient of shared parameter p (undefined = zero). Dot products run over all shared
// parameters flattened together, as the reference implementation does. Returns the combined gradient per parameter.
std::vector<torch::Tensor> pcgrad_combine(const std::vector<std::vector<torch::Tensor>>& grads, std::mt19937_64& rng);

// Cosine between two tasks' gradients over all shared parameters (the interference signal logged per step).
double gradient_cosine(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b);

}  // namespace mtpf
