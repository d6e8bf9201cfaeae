// AdamW as a few multi-tensor kernels (at::_fused_adamw_) instead of about ten kernels per parameter tensor.
// It works on the state of a torch::optim::AdamW (exp_avg, exp_avg_sq, step per parameter), with the same update
// rule, so a checkpoint (AdamW::save) does not depend on which of the two ran, and the plain AdamW stays the
// reference the fused step is tested against (tests/test_fast_paths.cpp).
#pragma once
#include <torch/torch.h>

namespace mtpf {

// at::_fused_adamw_ exists for CUDA from libtorch 2.1 and for CPU from 2.4.
bool fused_adamw_available(const torch::Device& device);

// One AdamW step over every parameter of `optimizer` that has a gradient, with each group's lr, betas, eps and
// weight decay; parameters without a gradient are left alone (as AdamW::step does). amsgrad is not supported.
void fused_adamw_step(torch::optim::AdamW& optimizer);

// The optimiser's state of parameter p (created empty when absent): exposed for tests that check both
// implementations read and write the same state.
std::unique_ptr<torch::optim::OptimizerParamState>& adamw_state_slot(torch::optim::AdamW& optimizer,
                                                                     const torch::Tensor& p);

}  // namespace mtpf
