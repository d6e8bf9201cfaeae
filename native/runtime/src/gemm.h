// The linears' GEMM over weights packed once at load (what ONNX Runtime's MLAS does, and OpenBLAS does not: it
// repacks both operands on every call, which at a batch of one 128-token sequence costs as much as it saves).
// y [M, N] = x [M, K] W^T with W [N, K] held as panels of `width` output columns, each [K, width] so that one
// k-step of the micro-kernel reads `width` contiguous floats. The micro-kernels are register tiles (AVX-512: 8 rows
// x 48 columns; AVX2 + FMA: 6 x 16), chosen by the CPU at run time. Elsewhere (aarch64, old x86) the kernel is
// `blas` and the linears keep plain weights and call cblas_sgemm (linear.cpp).
#pragma once
#include <cstdint>

#include "thread_pool.h"

namespace mtpf::rt {

enum class GemmKernel { blas, avx2, avx512 };

// The fastest kernel this CPU runs; MTPF_RT_GEMM=blas|avx2|avx512 overrides it (a kernel the CPU lacks falls back).
GemmKernel gemm_kernel_best();
bool gemm_kernel_supported(GemmKernel kernel);
const char* gemm_kernel_name(GemmKernel kernel);
// Columns per panel (0 for blas).
int gemm_panel_width(GemmKernel kernel);

// Floats needed to pack an [n, k] matrix (n rounded up to whole panels; the padding is zero).
int64_t gemm_packed_floats(GemmKernel kernel, int64_t n, int64_t k);
// w [n, k] (row stride ldw) into panels: packed[(p * k + kk) * width + j] = w[p * width + j, kk].
void gemm_pack(GemmKernel kernel, const float* w, int64_t ldw, int64_t n, int64_t k, float* packed);
// The same from w^T: packs the [n, k] matrix whose element (row, kk) is w[kk * ldw + row] (w is [k, n]).
void gemm_pack_transposed(GemmKernel kernel, const float* w, int64_t ldw, int64_t n, int64_t k, float* packed);
// Element (row, kk) of a packed [n, k] matrix.
inline float gemm_packed_at(GemmKernel kernel, const float* packed, int64_t k, int64_t row, int64_t kk) {
  const int width = gemm_panel_width(kernel);
  return packed[((row / width) * k + kk) * width + row % width];
}

// c[M, 0:n] = x [M, k] (row stride ldx) times the packed W^T; c has row stride ldc. Split over the pool's threads
// (null: the calling thread only).
void gemm_packed(GemmKernel kernel, int64_t M, int64_t n, int64_t k, const float* x, int64_t ldx, const float* packed,
                 float* c, int64_t ldc, ThreadPool* pool);

}  // namespace mtpf::rt
