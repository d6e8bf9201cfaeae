#include "kernels.h"

#include <cmath>
#include <cstring>

#include "gemm.h"

// On x86-64 Linux the hot loops get x86-64-v3 (AVX2 + FMA) and v4 (AVX-512) clones picked by CPU features at load time (the library itself
// targets baseline x86-64); elsewhere (aarch64: NEON is baseline) the plain build vectorises them. Not under
// ThreadSanitizer: the clones' resolvers run during relocation, before TSan's runtime is up, and crash there.
#if defined(__x86_64__) && defined(__linux__) && !defined(__ANDROID__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__)
#define MTPF_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MTPF_VECTOR_CLONES
#endif

namespace mtpf::rt {

namespace {

inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}

// exp(x) = 2^n e^r, n = round(x / ln 2), |r| <= ln2 / 2; e^r by its degree-6 Taylor polynomial (error < 2e-7).
inline float exp_inline(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to the nearest integer
  const float n = (x * 1.44269504088896341f + magic) - magic;
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * bits_to_float((static_cast<int32_t>(n) + 127) << 23);
}

// erf as a rational function of odd/even polynomials on [-4, 4] (Eigen's float erf; |error| ~ 1e-7); erf(+-4)
// rounds to +-1 in float.
inline float erf_inline(float x) {
  x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

MTPF_VECTOR_CLONES
void bias_gelu_row(const float* x, const float* bias, int64_t cols, float* out) {
  for (int64_t c = 0; c < cols; ++c) {
    const float v = x[c] + bias[c];
    out[c] = 0.5f * v * (1.0f + erf_inline(v * 0.70710678118654752f));
  }
}

// 16 floats as one value (GCC/Clang vector extension): each clone lowers it to its widest registers (one zmm, two
// ymm, four xmm or NEON q registers), so the register block below is explicit on every target.
typedef float v16f __attribute__((vector_size(64)));

typedef int32_t v16i __attribute__((vector_size(64)));

inline v16f load16(const float* p) {
  v16f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Lane-wise max as a bitwise select (a vector ?: is a GCC-only extension).
inline v16f max16(v16f a, v16f b) {
  const v16i a_wins = a > b;
  return (v16f)((a_wins & (v16i)a) | (~a_wins & (v16i)b));
}

// C [M, N] = alpha * A [M, K] B [K, N], all row-major: register blocks of 4 rows x 16 columns, so each loaded
// row piece of B feeds four FMAs. For the attention products, whose shapes (len x len x head_dim) are too small
// for BLAS threading to pay.
MTPF_VECTOR_CLONES
void small_gemm(int M, int N, int K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                int64_t ldc) {
  int i0 = 0;
  for (; i0 + 4 <= M; i0 += 4) {
    const float *a0 = A + i0 * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    int j0 = 0;
    for (; j0 + 16 <= N; j0 += 16) {
      v16f c0 = {}, c1 = {}, c2 = {}, c3 = {};
      for (int k = 0; k < K; ++k) {
        const v16f b = load16(B + k * ldb + j0);
        c0 += a0[k] * b;
        c1 += a1[k] * b;
        c2 += a2[k] * b;
        c3 += a3[k] * b;
      }
      c0 *= alpha;
      c1 *= alpha;
      c2 *= alpha;
      c3 *= alpha;
      std::memcpy(C + i0 * ldc + j0, &c0, sizeof c0);
      std::memcpy(C + (i0 + 1) * ldc + j0, &c1, sizeof c1);
      std::memcpy(C + (i0 + 2) * ldc + j0, &c2, sizeof c2);
      std::memcpy(C + (i0 + 3) * ldc + j0, &c3, sizeof c3);
    }
    for (int r = 0; r < 4; ++r)  // the last N % 16 columns
      for (int j = j0; j < N; ++j) {
        float acc = 0;
        for (int k = 0; k < K; ++k) acc += A[(i0 + r) * lda + k] * B[k * ldb + j];
        C[(i0 + r) * ldc + j] = alpha * acc;
      }
  }
  for (; i0 < M; ++i0)  // the last M % 4 rows
    for (int j = 0; j < N; ++j) {
      float acc = 0;
      for (int k = 0; k < K; ++k) acc += A[i0 * lda + k] * B[k * ldb + j];
      C[i0 * ldc + j] = alpha * acc;
    }
}

// Reductions keep 16 independent lanes (then fold them), so they vectorise without reassociating float sums.
constexpr int kLanes = 16;

// x[c] = exp(scale * (x[c] - max)) / sum, scale > 0.
MTPF_VECTOR_CLONES
void softmax_row(float* x, int64_t cols, float scale) {
  float lane[kLanes];
  int64_t c = 0;
  float m = x[0];
  if (cols >= kLanes) {  // (as lanes of scalars GCC left the max loop scalar)
    v16f vm = load16(x);
    for (c = kLanes; c + kLanes <= cols; c += kLanes) vm = max16(vm, load16(x + c));
    for (int l = 0; l < kLanes; ++l) m = vm[l] > m ? vm[l] : m;
  }
  for (; c < cols; ++c) m = x[c] > m ? x[c] : m;
  for (int l = 0; l < kLanes; ++l) lane[l] = 0.0f;
  for (c = 0; c + kLanes <= cols; c += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float e = exp_inline(scale * (x[c + l] - m));
      x[c + l] = e;
      lane[l] += e;
    }
  float sum = 0;
  for (; c < cols; ++c) sum += x[c] = exp_inline(scale * (x[c] - m));
  for (int l = 0; l < kLanes; ++l) sum += lane[l];
  const float inv = 1.0f / sum;
  for (c = 0; c < cols; ++c) x[c] *= inv;
}

// One row of bias_residual_layernorm.
MTPF_VECTOR_CLONES
void bias_residual_layernorm_row(const float* in, const float* bias, const float* res, const float* gamma,
                                 const float* beta, float eps, int64_t cols, float* o) {
  float lane[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= cols; c += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float v = in[c + l] + (bias ? bias[c + l] : 0.0f) + (res ? res[c + l] : 0.0f);
      o[c + l] = v;
      lane[l] += v;
    }
  float sum = 0;
  for (; c < cols; ++c) sum += o[c] = in[c] + (bias ? bias[c] : 0.0f) + (res ? res[c] : 0.0f);
  for (int l = 0; l < kLanes; ++l) sum += lane[l];
  const float mean = sum / static_cast<float>(cols);
  // Two passes over a row that stays in L1: no cancellation in the variance.
  for (int l = 0; l < kLanes; ++l) lane[l] = 0.0f;
  for (c = 0; c + kLanes <= cols; c += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float d = o[c + l] - mean;
      lane[l] += d * d;
    }
  float sq = 0;
  for (; c < cols; ++c) sq += (o[c] - mean) * (o[c] - mean);
  for (int l = 0; l < kLanes; ++l) sq += lane[l];
  const float inv = 1.0f / std::sqrt(sq / static_cast<float>(cols) + eps);
  for (c = 0; c < cols; ++c) o[c] = (o[c] - mean) * inv * gamma[c] + beta[c];
}

MTPF_VECTOR_CLONES
void bias_add_row(float* x, const float* bias, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) x[c] += bias[c];
}

}  // namespace

float fast_erf(float x) { return erf_inline(x); }
float fast_exp(float x) { return exp_inline(x); }

void bias_gelu(const float* x, int64_t ldx, const float* bias, int64_t rows, int64_t cols, float* out, int64_t ldo) {
  for (int64_t r = 0; r < rows; ++r) bias_gelu_row(x + r * ldx, bias, cols, out + r * ldo);
}

void bias_add(float* x, int64_t ldx, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) bias_add_row(x + r * ldx, bias, cols);
}

void bias_residual_layernorm(const float* x, int64_t ldx, const float* bias, const float* residual,
                             const float* gamma, const float* beta, float eps, int64_t rows, int64_t cols, float* out) {
  for (int64_t r = 0; r < rows; ++r)
    bias_residual_layernorm_row(x + r * ldx, bias, residual ? residual + r * cols : nullptr, gamma, beta, eps, cols,
                                out + r * cols);
}

MTPF_VECTOR_CLONES
void lora_shrink_row(const float* x, const float* A, int r, int in, float* t) {
  for (int k = 0; k < r; ++k) {
    const float* a = A + static_cast<int64_t>(k) * in;
    v16f acc = {};
    int i = 0;
    for (; i + 16 <= in; i += 16) acc += load16(x + i) * load16(a + i);
    float sum = 0;
    for (int l = 0; l < 16; ++l) sum += acc[l];
    for (; i < in; ++i) sum += x[i] * a[i];
    t[k] = sum;
  }
}

MTPF_VECTOR_CLONES
void lora_add_row(const float* t, int r, float scaling, const float* B_t, int out, float* y) {
  for (int k = 0; k < r; ++k) {
    const float s = scaling * t[k];
    const float* b = B_t + static_cast<int64_t>(k) * out;
    for (int o = 0; o < out; ++o) y[o] += s * b[o];
  }
}

void softmax_rows(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) softmax_row(x + r * cols, cols, 1.0f);
}

// AVX-512's 48-column panels would waste a third of each tile at head_dim 32.
GemmKernel attention_kernel() {
  static const GemmKernel kernel = gemm_kernel_best() == GemmKernel::blas ? GemmKernel::blas
                                   : gemm_kernel_supported(GemmKernel::avx2) ? GemmKernel::avx2
                                                                             : gemm_kernel_best();
  return kernel;
}

void attention_head(const float* q, const float* k, const float* v, int64_t ld, int len, int head_dim, float* ctx,
                    int64_t ldc, float* scratch, GemmKernel kernel) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  float* scores = scratch;  // [len, len]
  float* rest = scratch + static_cast<int64_t>(len) * len;
  if (kernel != GemmKernel::blas && gemm_kernel_supported(kernel)) {
    float* k_packed = rest;
    float* v_packed = rest + gemm_packed_floats(kernel, len, head_dim);
    gemm_pack(kernel, k, ld, len, head_dim, k_packed);
    gemm_pack_transposed(kernel, v, ld, head_dim, len, v_packed);
    gemm_packed(kernel, len, len, head_dim, q, ld, k_packed, scores, len, nullptr);
    for (int r = 0; r < len; ++r) softmax_row(scores + static_cast<int64_t>(r) * len, len, scale);
    gemm_packed(kernel, len, head_dim, len, scores, len, v_packed, ctx, ldc, nullptr);
    return;
  }
  float* k_t = rest;  // [head_dim, len]
  for (int t = 0; t < len; ++t)
    for (int d = 0; d < head_dim; ++d) k_t[d * len + t] = k[t * ld + d];
  small_gemm(len, len, head_dim, scale, q, ld, k_t, len, scores, len);
  softmax_rows(scores, len, len);
  small_gemm(len, head_dim, len, 1.0f, scores, len, v, ld, ctx, ldc);
}

}  // namespace mtpf::rt
