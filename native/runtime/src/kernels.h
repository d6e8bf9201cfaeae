// The runtime's CPU kernels, each with a plain-loop reference in the tests. Matrices are row-major with explicit
// leading dimensions (ld), so a kernel can read one column block of a wider GEMM output in place.
// Linears themselves are GEMMs (gemm.h, or cblas_sgemm; linear.h); these are the fused pieces around them.
#pragma once
#include <cstdint>

#include "gemm.h"

namespace mtpf::rt {

// erf and exp accurate to a few float ulps, written branch-free so loops over them vectorise.
float fast_erf(float x);
float fast_exp(float x);

// out[r, c] = gelu(x[r, c] + bias[c]) with the exact (erf) GELU: 0.5 v (1 + erf(v / sqrt 2)).
void bias_gelu(const float* x, int64_t ldx, const float* bias, int64_t rows, int64_t cols, float* out, int64_t ldo);
// x[r, c] += bias[c], in place.
void bias_add(float* x, int64_t ldx, const float* bias, int64_t rows, int64_t cols);
// out[r] = LayerNorm(x[r] + bias + residual[r]) * gamma + beta (bias and residual may be null). out may alias
// residual (both have ld = cols).
void bias_residual_layernorm(const float* x, int64_t ldx, const float* bias, const float* residual,
                             const float* gamma, const float* beta, float eps, int64_t rows, int64_t cols, float* out);
// t[k] = x . A[k] for k < r: one row's x A^T (A [r, in]).
void lora_shrink_row(const float* x, const float* A, int r, int in, float* t);
// y[0:out] += scaling * sum_k t[k] B_t[k, 0:out]: one row's LoRA update (t = x A^T of that row, B_t = B^T [r, out]).
void lora_add_row(const float* t, int r, float scaling, const float* B_t, int out, float* y);
// Softmax of each row of x [rows, cols] (ld = cols), in place.
void softmax_rows(float* x, int64_t rows, int64_t cols);

// Self-attention of one head over one sequence of `len` real tokens (no padding inside: the runtime packs real
// tokens only): ctx = softmax(q k^T / sqrt(head_dim)) v. q, k, v: [len, head_dim] at stride ld; ctx at stride ldc;
// scratch: attention_scratch_floats(len, head_dim) floats. Runs in the calling thread only (no BLAS), so many
// heads run at once on the runtime's own pool. With a packed GEMM kernel (gemm.h) both products run on it, k and
// v^T packed per head; with `blas`, on a portable register-blocked loop.
GemmKernel attention_kernel();  // AVX2's 16-column panels where the CPU has them (they fit head_dim 32 / 64)
void attention_head(const float* q, const float* k, const float* v, int64_t ld, int len, int head_dim, float* ctx,
                    int64_t ldc, float* scratch, GemmKernel kernel = attention_kernel());
// scores [len, len], then room for k and v^T packed (panels of at most 48 columns) or k^T.
inline int64_t attention_scratch_floats(int len, int head_dim) {
  auto panels48 = [](int64_t n) { return (n + 47) / 48 * 48; };
  return int64_t(len) * len + panels48(len) * head_dim + panels48(head_dim) * len;
}

}  // namespace mtpf::rt
