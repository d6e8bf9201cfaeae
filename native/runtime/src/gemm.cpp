#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MTPF_GEMM_X86 1
#include <immintrin.h>
#else
#define MTPF_GEMM_X86 0
#endif

namespace mtpf::rt {

namespace {

// K is split in blocks of kBlockK only past 1024 (a panel slice of 192 KiB at width 48 stays in L2): measured on
// Zen 4, splitting K = 384 or 1536 further made weights streamed from DRAM ~8% slower (more, shorter streams and C
// reloads) and gained nothing when they are cached. Rows are split in blocks whose x slice fits in kBlockFloatsA
// floats (L2), so that every panel reuses them.
constexpr int64_t kBlockK = 1024;
constexpr int64_t kBlockFloatsA = 64 * 1024;

#if MTPF_GEMM_X86

// c[0:R, 0:cols] (=, or += when accumulate) a[0:R, 0:kc] times the panel slice b [kc, 48]. R <= 8 rows; 24 zmm
// accumulators, and each k-step loads three panel vectors and broadcasts R values of a.
template <int R>
__attribute__((target("avx512f"))) void tile_avx512(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                                                    int64_t ldc, int cols, bool accumulate) {
  __mmask16 mask[3];
  for (int j = 0; j < 3; ++j) {
    const int n = std::clamp(cols - 16 * j, 0, 16);
    mask[j] = static_cast<__mmask16>((1u << n) - 1);
  }
  __m512 acc[R][3];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 3; ++j)
      acc[r][j] = accumulate ? _mm512_maskz_loadu_ps(mask[j], c + r * ldc + 16 * j) : _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b + k * 48), b1 = _mm512_loadu_ps(b + k * 48 + 16),
                 b2 = _mm512_loadu_ps(b + k * 48 + 32);
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + k]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(av, b2, acc[r][2]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 3; ++j) _mm512_mask_storeu_ps(c + r * ldc + 16 * j, mask[j], acc[r][j]);
}

// The same with AVX2 + FMA: R <= 6 rows x 16 columns, 12 ymm accumulators. A partial tile goes through a local
// buffer (AMD's vmaskmovps store is microcoded and slow, and a conditional move per accumulator made GCC keep them
// on the stack).
template <int R>
__attribute__((target("avx2,fma"))) void tile_avx2(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                                                   int64_t ldc, int cols, bool accumulate) {
  float part[R * 16];
  float* cc = c;
  int64_t ld = ldc;
  if (cols < 16) {
    cc = part;
    ld = 16;
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < 16; ++j) part[r * 16 + j] = accumulate && j < cols ? c[r * ldc + j] : 0.0f;
  }
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 2; ++j) acc[r][j] = accumulate ? _mm256_loadu_ps(cc + r * ld + 8 * j) : _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b + k * 16), b1 = _mm256_loadu_ps(b + k * 16 + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_set1_ps(a[r * lda + k]);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 2; ++j) _mm256_storeu_ps(cc + r * ld + 8 * j, acc[r][j]);
  if (cols < 16)
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < cols; ++j) c[r * ldc + j] = part[r * 16 + j];
}

using TileFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int, bool);
const TileFn kTilesAvx512[] = {nullptr,        tile_avx512<1>, tile_avx512<2>, tile_avx512<3>, tile_avx512<4>,
                               tile_avx512<5>, tile_avx512<6>, tile_avx512<7>, tile_avx512<8>};
const TileFn kTilesAvx2[] = {nullptr,      tile_avx2<1>, tile_avx2<2>, tile_avx2<3>,
                             tile_avx2<4>, tile_avx2<5>, tile_avx2<6>};

#endif

int tile_rows(GemmKernel kernel) { return kernel == GemmKernel::avx512 ? 8 : kernel == GemmKernel::avx2 ? 6 : 0; }

}  // namespace

bool gemm_kernel_supported(GemmKernel kernel) {
#if MTPF_GEMM_X86
  switch (kernel) {
    case GemmKernel::blas: return true;
    case GemmKernel::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmKernel::avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return kernel == GemmKernel::blas;
#endif
}

GemmKernel gemm_kernel_best() {
  static const GemmKernel best = [] {
    const char* env = std::getenv("MTPF_RT_GEMM");
    const std::string want = env ? env : "";
    for (GemmKernel k : {GemmKernel::avx512, GemmKernel::avx2, GemmKernel::blas}) {
      if (!want.empty() && want != gemm_kernel_name(k)) continue;
      if (gemm_kernel_supported(k)) return k;
    }
    return gemm_kernel_supported(GemmKernel::avx512) ? GemmKernel::avx512
           : gemm_kernel_supported(GemmKernel::avx2) ? GemmKernel::avx2
                                                     : GemmKernel::blas;
  }();
  return best;
}

const char* gemm_kernel_name(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::avx512: return "avx512";
    case GemmKernel::avx2: return "avx2";
    default: return "blas";
  }
}

int gemm_panel_width(GemmKernel kernel) {
  return kernel == GemmKernel::avx512 ? 48 : kernel == GemmKernel::avx2 ? 16 : 0;
}

int64_t gemm_packed_floats(GemmKernel kernel, int64_t n, int64_t k) {
  const int width = gemm_panel_width(kernel);
  return width == 0 ? n * k : (n + width - 1) / width * width * k;
}

void gemm_pack(GemmKernel kernel, const float* w, int64_t ldw, int64_t n, int64_t k, float* packed) {
  const int width = gemm_panel_width(kernel);
  const int64_t panels = (n + width - 1) / width;
  for (int64_t p = 0; p < panels; ++p)
    for (int j = 0; j < width; ++j) {
      const int64_t row = p * width + j;
      float* dst = packed + p * k * width + j;
      if (row < n) {
        for (int64_t kk = 0; kk < k; ++kk) dst[kk * width] = w[row * ldw + kk];
      } else {
        for (int64_t kk = 0; kk < k; ++kk) dst[kk * width] = 0.0f;
      }
    }
}

void gemm_pack_transposed(GemmKernel kernel, const float* w, int64_t ldw, int64_t n, int64_t k, float* packed) {
  const int width = gemm_panel_width(kernel);
  const int64_t panels = (n + width - 1) / width;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t cols = std::min<int64_t>(width, n - p * width);
    for (int64_t kk = 0; kk < k; ++kk) {
      float* dst = packed + (p * k + kk) * width;
      std::memcpy(dst, w + kk * ldw + p * width, sizeof(float) * cols);
      for (int64_t j = cols; j < width; ++j) dst[j] = 0.0f;
    }
  }
}

void gemm_packed(GemmKernel kernel, int64_t M, int64_t n, int64_t k, const float* x, int64_t ldx, const float* packed,
                 float* c, int64_t ldc, ThreadPool* pool) {
  if (M <= 0 || n <= 0) return;
#if MTPF_GEMM_X86
  const int width = gemm_panel_width(kernel), rows = tile_rows(kernel);
  const TileFn* tiles = kernel == GemmKernel::avx512 ? kTilesAvx512 : kTilesAvx2;
  const int64_t panels = (n + width - 1) / width;
  // Row blocks of equal size (whole tiles), so that threads splitting them get equal shares.
  const int64_t most_m = std::max<int64_t>(rows, kBlockFloatsA / std::max<int64_t>(k, 1) / rows * rows);
  const int64_t even_m = (M + (M + most_m - 1) / most_m - 1) / ((M + most_m - 1) / most_m);
  const int64_t block_m = (even_m + rows - 1) / rows * rows;
  const int64_t blocks_m = (M + block_m - 1) / block_m;
  // Tasks: (row block, panel), row block major, so a thread's contiguous share reuses its row blocks.
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t m0 = t / panels * block_m, m1 = std::min(M, m0 + block_m), p = t % panels;
      const int cols = static_cast<int>(std::min<int64_t>(width, n - p * width));
      const float* b = packed + p * k * width;
      float* cp = c + p * width;
      for (int64_t k0 = 0; k0 < k; k0 += kBlockK) {
        const int64_t kc = std::min(kBlockK, k - k0);
        for (int64_t i = m0; i < m1; i += rows) {
          const int r = static_cast<int>(std::min<int64_t>(rows, m1 - i));
          tiles[r](kc, x + i * ldx + k0, ldx, b + k0 * width, cp + i * ldc, ldc, cols, k0 > 0);
        }
      }
      if (k == 0)
        for (int64_t i = m0; i < m1; ++i) std::memset(cp + i * ldc, 0, sizeof(float) * cols);
    }
  };
  if (pool)
    pool->parallel_for(blocks_m * panels, run);
  else
    run(0, blocks_m * panels);
#else
  (void)kernel, (void)k, (void)x, (void)ldx, (void)packed, (void)c, (void)ldc, (void)pool;
  std::abort();  // no packed kernel on this CPU: the linears call cblas_sgemm
#endif
}

}  // namespace mtpf::rt
