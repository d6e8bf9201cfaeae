// MiniBatchKMeans against the simple references: known blobs, Lloyd's k-means from the same init, brute-force
// nearest centres, and scikit-learn's MiniBatchKMeans (scripts/kmeans_oracle.py) where /usr/bin/python3 has it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>

#include "errors.h"
#include "kmeans.h"
#include "test_util.h"

using namespace mtpf;

namespace {

struct Blobs {
  torch::Tensor X;       // [n, dim] float32
  torch::Tensor truth;   // [n] blob index
  torch::Tensor means;   // [blobs, dim]
};

// n points around `blobs` centres drawn uniformly in [-box, box]^dim, with per-coordinate std `std`.
Blobs make_blobs(int64_t n, int64_t dim, int64_t blobs, double box, double std, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  Blobs b;
  b.means = (torch::rand({blobs, dim}, gen) * 2 - 1) * box;
  b.truth = torch::arange(n, torch::kLong) % blobs;
  b.X = b.means.index_select(0, b.truth) + std * torch::randn({n, dim}, gen);
  return b;
}

// Lloyd's k-means from the given centres until the labels stop changing.
torch::Tensor lloyd(const torch::Tensor& X, torch::Tensor centers) {
  torch::Tensor labels;
  for (int it = 0; it < 500; ++it) {
    auto next = kmeans_predict(X, centers);
    if (labels.defined() && torch::equal(next, labels)) break;
    labels = next;
    for (int64_t c = 0; c < centers.size(0); ++c) {
      auto members = X.index_select(0, (labels == c).nonzero().view({-1}));
      if (members.size(0) > 0) centers[c] = members.mean(0);
    }
  }
  return centers;
}

KMeansOptions small_options(int k, int batch_size, uint64_t seed) {
  KMeansOptions o;
  o.k = k;
  o.batch_size = batch_size;
  o.seed = seed;
  return o;
}

}  // namespace

TEST(KMeans, MiniBatchStepEqualsPointByPointUpdate) {
  // sklearn's update_center_dense, one point at a time in double: centre = mean of every point it was given.
  torch::manual_seed(12);
  auto centers = torch::randn({6, 5}), batch = torch::randn({40, 5}) * 2;
  auto counts = torch::tensor({0.f, 3.f, 10.f, 1.f, 0.f, 7.f});
  auto step = kmeans_minibatch_step(centers, counts, batch);

  auto c = centers.to(torch::kFloat64).clone(), sums = torch::zeros_like(c);
  std::vector<double> n(6), added(6, 0.0);
  for (int j = 0; j < 6; ++j) n[j] = counts[j].item<double>();
  double inertia = 0;
  for (int64_t i = 0; i < batch.size(0); ++i) {
    auto x = batch[i].to(torch::kFloat64);
    auto d = (c - x).pow(2).sum(1);
    auto j = d.argmin().item<int64_t>();
    inertia += d[j].item<double>();
    sums[j] += x;
    added[j] += 1;
  }
  for (int j = 0; j < 6; ++j) {
    if (added[j] > 0) c[j] = (c[j] * n[j] + sums[j]) / (n[j] + added[j]);
    EXPECT_EQ(step.counts[j].item<double>(), n[j] + added[j]) << j;
  }
  EXPECT_LT((step.centers.to(torch::kFloat64) - c).abs().max().item<double>(), 1e-5);
  EXPECT_NEAR(step.inertia.item<double>(), inertia, 1e-4 * inertia);
}

TEST(KMeans, RecoversSeparableBlobs) {
  auto b = make_blobs(2000, 8, 5, 10.0, 0.5, 1);
  auto r = minibatch_kmeans_fit(b.X, small_options(5, 256, 0));
  ASSERT_EQ(r.centers.sizes(), (torch::IntArrayRef{5, 8}));
  auto labels = kmeans_predict(b.X, r.centers);
  std::set<int64_t> used;
  for (int64_t blob = 0; blob < 5; ++blob) {
    auto mine = labels.index_select(0, (b.truth == blob).nonzero().view({-1}));
    EXPECT_TRUE((mine == mine[0]).all().item<bool>()) << "blob " << blob << " is split";
    used.insert(mine[0].item<int64_t>());
  }
  EXPECT_EQ(used.size(), 5u);  // and no two blobs share a cluster
  EXPECT_NEAR(r.inertia, kmeans_inertia(b.X, r.centers), 1e-6 * r.inertia);
  EXPECT_GT(r.n_steps, 0);
}

TEST(KMeans, InertiaCloseToLloydFromSameInit) {
  // Overlapping blobs, so there are several local optima: from one init, mini-batch and Lloyd's can settle in
  // different ones (scikit-learn's do too, ~1 run in 10 here). So: typical runs match, none is far off.
  auto b = make_blobs(3000, 8, 10, 4.0, 1.0, 2);
  std::vector<double> ratios;
  for (int seed = 0; seed < 10; ++seed) {
    auto init = kmeans_plusplus(b.X, 10, seed);
    auto o = small_options(10, 256, seed);
    o.init_centers = init;
    auto mb = minibatch_kmeans_fit(b.X, o);
    const double lloyd_inertia = kmeans_inertia(b.X, lloyd(b.X, init.clone()));
    EXPECT_LT(mb.inertia, 0.7 * kmeans_inertia(b.X, init)) << seed;  // it did optimise
    ratios.push_back(mb.inertia / lloyd_inertia);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("mini-batch / Lloyd inertia over 10 seeds: median %.4f, max %.4f\n", ratios[5], ratios.back());
  EXPECT_LT(ratios[5], 1.01);
  EXPECT_LT(ratios.back(), 1.2);
}

TEST(KMeans, DeterministicForSeed) {
  auto b = make_blobs(1500, 6, 8, 5.0, 1.0, 4);
  auto o = small_options(8, 128, 7);
  auto r1 = minibatch_kmeans_fit(b.X, o), r2 = minibatch_kmeans_fit(b.X, o);
  EXPECT_TRUE(torch::equal(r1.centers, r2.centers));
  EXPECT_EQ(r1.n_steps, r2.n_steps);
  EXPECT_EQ(r1.inertia, r2.inertia);
  o.seed = 8;
  EXPECT_FALSE(torch::equal(r1.centers, minibatch_kmeans_fit(b.X, o).centers));
  EXPECT_TRUE(torch::equal(kmeans_plusplus(b.X, 8, 5), kmeans_plusplus(b.X, 8, 5)));
}

TEST(KMeans, ReassignsStarvedCenter) {
  auto b = make_blobs(1200, 4, 4, 10.0, 0.5, 5);
  // Four centres on the blobs and one far away that no point ever picks.
  auto init = torch::cat({b.means, torch::full({1, 4}, 1000.0)});
  auto o = small_options(5, 100, 0);
  o.init_centers = init;
  o.max_no_improvement = 0;  // run all steps
  o.max_iter = 2;
  auto r = minibatch_kmeans_fit(b.X, o);
  EXPECT_GT(r.n_reassigned, 0);
  EXPECT_LT(r.centers.abs().max().item<double>(), 100.0);  // the starved centre moved onto the data
  EXPECT_EQ(r.n_steps, 2 * 1200 / 100);
  EXPECT_FALSE(r.converged);

  o.reassignment_ratio = 0;  // off: the far centre stays where it was
  auto stuck = minibatch_kmeans_fit(b.X, o);
  EXPECT_EQ(stuck.n_reassigned, 0);
  EXPECT_TRUE(torch::equal(stuck.centers[4], init[4]));
}

TEST(KMeans, PredictEqualsBruteForce) {
  torch::manual_seed(6);
  // Enough centres that predict works through several chunks of rows.
  auto X = torch::randn({6000, 4}), centers = torch::randn({5000, 4});
  auto labels = kmeans_predict(X, centers);
  ASSERT_EQ(labels.sizes(), (torch::IntArrayRef{6000}));
  auto Xd = X.to(torch::kFloat64), Cd = centers.to(torch::kFloat64);
  double brute_inertia = 0;
  int64_t mismatches = 0;
  for (int64_t b = 0; b < X.size(0); b += 500) {
    auto d = (Xd.slice(0, b, b + 500).unsqueeze(1) - Cd.unsqueeze(0)).pow(2).sum(-1);  // [500, 5000]
    auto [best, arg] = d.min(1);
    auto chosen = d.gather(1, labels.slice(0, b, b + 500).unsqueeze(1)).squeeze(1);
    // Equal up to float32 rounding of near-ties.
    EXPECT_LT((chosen - best).max().item<double>(), 1e-5);
    mismatches += (arg != labels.slice(0, b, b + 500)).sum().item<int64_t>();
    brute_inertia += best.sum().item<double>();
  }
  EXPECT_LE(mismatches, 3);
  EXPECT_NEAR(kmeans_inertia(X, centers), brute_inertia, 1e-5 * brute_inertia);
  // Well-separated centres: exactly the brute-force argmin.
  auto few = torch::randn({13, 4}) * 5;
  auto exact = (X.unsqueeze(1) - few.unsqueeze(0)).pow(2).sum(-1).argmin(1);
  EXPECT_TRUE(torch::equal(kmeans_predict(X, few), exact));
}

TEST(KMeans, RejectsBadInput) {
  auto X = torch::randn({10, 3});
  EXPECT_THROW(minibatch_kmeans_fit(X, small_options(11, 4, 0)), Error);  // k > n
  EXPECT_THROW(minibatch_kmeans_fit(torch::empty({0, 3}), small_options(1, 4, 0)), Error);
  EXPECT_THROW(minibatch_kmeans_fit(torch::randn({10}), small_options(2, 4, 0)), Error);
  auto nan = X.clone();
  nan[3][1] = std::nan("");
  try {
    minibatch_kmeans_fit(nan, small_options(2, 4, 0));
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
  }
  auto o = small_options(2, 4, 0);
  o.init_centers = torch::randn({3, 3});
  EXPECT_THROW(minibatch_kmeans_fit(X, o), Error);
  EXPECT_THROW(kmeans_predict(X, torch::randn({2, 4})), Error);
}

namespace {

// Runs scripts/kmeans_oracle.py on X for each seed; returns sklearn's inertia per seed.
std::vector<double> sklearn_inertias(const std::filesystem::path& oracle, const torch::Tensor& X, int k,
                                     int n_init, const std::vector<int>& seeds) {
  auto dir = test::temp_dir("kmeans");
  const auto data = dir / "X.f32";
  {
    auto c = X.contiguous();
    std::ofstream out(data, std::ios::binary);
    out.write(reinterpret_cast<const char*>(c.data_ptr<float>()), c.numel() * sizeof(float));
  }
  std::string seed_list;
  for (int s : seeds) seed_list += (seed_list.empty() ? "" : ",") + std::to_string(s);
  const auto cmd = "/usr/bin/python3 " + oracle.string() + " --input " + data.string() + " --dim " +
                   std::to_string(X.size(1)) + " --k " + std::to_string(k) + " --batch-size 1024 --n-init " +
                   std::to_string(n_init) + " --seed " + seed_list;
  std::vector<double> out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return out;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe)) {
    auto j = nlohmann::json::parse(buf);
    std::printf("  sklearn %s seed %d: inertia %.1f (%d steps)\n", j["sklearn"].get<std::string>().c_str(),
                j["seed"].get<int>(), j["inertia"].get<double>(), j["n_steps"].get<int>());
    out.push_back(j["inertia"].get<double>());
  }
  if (pclose(pipe) != 0) out.clear();
  std::filesystem::remove_all(dir);
  return out;
}

std::vector<double> mtpf_inertias(const torch::Tensor& X, int k, int n_init, const std::vector<int>& seeds) {
  std::vector<double> out;
  for (int seed : seeds) {
    auto o = small_options(k, 1024, seed);
    o.n_init = n_init;
    auto r = minibatch_kmeans_fit(X, o);
    std::printf("  mtpf seed %d: inertia %.1f (%lld steps)\n", seed, r.inertia, static_cast<long long>(r.n_steps));
    out.push_back(r.inertia);
  }
  return out;
}

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }

}  // namespace

TEST(KMeans, MatchesSklearnInertia) {
  namespace fs = std::filesystem;
  const fs::path oracle = fs::path(__FILE__).parent_path().parent_path().parent_path() / "scripts/kmeans_oracle.py";
  if (!fs::exists(oracle)) GTEST_SKIP() << "SKIPPED: " << oracle << " not found";
  if (std::system("/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIPPED: /usr/bin/python3 has no scikit-learn (apt-get install python3-sklearn)";
  const std::vector<int> seeds{0, 1, 2};

  // 20 separated blobs, best of 3 inits: both find the blobs, so each run's inertia measures how well the
  // mini-batch updates and the early stop placed the centres.
  auto blobs = make_blobs(4000, 16, 20, 10.0, 1.0, 9);
  std::printf("4000 x 16, 20 blobs, k = 20, n_init = 3:\n");
  auto ours = mtpf_inertias(blobs.X, 20, 3, seeds);
  auto theirs = sklearn_inertias(oracle, blobs.X, 20, 3, seeds);
  ASSERT_EQ(theirs.size(), seeds.size()) << "kmeans_oracle.py failed";
  for (size_t i = 0; i < seeds.size(); ++i) EXPECT_NEAR(ours[i] / theirs[i], 1.0, 0.02) << "seed " << seeds[i];

  // No structure at all (one Gaussian), n_init = 1: many equally good optima, so compare the means.
  auto gen = at::detail::createCPUGenerator(10);
  auto gauss = torch::randn({4000, 16}, gen);
  std::printf("4000 x 16 standard normal, k = 20, n_init = 1:\n");
  ours = mtpf_inertias(gauss, 20, 1, seeds);
  theirs = sklearn_inertias(oracle, gauss, 20, 1, seeds);
  ASSERT_EQ(theirs.size(), seeds.size()) << "kmeans_oracle.py failed";
  EXPECT_NEAR(mean(ours) / mean(theirs), 1.0, 0.02);
}
