#include "losses.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include "errors.h"
#include "pooling.h"

namespace mtpf {

namespace {

// Turns autocast off (CPU and CUDA) for its lifetime: what `torch.autocast(enabled=False)` does in Python.
// Casting the inputs up is not enough, since autocast would run the matmul in bf16 again.
struct NoAutocast {
  c10::impl::ExcludeDispatchKeyGuard guard{c10::autocast_dispatch_keyset};
};

torch::Tensor in_batch_cross_entropy(const torch::Tensor& logits) {
  auto target = torch::arange(logits.size(0), logits.options().dtype(torch::kLong));
  return torch::nn::functional::cross_entropy(logits, target);
}

}  // namespace

torch::Tensor info_nce_loss(const torch::Tensor& anchors, const torch::Tensor& positives, double temperature,
                            bool symmetric) {
  if (!anchors.defined() || !positives.defined()) fail("info_nce_loss: anchors and positives must be defined");
  if (anchors.dim() != 2 || anchors.sizes() != positives.sizes())
    fail("info_nce_loss: anchors ", anchors.sizes(), " and positives ", positives.sizes(),
         " must both be [batch, hidden] of the same shape");
  if (anchors.size(0) == 0) fail("info_nce_loss: empty batch");
  if (!(temperature > 0)) fail("info_nce_loss: temperature must be > 0, got ", temperature);
  NoAutocast no_autocast;
  const auto dtype = anchors.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto a = l2_normalize(anchors.to(dtype));
  auto p = l2_normalize(positives.to(dtype));
  auto logits = a.mm(p.t()) / temperature;  // [B, B]: row i scores anchor i against every positive
  auto loss = in_batch_cross_entropy(logits);
  if (symmetric) loss = (loss + in_batch_cross_entropy(logits.t())) / 2;
  return loss;
}

torch::Tensor info_nce_loss_sharded(const torch::Tensor& anchors, const torch::Tensor& all_positives, int64_t offset,
                                    double temperature) {
  if (!anchors.defined() || !all_positives.defined()) fail("info_nce_loss_sharded: inputs must be defined");
  if (anchors.dim() != 2 || all_positives.dim() != 2 || anchors.size(1) != all_positives.size(1))
    fail("info_nce_loss_sharded: anchors ", anchors.sizes(), " and positives ", all_positives.sizes(),
         " must be [b, H] and [B, H]");
  if (anchors.size(0) == 0 || offset < 0 || offset + anchors.size(0) > all_positives.size(0))
    fail("info_nce_loss_sharded: anchors rows [", offset, ", ", offset + anchors.size(0), ") outside the ",
         all_positives.size(0), " positives");
  if (!(temperature > 0)) fail("info_nce_loss_sharded: temperature must be > 0, got ", temperature);
  NoAutocast no_autocast;
  const auto dtype = anchors.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto logits = l2_normalize(anchors.to(dtype)).mm(l2_normalize(all_positives.to(dtype)).t()) / temperature;
  auto target = torch::arange(offset, offset + anchors.size(0), logits.options().dtype(torch::kLong));
  return torch::nn::functional::cross_entropy(logits, target);
}

torch::Tensor token_classification_loss(const torch::Tensor& logits, const torch::Tensor& labels,
                                        int64_t ignore_index, bool check_labels) {
  if (!logits.defined() || !labels.defined()) fail("token_classification_loss: logits and labels must be defined");
  if (logits.dim() < 2 || labels.sizes() != logits.sizes().slice(0, logits.dim() - 1))
    fail("token_classification_loss: labels ", labels.sizes(), " must match logits ", logits.sizes(),
         " without its last (class) dimension");
  if (labels.scalar_type() != torch::kLong) fail("token_classification_loss: labels must be int64");
  const int64_t k = logits.size(-1);
  auto flat_labels = labels.reshape({-1});
  auto labelled = flat_labels != ignore_index;
  // One host sync per call; it turns a CUDA device-side assert (which kills the context) into a clear error.
  if (check_labels && (labelled & ((flat_labels < 0) | (flat_labels >= k))).any().item<bool>())
    fail("token_classification_loss: labels must be in [0, ", k, ") or ", ignore_index, " (ignored)");
  NoAutocast no_autocast;
  const auto dtype = logits.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto flat_logits = logits.to(dtype).reshape({-1, k});
  // Sum, then divide by max(count, 1): the same as cross_entropy's mean over non-ignored tokens, but 0 (with a
  // gradient path) instead of NaN when nothing is labelled.
  namespace F = torch::nn::functional;
  auto sum = F::cross_entropy(flat_logits, flat_labels,
                              F::CrossEntropyFuncOptions().ignore_index(ignore_index).reduction(torch::kSum));
  auto count = labelled.sum().to(dtype).clamp_min(1);
  return sum / count;
}

}  // namespace mtpf
