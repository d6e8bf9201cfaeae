// MiniBatchKMeans: the pseudo-labels of NER pre-finetuning (paper Appendix B: k = 200 clusters of NuNER's word
// embeddings). Follows scikit-learn's MiniBatchKMeans (sklearn/cluster/_kmeans.py) step for step:
//   - greedy k-means++ (2 + ln k local trials per centre) on an init sample of init_size rows drawn with
//     replacement; of n_init candidate inits the one with the lowest inertia on a validation sample is kept;
//   - n_steps = max_iter * n / batch_size mini-batches, each of batch_size rows drawn with replacement;
//   - per-centre learning rate 1/count: centre <- (centre * count + sum of its batch points) / (count + batch
//     count), i.e. centre + (batch mean - centre) * batch_count / total_count;
//   - random reassignment of centres whose count < reassignment_ratio * max count to random batch points, each
//     time 10 * k samples were seen or some centre has count 0 (at most batch_size / 2 centres at once; their
//     count is reset to the smallest remaining count);
//   - early stop when the squared centre change <= tol * mean feature variance (tol = 0 disables), or when the
//     exponentially weighted mean batch inertia (alpha = 2 * batch_size / (n + 1)) has not improved for
//     max_no_improvement steps.
// It runs on X's device; indices are drawn on the CPU from one std::mt19937_64 seeded with options.seed, so a seed
// gives the same result on every run (centre sums go through a one-hot matmul, not atomics).
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace mtpf {

struct KMeansOptions {
  int k = 200;
  int batch_size = 1024;
  int max_iter = 100;           // passes over the data (n_steps = max_iter * n / batch_size)
  int max_no_improvement = 10;  // steps without a better smoothed inertia before stopping; 0 disables
  double reassignment_ratio = 0.01;  // 0 disables reassignment
  double tol = 0.0;                  // relative to the mean feature variance; 0 disables
  int n_init = 1;                    // k-means++ candidates (sklearn >= 1.4's n_init='auto' for k-means++)
  int init_size = 0;                 // 0: 3 * batch_size, at least 3 * k; always at most n
  uint64_t seed = 0;
  torch::Tensor init_centers;  // [k, H] to start from instead of k-means++ (then n_init is ignored)
};

struct KMeansResult {
  torch::Tensor centers;  // [k, H], float32 (float64 when X is), on X's device
  int64_t n_steps = 0;    // mini-batch steps run
  int64_t n_iter = 0;     // passes over the data: ceil(n_steps * batch_size / n)
  double inertia = 0;     // sum over X of the squared distance to the nearest centre
  bool converged = false; // stopped early (tol or no improvement) rather than after max_iter passes
  int64_t n_reassigned = 0;  // centres moved by random reassignment, over all steps
};

// X: [n, H] float (any float dtype; computed in float32, or float64 for float64 input).
KMeansResult minibatch_kmeans_fit(const torch::Tensor& X, const KMeansOptions& options);

// One mini-batch update, without reassignment (sklearn's _mini_batch_step / _minibatch_update_dense): each row of
// batch goes to its nearest centre; each centre that got points moves to the mean of all points it was ever
// given: (centre * count + sum of its batch points) / (count + batch count). centers [k, H], counts [k] and
// batch [b, H] share dtype and device.
struct KMeansStep {
  torch::Tensor centers;  // [k, H] after the update
  torch::Tensor counts;   // [k] after the update
  torch::Tensor inertia;  // scalar: the batch's squared distances to the centres before the update
};
KMeansStep kmeans_minibatch_step(const torch::Tensor& centers, const torch::Tensor& counts, const torch::Tensor& batch);

// Greedy k-means++ seeding on all of X (what the fit runs on its init sample): [k, H] rows of X.
torch::Tensor kmeans_plusplus(const torch::Tensor& X, int64_t k, uint64_t seed);

// Index of the nearest centre for each row of X: int64 [n] on X's device. Works through X in chunks of rows so
// that 1M x 768 inputs never materialise an [n, k] distance matrix.
torch::Tensor kmeans_predict(const torch::Tensor& X, const torch::Tensor& centers);

// Sum over X of the squared distance to the nearest centre (sklearn's inertia_), accumulated in float64.
double kmeans_inertia(const torch::Tensor& X, const torch::Tensor& centers);

}  // namespace mtpf
