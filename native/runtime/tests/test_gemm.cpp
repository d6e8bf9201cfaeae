// The packed GEMM kernels (gemm.h) against a plain loop, over shapes that hit partial row tiles, partial panels,
// several K blocks and strided operands; and the packing itself.
#include <cmath>
#include <random>
#include <vector>

#include "gemm.h"
#include "test_util.h"

namespace mtpf::rt {
namespace {

using test::random_values;

std::vector<GemmKernel> packed_kernels() {
  std::vector<GemmKernel> out;
  for (GemmKernel k : {GemmKernel::avx2, GemmKernel::avx512})
    if (gemm_kernel_supported(k)) out.push_back(k);
  return out;
}

TEST(Gemm, PackingPlacesEveryElementAndZeroPadsThePanels) {
  std::mt19937 rng(1);
  for (GemmKernel kernel : packed_kernels()) {
    const int64_t n = 53, k = 7;
    auto w = random_values(static_cast<size_t>(n) * 9, 1.0f, rng);
    std::vector<float> packed(gemm_packed_floats(kernel, n, k), -1.0f);
    gemm_pack(kernel, w.data(), 9, n, k, packed.data());
    for (int64_t r = 0; r < n; ++r)
      for (int64_t kk = 0; kk < k; ++kk) ASSERT_EQ(gemm_packed_at(kernel, packed.data(), k, r, kk), w[r * 9 + kk]);
    const int width = gemm_panel_width(kernel);
    for (int64_t r = n; r < (n + width - 1) / width * width; ++r)
      for (int64_t kk = 0; kk < k; ++kk) ASSERT_EQ(gemm_packed_at(kernel, packed.data(), k, r, kk), 0.0f);
  }
}

TEST(Gemm, TransposedPackingEqualsPackingTheTranspose) {
  std::mt19937 rng(3);
  for (GemmKernel kernel : packed_kernels()) {
    const int64_t n = 37, k = 11, ldw = 40;  // w [k, n] at stride ldw; the packed matrix is w^T [n, k]
    auto w = random_values(static_cast<size_t>(k) * ldw, 1.0f, rng);
    std::vector<float> w_t(static_cast<size_t>(n) * k);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t kk = 0; kk < k; ++kk) w_t[r * k + kk] = w[kk * ldw + r];
    std::vector<float> a(gemm_packed_floats(kernel, n, k), -1.0f), b(a.size(), -2.0f);
    gemm_pack_transposed(kernel, w.data(), ldw, n, k, a.data());
    gemm_pack(kernel, w_t.data(), k, n, k, b.data());
    EXPECT_EQ(a, b) << gemm_kernel_name(kernel);
  }
}

TEST(Gemm, PackedKernelsMatchPlainLoops) {
  std::mt19937 rng(2);
  struct Case {
    int64_t M, N, K, ldx, ldc;
  };
  const Case kCases[] = {{1, 1, 1, 1, 1},        {5, 17, 3, 4, 20},       {13, 40, 24, 24, 64},
                         {128, 1152, 384, 384, 1160}, {37, 100, 600, 610, 101}, {300, 96, 1536, 1536, 96},
                         {9, 8, 513, 513, 8},     {4, 5, 0, 1, 5}};
  for (GemmKernel kernel : packed_kernels()) {
    for (const Case& c : kCases) {
      auto x = random_values(static_cast<size_t>(c.M) * c.ldx, 1.0f, rng);
      auto w = random_values(static_cast<size_t>(c.N) * std::max<int64_t>(c.K, 1), 1.0f, rng);
      std::vector<float> packed(gemm_packed_floats(kernel, c.N, c.K));
      gemm_pack(kernel, w.data(), c.K, c.N, c.K, packed.data());
      std::vector<float> y(static_cast<size_t>(c.M) * c.ldc, 7.0f);
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool_shared()}) {
        gemm_packed(kernel, c.M, c.N, c.K, x.data(), c.ldx, packed.data(), y.data(), c.ldc, pool);
        double err = 0;
        for (int64_t i = 0; i < c.M; ++i) {
          for (int64_t j = 0; j < c.N; ++j) {
            double ref = 0, magnitude = 1;
            for (int64_t kk = 0; kk < c.K; ++kk) {
              ref += double(x[i * c.ldx + kk]) * w[j * c.K + kk];
              magnitude += std::fabs(double(x[i * c.ldx + kk]) * w[j * c.K + kk]);
            }
            // Float rounding grows with sum |x w|; a wrong index would be off by O(1) of it.
            err = std::max(err, std::fabs(ref - y[i * c.ldc + j]) / magnitude);
          }
          for (int64_t j = c.N; j < c.ldc; ++j) ASSERT_EQ(y[i * c.ldc + j], 7.0f) << "wrote past column N";
        }
        EXPECT_LT(err, 2e-6) << gemm_kernel_name(kernel) << " " << c.M << "x" << c.N << "x" << c.K;
      }
    }
  }
}

}  // namespace
}  // namespace mtpf::rt
