// GradCache: a contrastive loss over a batch larger than memory allows (the paper's batch of 1024 pairs), with
// exactly the gradients of the plain loss. Gao et al. 2021, "Scaling Deep Contrastive Learning Batch Size under
// Memory Limited Setup"; sentence-transformers' CachedMultipleNegativesRankingLoss.
//
// The loss only couples the samples through their embeddings, so backprop splits in two:
//   pass 1: embed every chunk without grad (no activations kept), compute the loss on the concatenated
//           embeddings and d loss / d embeddings (cheap: [B, H]);
//   pass 2: re-embed each chunk with grad and backprop that chunk's slice of d loss / d embeddings into the
//           encoder, so parameter .grad accumulates the sum over chunks = the full-batch gradient.
// Peak memory is one chunk's activations. Dropout must draw the same masks in both passes, so the RNG state
// (torch's default CPU generator and every CUDA device's) is saved before each chunk in pass 1 and restored
// before the same chunk in pass 2 (GradCache's RandContext).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace mtpf {

// Embeds rows [begin, end) of one side of the batch: returns [end - begin, H] (e.g. mean-pooled sentence
// embeddings). Called under no-grad in pass 1 and with grad in pass 2, in the same chunk order; the chunk's
// index is begin / chunk_size. It must be a function of its rows and the RNG state only.
using ChunkEmbedFn = std::function<torch::Tensor(int64_t begin, int64_t end)>;

// The loss over the whole batch, given each side's full [B, H] embeddings (in the order of the sides).
using BatchLossFn = std::function<torch::Tensor(const std::vector<torch::Tensor>& embeddings)>;

// Runs both passes for sides (e.g. {anchors, positives}), each of batch_size rows in chunks of chunk_size
// (the last chunk may be shorter). Accumulates into the parameters' .grad exactly what
// loss(full-batch embeddings).backward() would, and returns the loss value (detached).
torch::Tensor grad_cache_backward(const std::vector<ChunkEmbedFn>& sides, int64_t batch_size, int64_t chunk_size,
                                  const BatchLossFn& loss);

// Chunk trimming. A padded batch is as long as its longest row; after sorting by length most chunks are much
// shorter. Cutting each chunk's trailing all-padding columns changes nothing an encoder computes for the real
// tokens (padded keys are masked out, positions count from the left), but saves their FLOPs.

// Per row of mask [B, T]: one past its last non-zero column (0 for an empty row). Read on the host: pass a host
// tensor (the batch before it moves to the device), or it costs a device sync.
std::vector<int64_t> row_extents(const torch::Tensor& mask);

// Columns to keep for rows [begin, end): their longest extent rounded up to a multiple of `multiple` (so the
// kernels see few distinct lengths; <= 1 means no rounding), at least 1, at most `width`.
int64_t chunk_width(const std::vector<int64_t>& extents, int64_t begin, int64_t end, int64_t multiple, int64_t width);

// The ChunkEmbedFn of one side (ids, mask [B, T], in any device) whose chunks are cut to chunk_width:
// embed(ids[rows, :w], mask[rows, :w]). Equal to the untrimmed function up to float rounding.
using TokenEmbedFn = std::function<torch::Tensor(const torch::Tensor& ids, const torch::Tensor& mask)>;
ChunkEmbedFn trimmed_chunks(const torch::Tensor& ids, const torch::Tensor& mask, std::vector<int64_t> extents,
                            int64_t multiple, const TokenEmbedFn& embed);

}  // namespace mtpf
