#include "kmeans.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

#include "errors.h"
#include "torch_compat.h"

namespace mtpf {

namespace {

// Indices and uniforms from one mt19937_64. Not std::uniform_int_distribution: its output differs between
// standard libraries, and a seed should give the same clusters on Linux and Android.
class IndexRng {
 public:
  explicit IndexRng(uint64_t seed) : gen_(seed) {}
  int64_t index(int64_t n) {  // uniform in [0, n): Lemire's multiply-shift (bias <= n / 2^64)
    return static_cast<int64_t>((static_cast<unsigned __int128>(gen_()) * static_cast<uint64_t>(n)) >> 64);
  }
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::vector<int64_t> indices(int64_t count, int64_t n) {  // with replacement, as numpy's randint
    std::vector<int64_t> out(count);
    for (auto& i : out) i = index(n);
    return out;
  }

 private:
  std::mt19937_64 gen_;
};

torch::ScalarType compute_dtype(const torch::Tensor& X) {
  return X.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

torch::Tensor gather_rows(const torch::Tensor& X, const std::vector<int64_t>& idx, torch::ScalarType dtype) {
  auto t = torch::tensor(idx, torch::kLong).to(X.device());
  return X.index_select(0, t).to(dtype);
}

// ||x - c||^2 for every pair: [m, k], by the ||x||^2 - 2 x.c + ||c||^2 expansion (as sklearn), clamped at 0.
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& c) {
  auto xx = x.pow(2).sum(1, /*keepdim=*/true);
  auto cc = c.pow(2).sum(1).unsqueeze(0);
  return torch::addmm(xx + cc, x, c.t(), /*beta=*/1, /*alpha=*/-2).clamp_min(0);
}

// Row chunks small enough that a [rows, k] distance block and a converted [rows, H] copy stay ~64 MB.
int64_t chunk_rows(const torch::Tensor& X, int64_t k) {
  return std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>({k, X.size(1), 1}));
}

void for_each_chunk(const torch::Tensor& X, int64_t rows, const std::function<void(const torch::Tensor&)>& fn) {
  for (int64_t b = 0; b < X.size(0); b += rows) fn(X.slice(0, b, std::min(X.size(0), b + rows)));
}

void check_data(const torch::Tensor& X, const char* what) {
  if (!X.defined() || X.dim() != 2) fail(what, ": X must be a 2-D [n, features] tensor");
  if (X.size(0) == 0 || X.size(1) == 0) fail(what, ": X is empty (", X.sizes(), ")");
  if (!X.is_floating_point()) fail(what, ": X must be floating point, got ", X.scalar_type());
}

void check_finite(const torch::Tensor& X, const char* what) {
  auto ok = torch::ones({}, torch::TensorOptions().dtype(torch::kBool).device(X.device()));
  for_each_chunk(X, chunk_rows(X, 1), [&](const torch::Tensor& c) { ok = ok & torch::isfinite(c).all(); });
  if (!ok.item<bool>()) fail(what, ": X contains NaN or Inf");
}

void check_centers(const torch::Tensor& X, const torch::Tensor& centers, const char* what) {
  if (!centers.defined() || centers.dim() != 2 || centers.size(0) == 0 || centers.size(1) != X.size(1))
    fail(what, ": centers ", centers.defined() ? centers.sizes() : c10::IntArrayRef{}, " must be [k, ", X.size(1),
         "]");
}

// Greedy k-means++ (sklearn's _kmeans_plusplus): each new centre is the best, by resulting potential, of
// 2 + ln(k) candidates drawn with probability proportional to the squared distance to the nearest centre.
torch::Tensor plusplus(const torch::Tensor& x, int64_t k, IndexRng& rng) {
  const int64_t m = x.size(0);
  const int64_t trials = 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  const auto device = x.device();
  std::vector<torch::Tensor> chosen{torch::tensor({rng.index(m)}, torch::kLong).to(device)};
  auto closest = squared_distances(x.index_select(0, chosen[0]), x).squeeze(0);  // [m]
  auto potential = closest.to(torch::kFloat64).sum();
  for (int64_t c = 1; c < k; ++c) {
    std::vector<double> r(trials);
    for (auto& v : r) v = rng.uniform();
    auto targets = torch::tensor(r, torch::kFloat64).to(device) * potential;
    auto cumulative = closest.to(torch::kFloat64).cumsum(0);  // sklearn's stable_cumsum: float64
    auto candidates = torch::searchsorted(cumulative, targets).clamp_max(m - 1);
    auto dist = torch::minimum(squared_distances(x.index_select(0, candidates), x), closest.unsqueeze(0));
    auto potentials = dist.to(torch::kFloat64).sum(1);
    auto best = potentials.argmin().view({1});
    potential = potentials.index_select(0, best).squeeze(0);
    closest = dist.index_select(0, best).squeeze(0);
    chosen.push_back(candidates.index_select(0, best));
  }
  return x.index_select(0, torch::cat(chosen));
}

// Sum of squared distances to the nearest centre, as a float64 scalar tensor on x's device (no host sync).
torch::Tensor inertia_tensor(const torch::Tensor& x, const torch::Tensor& centers) {
  auto total = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(x.device()));
  const auto dtype = compute_dtype(x);
  auto c = centers.to(x.device(), dtype);
  for_each_chunk(x, chunk_rows(x, c.size(0)), [&](const torch::Tensor& chunk) {
    auto xc = chunk.to(dtype);
    auto labels = squared_distances(xc, c).argmin(1);
    total = total + (xc - c.index_select(0, labels)).pow(2).sum().to(torch::kFloat64);  // exact, not expanded
  });
  return total;
}

// sklearn's _tolerance: tol times the mean over features of X's (population) variance.
double absolute_tolerance(const torch::Tensor& X, double tol) {
  if (tol == 0) return 0;
  auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(X.device());
  auto s1 = torch::zeros({X.size(1)}, opts), s2 = torch::zeros({X.size(1)}, opts);
  for_each_chunk(X, chunk_rows(X, 1), [&](const torch::Tensor& c) {
    auto d = c.to(torch::kFloat64);
    s1 += d.sum(0);
    s2 += d.pow(2).sum(0);
  });
  const double n = static_cast<double>(X.size(0));
  auto mean = s1 / n;
  return (s2 / n - mean * mean).mean().item<double>() * tol;
}

// Picks count distinct values of [0, n) uniformly (a partial Fisher-Yates shuffle).
std::vector<int64_t> choose_without_replacement(IndexRng& rng, int64_t n, int64_t count) {
  std::vector<int64_t> pool(n);
  std::iota(pool.begin(), pool.end(), 0);
  for (int64_t i = 0; i < count; ++i) std::swap(pool[i], pool[i + rng.index(n - i)]);
  pool.resize(count);
  return pool;
}

// The low-count reassignment of sklearn's _mini_batch_step. Moves centres whose count is below
// ratio * max count onto random points of the batch and resets their count to the smallest remaining one
// (so they are not reassigned again at once). Returns how many centres moved.
int64_t reassign_low_count_centers(torch::Tensor& centers, torch::Tensor& counts, const torch::Tensor& batch,
                                   double ratio, IndexRng& rng) {
  auto host = counts.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<double> w(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
  const int64_t k = static_cast<int64_t>(w.size()), b = batch.size(0);
  const double limit = ratio * *std::max_element(w.begin(), w.end());
  std::vector<bool> move(k);
  for (int64_t j = 0; j < k; ++j) move[j] = w[j] < limit;
  // At most half a batch of centres at once: the lowest counts.
  const int64_t cap = b / 2;
  if (std::count(move.begin(), move.end(), true) > cap) {
    std::vector<int64_t> order(k);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return w[x] < w[y]; });
    for (int64_t p = cap; p < k; ++p) move[order[p]] = false;
  }
  std::vector<int64_t> targets;
  double min_kept = std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < k; ++j) {
    if (move[j]) targets.push_back(j);
    else min_kept = std::min(min_kept, w[j]);
  }
  if (targets.empty() || !std::isfinite(min_kept)) return 0;
  auto picks = choose_without_replacement(rng, b, static_cast<int64_t>(targets.size()));
  auto device = centers.device();
  auto target_idx = torch::tensor(targets, torch::kLong).to(device);
  centers.index_copy_(0, target_idx, batch.index_select(0, torch::tensor(picks, torch::kLong).to(device)));
  for (auto j : targets) w[j] = min_kept;
  counts = torch::tensor(w, torch::kFloat64).to(device, counts.scalar_type());
  return static_cast<int64_t>(targets.size());
}

}  // namespace

KMeansStep kmeans_minibatch_step(const torch::Tensor& centers, const torch::Tensor& counts, const torch::Tensor& batch) {
  NoGradNoAutocast guard;
  if (centers.dim() != 2 || batch.dim() != 2 || batch.size(1) != centers.size(1) ||
      counts.sizes() != torch::IntArrayRef{centers.size(0)})
    fail("kmeans_minibatch_step: centers ", centers.sizes(), ", counts ", counts.sizes(), " and batch ",
         batch.sizes(), " must be [k, H], [k] and [b, H]");
  const int64_t k = centers.size(0);
  auto [min_dist, labels] = squared_distances(batch, centers).min(1);
  // Per-centre sums as a one-hot matmul rather than index_add_: no float atomics on CUDA, so a seed gives the
  // same centres on every run; it costs what the distance matmul costs.
  auto one_hot = torch::one_hot(labels, k).to(batch.scalar_type());  // [b, k]
  auto batch_counts = one_hot.sum(0);
  auto batch_sums = one_hot.t().mm(batch);
  auto new_counts = counts + batch_counts;
  auto moved = (centers * counts.unsqueeze(1) + batch_sums) / new_counts.clamp_min(1).unsqueeze(1);
  return {torch::where((batch_counts > 0).unsqueeze(1), moved, centers), new_counts, min_dist.sum()};
}

torch::Tensor kmeans_plusplus(const torch::Tensor& X, int64_t k, uint64_t seed) {
  NoGradNoAutocast guard;
  check_data(X, "kmeans_plusplus");
  if (k < 1 || k > X.size(0)) fail("kmeans_plusplus: k = ", k, " must be in [1, n = ", X.size(0), "]");
  check_finite(X, "kmeans_plusplus");
  IndexRng rng(seed);
  return plusplus(X.to(compute_dtype(X)), k, rng);
}

torch::Tensor kmeans_predict(const torch::Tensor& X, const torch::Tensor& centers) {
  NoGradNoAutocast guard;
  check_data(X, "kmeans_predict");
  check_centers(X, centers, "kmeans_predict");
  const auto dtype = compute_dtype(X);
  auto c = centers.to(X.device(), dtype);
  std::vector<torch::Tensor> labels;
  for_each_chunk(X, chunk_rows(X, c.size(0)),
                 [&](const torch::Tensor& chunk) { labels.push_back(squared_distances(chunk.to(dtype), c).argmin(1)); });
  return torch::cat(labels);
}

double kmeans_inertia(const torch::Tensor& X, const torch::Tensor& centers) {
  NoGradNoAutocast guard;
  check_data(X, "kmeans_inertia");
  check_centers(X, centers, "kmeans_inertia");
  return inertia_tensor(X, centers).item<double>();
}

namespace {

void check_fit_options(const torch::Tensor& X, const KMeansOptions& o) {
  const char* what = "minibatch_kmeans_fit";
  check_data(X, what);
  const int64_t n = X.size(0), k = o.k;
  if (k < 1 || k > n) fail(what, ": k = ", k, " clusters need at least k samples; X has n = ", n);
  if (o.batch_size < 1 || o.max_iter < 1 || o.n_init < 1 || o.init_size < 0 || o.max_no_improvement < 0)
    fail(what, ": batch_size (", o.batch_size, "), max_iter (", o.max_iter, ") and n_init (", o.n_init,
         ") must be >= 1; init_size (", o.init_size, ") and max_no_improvement (", o.max_no_improvement,
         ") >= 0");
  if (!(o.reassignment_ratio >= 0) || !(o.tol >= 0))
    fail(what, ": reassignment_ratio (", o.reassignment_ratio, ") and tol (", o.tol, ") must be >= 0");
  if (o.init_centers.defined() && (o.init_centers.dim() != 2 || o.init_centers.size(0) != k))
    fail(what, ": init_centers ", o.init_centers.sizes(), " must be [k = ", k, ", ", X.size(1), "]");
  if (o.init_centers.defined()) check_centers(X, o.init_centers, what);
  check_finite(X, what);
}

// Initial centres: the caller's, or the best of n_init k-means++ runs, each on its own init sample of init_size rows,
// judged on one validation sample (all drawn with replacement, as sklearn draws them).
torch::Tensor initial_centers(const torch::Tensor& X, const KMeansOptions& o, int64_t init_size,
                              torch::ScalarType dtype, IndexRng& rng) {
  const int64_t n = X.size(0);
  auto valid = gather_rows(X, rng.indices(init_size, n), dtype);
  if (o.init_centers.defined()) return o.init_centers.to(X.device(), dtype).clone();
  torch::Tensor centers;
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < o.n_init; ++i) {
    auto sample = init_size < n ? gather_rows(X, rng.indices(init_size, n), dtype) : X.to(dtype);
    auto candidate = plusplus(sample, o.k, rng);
    const double inertia = inertia_tensor(valid, candidate).item<double>();
    if (inertia < best || !centers.defined()) {
      best = inertia;
      centers = candidate;
    }
  }
  return centers;
}

}  // namespace

KMeansResult minibatch_kmeans_fit(const torch::Tensor& X, const KMeansOptions& o) {
  NoGradNoAutocast guard;
  check_fit_options(X, o);
  const int64_t n = X.size(0), k = o.k;
  const auto dtype = compute_dtype(X);
  const auto device = X.device();
  const int64_t batch = std::min<int64_t>(o.batch_size, n);
  int64_t init_size = o.init_size > 0 ? o.init_size : 3 * batch;
  if (init_size < k) init_size = 3 * k;
  init_size = std::min(init_size, n);
  IndexRng rng(o.seed);
  torch::Tensor centers = initial_centers(X, o, init_size, dtype, rng);

  KMeansResult result;
  auto counts = torch::zeros({k}, torch::TensorOptions().dtype(dtype).device(device));
  const int64_t n_steps = static_cast<int64_t>(o.max_iter) * n / batch;
  const double alpha = std::min(2.0 * batch / (n + 1.0), 1.0);
  const double tol = absolute_tolerance(X, o.tol);
  std::optional<double> ewa, ewa_min;
  int64_t no_improvement = 0, seen_since_reassign = 0;
  bool some_count_zero = true;
  int64_t step = 0;
  while (step < n_steps) {
    auto xb = gather_rows(X, rng.indices(batch, n), dtype);
    seen_since_reassign += batch;
    const bool reassign = some_count_zero || seen_since_reassign >= 10 * k;
    if (reassign) seen_since_reassign = 0;

    auto next = kmeans_minibatch_step(centers, counts, xb);
    auto new_centers = next.centers;
    counts = next.counts;
    if (reassign && o.reassignment_ratio > 0)
      result.n_reassigned += reassign_low_count_centers(new_centers, counts, xb, o.reassignment_ratio, rng);

    auto shift = tol > 0 ? (new_centers - centers).pow(2).sum() : torch::zeros({}, next.inertia.options());
    auto stats = torch::stack({next.inertia.to(torch::kFloat64), shift.to(torch::kFloat64),
                               (counts == 0).any().to(torch::kFloat64)})
                     .cpu();  // the one host sync per step
    centers = new_centers;
    ++step;
    const double batch_inertia = stats[0].item<double>() / batch, centers_shift = stats[1].item<double>();
    some_count_zero = stats[2].item<double>() != 0;

    // Early stopping (sklearn's _mini_batch_convergence); the first step's inertia is the init's, so skipped.
    if (step == 1) continue;
    ewa = ewa ? *ewa * (1 - alpha) + batch_inertia * alpha : batch_inertia;
    if (tol > 0 && centers_shift <= tol) {
      result.converged = true;
      break;
    }
    if (!ewa_min || *ewa < *ewa_min) {
      no_improvement = 0;
      ewa_min = ewa;
    } else {
      ++no_improvement;
    }
    if (o.max_no_improvement > 0 && no_improvement >= o.max_no_improvement) {
      result.converged = true;
      break;
    }
  }

  result.centers = centers;
  result.n_steps = step;
  result.n_iter = (step * batch + n - 1) / n;
  result.inertia = inertia_tensor(X, centers).item<double>();
  return result;
}

}  // namespace mtpf
