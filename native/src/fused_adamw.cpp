#include "fused_adamw.h"

#include <map>
#include <sstream>
#include <string>
#include <type_traits>

#include "errors.h"
#include "torch_compat.h"

namespace mtpf {

namespace {

// torch::optim keys its per-parameter state by the parameter's TensorImpl address: as a string in libtorch 1.x
// (c10::guts::to_string, i.e. the pointer streamed), as the pointer itself in 2.x.
template <class Map>
typename Map::mapped_type& state_slot(Map& states, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return states[key.str()];
  } else {
    return states[p.unsafeGetTensorImpl()];
  }
}

}  // namespace

bool fused_adamw_available(const torch::Device& device) {
#if MTPF_TORCH_AT_LEAST(2, 4)
  return device.is_cuda() || device.is_cpu();
#elif MTPF_TORCH_AT_LEAST(2, 1)
  return device.is_cuda();
#else
  return false;
#endif
}

std::unique_ptr<torch::optim::OptimizerParamState>& adamw_state_slot(torch::optim::AdamW& optimizer,
                                                                     const torch::Tensor& p) {
  return state_slot(optimizer.state(), p);
}

void fused_adamw_step(torch::optim::AdamW& optimizer) {
#if MTPF_TORCH_AT_LEAST(2, 1)
  // Unverified until a libtorch 2.x run (docs/gpu-notes.md): this branch does not compile against 1.13.
  struct Bucket {
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
  };
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups()) {
    auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
    if (o.amsgrad()) fail("fused AdamW: amsgrad is not supported");
    // The kernel reads one step count per parameter; parameters skipped on earlier steps (an adapter whose task
    // had no batch) count fewer steps, so parameters are grouped by their count.
    std::map<int64_t, Bucket> buckets;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = adamw_state_slot(optimizer, p);
      if (!slot) {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      s.step(s.step() + 1);
      auto& b = buckets[s.step()];
      b.params.push_back(p);
      b.grads.push_back(p.grad());
      b.exp_avgs.push_back(s.exp_avg());
      b.exp_avg_sqs.push_back(s.exp_avg_sq());
    }
    for (auto& [step, b] : buckets) {
      auto count = torch::full({}, static_cast<double>(step), b.params.front().options().dtype(torch::kFloat32));
      std::vector<torch::Tensor> steps(b.params.size(), count);
      at::_fused_adamw_(b.params, b.grads, b.exp_avgs, b.exp_avg_sqs, at::TensorList{}, steps, o.lr(),
                        std::get<0>(o.betas()), std::get<1>(o.betas()), o.weight_decay(), o.eps(),
                        /*amsgrad=*/false, /*maximize=*/false);
    }
  }
#else
  (void)optimizer;
  fail("fused AdamW needs libtorch >= 2.1 (this is ", TORCH_VERSION, ")");
#endif
}

}  // namespace mtpf
