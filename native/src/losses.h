// The pre-finetuning objectives (paper §4): InfoNCE with in-batch negatives for text classification, token
// classification cross-entropy for NER distillation onto k-means pseudo-labels. Both return an fp32 scalar.
#pragma once
#include <torch/torch.h>

namespace mtpf {

// InfoNCE with in-batch negatives.
//
// Computes: a_i, p_i are L2-normalised; logits[i][j] = a_i·p_j / temperature; the loss is the mean over i of
//   -log( exp(logits[i][i]) / sum_j exp(logits[i][j]) ),
// i.e. cross-entropy with the diagonal as the target: anchor i's only positive is positive i, the other B-1
// positives of the batch are its negatives. A larger batch gives more (and harder) negatives.
//
// Args:
//   temperature: tau, > 0. The paper uses 0.05 (sentence-transformers' scale = 1/tau = 20).
//   symmetric: also score each positive against all anchors (p -> a) and return the mean of both directions.
//
// Inputs:
//   anchors   [B, H]  sentence embeddings (e.g. mean-pooled), any float dtype
//   positives [B, H]  row i pairs with anchors row i
//   Under autocast (bf16), the loss is still computed in fp32: autocast is switched off inside and the inputs
//   are cast up, so the softmax over 1024 logits keeps its precision.
//
// Reference: paper §4 ("PF for TC", equation with in-batch negatives), Chen et al. 2020 (SimCLR's NT-Xent,
// one direction); sentence-transformers' MultipleNegativesRankingLoss (symmetric: MultipleNegativesSymmetric-
// RankingLoss). GradCache for batches that do not fit: grad_cache.h.
torch::Tensor info_nce_loss(const torch::Tensor& anchors, const torch::Tensor& positives, double temperature = 0.05,
                            bool symmetric = false);

// The same loss for one rank of a data-parallel job (distributed.h): anchors [b, H] are rows [offset, offset + b)
// of the global batch, all_positives [B, H] its positives from every rank. Returns the mean over these b anchors,
// so the mean over ranks equals info_nce_loss(all anchors, all_positives). One direction only.
torch::Tensor info_nce_loss_sharded(const torch::Tensor& anchors, const torch::Tensor& all_positives, int64_t offset,
                                    double temperature = 0.05);

// Token classification cross-entropy (NER distillation onto cluster-id pseudo-labels).
//
// Computes: the mean, over the labelled tokens, of -log softmax(logits[n][t])[labels[n][t]]. Tokens whose label
// is ignore_index do not count (the usual convention: only a word's first sub-token carries its label, special
// tokens and padding carry -100). With no labelled token at all the loss is 0 and still backpropagates (zero
// gradients) rather than being 0/0 = NaN as a plain mean would be.
//
// Args:
//   ignore_index: the label that marks an unlabelled token (-100, as HF).
//   check_labels: verify every label is in [0, K) or ignore_index (one device sync); pass false only when the
//     caller has checked them already, e.g. on the host before the batch moved to the device.
//
// Inputs:
//   logits [N, T, K]  any float dtype (computed in fp32, autocast off)
//   labels [N, T]     int64, each in [0, K) or ignore_index (other values are an error)
//   Any leading shape works as long as labels.sizes() == logits.sizes() without the last dimension.
//
// Reference: paper Appendix B (pseudo-labels from mini-batch k-means, trained with cross-entropy);
// HF transformers' run_ner.py / BertForTokenClassification (CrossEntropyLoss with ignore_index -100).
torch::Tensor token_classification_loss(const torch::Tensor& logits, const torch::Tensor& labels,
                                        int64_t ignore_index = -100, bool check_labels = true);

}  // namespace mtpf
