// Each kernel against a plain-loop reference, over a table of shapes.
#include <atomic>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "kernels.h"
#include "linear.h"
#include "test_util.h"

namespace mtpf::rt {
namespace {

using test::max_abs_diff;
using test::random_values;

struct Shape {
  int rows, cols, ld;
};
const Shape kShapes[] = {{1, 1, 1}, {3, 7, 9}, {5, 32, 32}, {17, 100, 131}, {64, 384, 400}};

TEST(Kernels, ErfAndExpMatchTheLibraryFunctions) {
  double erf_err = 0, exp_err = 0;
  for (float x = -9.0f; x <= 9.0f; x += 1.0e-3f) erf_err = std::max(erf_err, std::fabs(fast_erf(x) - std::erf(double(x))));
  for (float x = -87.0f; x <= 88.0f; x += 1.0e-3f)
    exp_err = std::max(exp_err, std::fabs(fast_exp(x) / std::exp(double(x)) - 1.0));
  EXPECT_LT(erf_err, 1e-6);
  EXPECT_LT(exp_err, 1e-6);
  EXPECT_EQ(fast_exp(-1000.0f) < 1e-37f, true);  // clamps instead of producing garbage
}

TEST(Kernels, BiasGeluMatchesExactGelu) {
  std::mt19937 rng(1);
  for (const Shape& s : kShapes) {
    auto x = random_values(static_cast<size_t>(s.rows) * s.ld, 3.0f, rng);
    auto bias = random_values(s.cols, 1.0f, rng);
    std::vector<float> out(static_cast<size_t>(s.rows) * s.cols), ref(out.size());
    bias_gelu(x.data(), s.ld, bias.data(), s.rows, s.cols, out.data(), s.cols);
    for (int r = 0; r < s.rows; ++r)
      for (int c = 0; c < s.cols; ++c) {
        const double v = double(x[r * s.ld + c]) + bias[c];
        ref[r * s.cols + c] = static_cast<float>(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))));
      }
    EXPECT_LT(max_abs_diff(out.data(), ref.data(), out.size()), 5e-6) << s.rows << "x" << s.cols;
  }
}

TEST(Kernels, BiasResidualLayerNormMatchesPlainLoops) {
  std::mt19937 rng(2);
  for (const Shape& s : kShapes) {
    if (s.cols < 2) continue;
    auto x = random_values(static_cast<size_t>(s.rows) * s.ld, 2.0f, rng);
    auto bias = random_values(s.cols, 1.0f, rng), gamma = random_values(s.cols, 1.0f, rng),
         beta = random_values(s.cols, 1.0f, rng);
    auto residual = random_values(static_cast<size_t>(s.rows) * s.cols, 1.0f, rng);
    std::vector<float> ref(residual.size());
    for (int r = 0; r < s.rows; ++r) {
      std::vector<double> v(s.cols);
      double mean = 0, var = 0;
      for (int c = 0; c < s.cols; ++c) mean += v[c] = double(x[r * s.ld + c]) + bias[c] + residual[r * s.cols + c];
      mean /= s.cols;
      for (int c = 0; c < s.cols; ++c) var += (v[c] - mean) * (v[c] - mean);
      var /= s.cols;
      for (int c = 0; c < s.cols; ++c)
        ref[r * s.cols + c] = static_cast<float>((v[c] - mean) / std::sqrt(var + 1e-5) * gamma[c] + beta[c]);
    }
    // In place over the residual, as the encoder runs it.
    bias_residual_layernorm(x.data(), s.ld, bias.data(), residual.data(), gamma.data(), beta.data(), 1e-5f, s.rows,
                            s.cols, residual.data());
    EXPECT_LT(max_abs_diff(residual.data(), ref.data(), ref.size()), 2e-5) << s.rows << "x" << s.cols;
  }
}

TEST(Kernels, SoftmaxRowsMatchesPlainLoops) {
  std::mt19937 rng(3);
  for (const Shape& s : kShapes) {
    auto x = random_values(static_cast<size_t>(s.rows) * s.cols, 5.0f, rng);
    std::vector<float> ref(x.size());
    for (int r = 0; r < s.rows; ++r) {
      double mx = -1e300, sum = 0;
      for (int c = 0; c < s.cols; ++c) mx = std::max(mx, double(x[r * s.cols + c]));
      for (int c = 0; c < s.cols; ++c) sum += std::exp(x[r * s.cols + c] - mx);
      for (int c = 0; c < s.cols; ++c) ref[r * s.cols + c] = static_cast<float>(std::exp(x[r * s.cols + c] - mx) / sum);
    }
    softmax_rows(x.data(), s.rows, s.cols);
    EXPECT_LT(max_abs_diff(x.data(), ref.data(), ref.size()), 3e-6) << s.rows << "x" << s.cols;
  }
}

TEST(Kernels, AttentionHeadMatchesPlainLoops) {
  std::mt19937 rng(4);
  struct Case {
    int len, head_dim, ld, ldc;
  };
  for (GemmKernel kernel : {GemmKernel::blas, GemmKernel::avx2, GemmKernel::avx512}) {
    if (!gemm_kernel_supported(kernel)) continue;
    for (const Case& c : {Case{1, 4, 12, 8}, Case{3, 8, 30, 16}, Case{19, 32, 400, 384}, Case{128, 32, 1152, 384},
                          Case{37, 64, 200, 70}, Case{300, 32, 96, 32}}) {
      auto qkv = random_values(static_cast<size_t>(c.len) * c.ld, 1.0f, rng);
      const float *q = qkv.data(), *k = qkv.data() + c.head_dim, *v = qkv.data() + 2 * c.head_dim;
      std::vector<float> ctx(static_cast<size_t>(c.len) * c.ldc, -7.0f), ref = ctx;
      std::vector<float> scratch(attention_scratch_floats(c.len, c.head_dim));
      attention_head(q, k, v, c.ld, c.len, c.head_dim, ctx.data(), c.ldc, scratch.data(), kernel);
      for (int i = 0; i < c.len; ++i) {
        std::vector<double> s(c.len);
        double mx = -1e300, sum = 0;
        for (int j = 0; j < c.len; ++j) {
          double d = 0;
          for (int e = 0; e < c.head_dim; ++e) d += double(q[i * c.ld + e]) * k[j * c.ld + e];
          mx = std::max(mx, s[j] = d / std::sqrt(double(c.head_dim)));
        }
        for (int j = 0; j < c.len; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int e = 0; e < c.head_dim; ++e) {
          double o = 0;
          for (int j = 0; j < c.len; ++j) o += s[j] / sum * v[j * c.ld + e];
          ref[i * c.ldc + e] = static_cast<float>(o);
        }
      }
      EXPECT_LT(max_abs_diff(ctx.data(), ref.data(), ref.size()), 2e-5)
          << gemm_kernel_name(kernel) << " len " << c.len << " head_dim " << c.head_dim;
    }
  }
}

// FusedLinear (base GEMM + per-group LoRA) against x (W + s B A)^T per row, for the paths the GEMM layout takes:
// all adapters used, one adapter at the end of many (separate GEMMs), and int8; with every GEMM kernel this CPU
// runs (cblas_sgemm over plain weights, and the packed ones).
TEST(Kernels, FusedLinearWithAdapterGroupsMatchesPlainLoops) {
  for (GemmKernel kernel : {GemmKernel::blas, GemmKernel::avx2, GemmKernel::avx512}) {
    if (!gemm_kernel_supported(kernel)) continue;
    SCOPED_TRACE(gemm_kernel_name(kernel));
    std::mt19937 rng(5);
    const int in = 24, M = 13;
    const std::vector<int> outs = {16, 16, 8};
    struct Case {
      bool int8;
      int adapters;                 // loaded
      std::vector<int> group_slots;  // groups of the batch
      int rank = 2;                  // adapter s has rank `rank + s % 3`
    };
    for (const Case& c : {Case{false, 0, {-1}}, Case{false, 2, {-1, 0, 1}}, Case{false, 2, {1}},
                          Case{false, 12, {11, -1}}, Case{false, 12, {0, 5, 11}}, Case{true, 3, {2, -1, 0}},
                          Case{false, 1, {0, -1}, 12}, Case{true, 1, {0}, 30}}) {
      std::vector<std::vector<float>> W, b;
      std::vector<LinearPart> parts;
      for (size_t p = 0; p < outs.size(); ++p) {
        W.push_back(random_values(static_cast<size_t>(outs[p]) * in, 0.5f, rng));
        b.push_back(random_values(outs[p], 0.5f, rng));
        parts.push_back({"part" + std::to_string(p), outs[p], 0});
      }
      std::vector<const std::vector<float>*> wp, bp;
      for (size_t p = 0; p < outs.size(); ++p) {
        wp.push_back(&W[p]);
        bp.push_back(&b[p]);
      }
      FusedLinear f;
      f.init(in, parts, wp, bp, c.int8, kernel);
      // Adapter s: rank c.rank + s % 3 on parts 0 and 2 (part 1 has no LoRA), scaling 0.5 + s.
      std::map<std::pair<int, int>, std::pair<std::vector<float>, std::vector<float>>> lora;
      std::map<std::pair<int, int>, std::vector<float>> transposed;
      for (int s = 0; s < c.adapters; ++s) {
        std::vector<LoraBlock> blocks;
        std::vector<const float*> A;
        for (int p : {0, 2}) {
          const int r = c.rank + s % 3;
          auto& ab = lora[{s, p}];
          ab.first = random_values(static_cast<size_t>(r) * in, 0.5f, rng);
          ab.second = random_values(static_cast<size_t>(outs[p]) * r, 0.5f, rng);  // B [out, r]
          std::vector<float>& b_t = transposed[{s, p}];
          b_t.resize(ab.second.size());
          for (int o = 0; o < outs[p]; ++o)
            for (int k = 0; k < r; ++k) b_t[k * outs[p] + o] = ab.second[o * r + k];
          LoraBlock block;
          block.slot = s;
          block.part = p;
          block.r = r;
          block.scaling = 0.5f + s;
          block.B_t = b_t.data();
          blocks.push_back(block);
          A.push_back(ab.first.data());
        }
        f.set_adapter(s, blocks, A);
      }
      auto x = random_values(static_cast<size_t>(M) * in, 1.0f, rng);
      std::vector<AdapterGroup> groups;
      for (size_t g = 0; g < c.group_slots.size(); ++g)
        groups.push_back({c.group_slots[g], int64_t(M * g / c.group_slots.size()),
                          int64_t(M * (g + 1) / c.group_slots.size())});
      ThreadPool pool(2);
      Scratch scratch;
      std::vector<float> y(static_cast<size_t>(M) * (f.out() + f.adapter_rows()));
      const int64_t ld = f.forward(x.data(), M, groups, pool, scratch, y.data());
      double err = 0;
      for (const auto& g : groups)
        for (int64_t row = g.row_begin; row < g.row_end; ++row)
          for (size_t p = 0; p < outs.size(); ++p)
            for (int o = 0; o < outs[p]; ++o) {
              double ref = 0;
              for (int i = 0; i < in; ++i) ref += double(x[row * in + i]) * W[p][o * in + i];
              auto it = lora.find({g.slot, int(p)});
              if (g.slot >= 0 && it != lora.end()) {
                const int r = c.rank + g.slot % 3;
                for (int k = 0; k < r; ++k) {
                  double t = 0;
                  for (int i = 0; i < in; ++i) t += double(x[row * in + i]) * it->second.first[k * in + i];
                  ref += (0.5 + g.slot) * t * it->second.second[o * r + k];
                }
              }
              err = std::max(err, std::fabs(ref - y[row * ld + f.parts()[p].col + o]));
            }
      // int8: per-row quantisation error of W (|x| ~ 1, |w| <= ~2, step max|w| / 127).
      EXPECT_LT(err, c.int8 ? 0.15 : 1e-4) << "int8 " << c.int8 << " adapters " << c.adapters;
    }
  }
}

// Many short jobs back to back on more threads than cores: workers the OS leaves unscheduled through whole jobs
// wake to find them done (claimed by others) and must neither run stale work nor miss the next job.
TEST(Kernels, ThreadPoolPiecesCoverEveryIndexOnceUnderOversubscription) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(static_cast<int>(2 * cores + 1));
  std::mt19937 rng(7);
  for (int job = 0; job < 3000; ++job) {
    const int64_t n = 1 + static_cast<int64_t>(rng() % 200), grain = 1 + static_cast<int64_t>(rng() % 8);
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(
        n,
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        },
        grain);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "job " << job << " index " << i;
    if (job % 100 == 0) {  // a one-chunk-per-thread job in between (OpenBLAS's)
      std::atomic<int> ran{0};
      pool.run_concurrently(3, [&](int64_t) { ran.fetch_add(1); });
      ASSERT_EQ(ran.load(), 3);
    }
  }
}

TEST(Kernels, ThreadPoolCoversEveryIndexOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 3, 100}) {
      std::vector<int> hits(n, 0);
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) ++hits[i];
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i], 1) << threads << " threads, n " << n;
    }
  }
}

}  // namespace
}  // namespace mtpf::rt
