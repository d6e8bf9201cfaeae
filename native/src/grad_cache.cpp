#include "grad_cache.h"

#include <mutex>

#include "errors.h"
#include "losses.h"

namespace mtpf {

namespace {

// The states of the generators dropout draws from: the default CPU generator and each CUDA device's.
struct RngState {
  torch::Tensor cpu;
  std::vector<torch::Tensor> cuda;
};

RngState rng_state_save() {
  RngState s;
  {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    s.cpu = gen.get_state();
  }
  for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i) {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    s.cuda.push_back(gen.get_state());
  }
  return s;
}

void rng_state_restore(const RngState& s) {
  {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(s.cpu);
  }
  for (size_t i = 0; i < s.cuda.size(); ++i) {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(s.cuda[i]);
  }
}

void check_chunk(const torch::Tensor& e, size_t side, int64_t begin, int64_t end) {
  if (!e.defined() || e.dim() < 1 || e.size(0) != end - begin)
    fail("grad_cache: side ", side, " returned ", e.defined() ? e.sizes() : c10::IntArrayRef{}, " for rows [", begin,
         ", ", end, "); expected ", end - begin, " rows");
}

}  // namespace

torch::Tensor grad_cache_backward(const std::vector<ChunkEmbedFn>& sides, int64_t batch_size, int64_t chunk_size,
                                  const BatchLossFn& loss) {
  if (sides.empty()) fail("grad_cache: no sides to embed");
  if (batch_size <= 0 || chunk_size <= 0)
    fail("grad_cache: batch size (", batch_size, ") and chunk size (", chunk_size, ") must be positive");
  const int64_t n_chunks = (batch_size + chunk_size - 1) / chunk_size;
  auto chunk_end = [&](int64_t c) { return std::min(batch_size, (c + 1) * chunk_size); };

  // Pass 1: embeddings without activations, and the RNG state each chunk started from.
  std::vector<std::vector<RngState>> states(sides.size());
  std::vector<torch::Tensor> embeddings;
  {
    torch::NoGradGuard no_grad;
    for (size_t s = 0; s < sides.size(); ++s) {
      std::vector<torch::Tensor> chunks;
      for (int64_t c = 0; c < n_chunks; ++c) {
        states[s].push_back(rng_state_save());
        auto e = sides[s](c * chunk_size, chunk_end(c));
        check_chunk(e, s, c * chunk_size, chunk_end(c));
        chunks.push_back(e);
      }
      embeddings.push_back(torch::cat(chunks).detach().requires_grad_(true));
    }
  }
  const RngState after_pass1 = rng_state_save();

  // d loss / d embeddings: the cache.
  torch::Tensor value;
  std::vector<torch::Tensor> grads;
  {
    torch::AutoGradMode grad_on(true);
    auto l = loss(embeddings);
    if (!l.defined() || l.numel() != 1) fail("grad_cache: the loss must be a scalar");
    grads = torch::autograd::grad({l}, embeddings, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                  /*create_graph=*/false, /*allow_unused=*/true);
    value = l.detach();
  }

  // Pass 2: each chunk again, with grad and the same dropout masks; backprop its slice of the cache.
  {
    torch::AutoGradMode grad_on(true);
    for (size_t s = 0; s < sides.size(); ++s) {
      if (!grads[s].defined()) continue;  // the loss does not depend on this side
      for (int64_t c = 0; c < n_chunks; ++c) {
        rng_state_restore(states[s][c]);
        auto e = sides[s](c * chunk_size, chunk_end(c));
        check_chunk(e, s, c * chunk_size, chunk_end(c));
        if (!e.requires_grad())
          fail("grad_cache: side ", s, "'s embeddings do not require grad in pass 2 (no trainable parameters?)");
        e.backward(grads[s].slice(0, c * chunk_size, chunk_end(c)).to(e.scalar_type()));
      }
    }
  }
  rng_state_restore(after_pass1);  // later steps draw as if each chunk had run once
  return value;
}

std::vector<int64_t> row_extents(const torch::Tensor& mask) {
  if (!mask.defined() || mask.dim() != 2) fail("row_extents: mask must be [batch, seq]");
  auto nonzero = mask.to(torch::kCPU).ne(0).to(torch::kLong);
  auto positions = torch::arange(1, mask.size(1) + 1, torch::kLong);
  auto extents = (nonzero * positions).amax(1).contiguous();
  return std::vector<int64_t>(extents.data_ptr<int64_t>(), extents.data_ptr<int64_t>() + extents.numel());
}

int64_t chunk_width(const std::vector<int64_t>& extents, int64_t begin, int64_t end, int64_t multiple, int64_t width) {
  if (begin < 0 || end > static_cast<int64_t>(extents.size()) || begin >= end)
    fail("chunk_width: rows [", begin, ", ", end, ") outside the ", extents.size(), " rows");
  int64_t longest = 1;
  for (int64_t i = begin; i < end; ++i) longest = std::max(longest, extents[i]);
  if (multiple > 1) longest = (longest + multiple - 1) / multiple * multiple;
  return std::min(longest, width);
}

ChunkEmbedFn trimmed_chunks(const torch::Tensor& ids, const torch::Tensor& mask, std::vector<int64_t> extents,
                            int64_t multiple, const TokenEmbedFn& embed) {
  if (static_cast<int64_t>(extents.size()) != ids.size(0)) fail("trimmed_chunks: one extent per row needed");
  return [ids, mask, extents = std::move(extents), multiple, embed](int64_t begin, int64_t end) {
    const int64_t w = chunk_width(extents, begin, end, multiple, ids.size(1));
    return embed(ids.slice(0, begin, end).slice(1, 0, w), mask.slice(0, begin, end).slice(1, 0, w));
  };
}

}  // namespace mtpf
