// FusedLinear: one or more HF linears that read the same input (query, key and value; or a single dense), with the
// LoRA adapters loaded on them, run as GEMMs over the packed batch [tokens, in].
//
// Weights are stacked row-wise as [W_1; W_2; ...; A_blocks]: each adapter's lora_A [r, in] for each part follows the
// base rows, in adapter-slot order. A batch with one adapter (or few A rows in all) runs ONE GEMM x [W; A...]^T that
// reads x once and yields both the base output and the group's x A^T. A batch mixing many adapters runs the base
// GEMM x W^T alone and each row computes only its own adapter's x A^T (stacking would give every row every
// adapter's). Either way each adapter group (a contiguous row range of the packed batch) then adds
// scaling * (x A^T) B^T to its own rows, all groups in one parallel pass over the rows (the S-LoRA / Punica idea:
// the base matmul is shared, the low-rank terms are per group, and their cost does not grow with the group count).
// int8: W is held per output row as int8 with an fp32 scale; a forward dequantises it (with the used A rows
// appended when stacking) into a per-call fp32 buffer and runs the same GEMM.
// Where the CPU has a packed GEMM kernel (gemm.h: AVX2 / AVX-512), W is held only in its packed panels (no plain
// copy), and the A rows a batch stacks under it are packed per call (a few rows) and run as a second GEMM over
// the same x; int8 dequantises straight into the panel layout. Elsewhere both run as cblas_sgemm.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gemm.h"
#include "thread_pool.h"

namespace mtpf::rt {

// One adapter group of the packed batch: rows [row_begin, row_end) use adapter `slot` (-1: none).
struct AdapterGroup {
  int slot;
  int64_t row_begin, row_end;
};

struct LinearPart {
  std::string name;  // full HF module name, e.g. "encoder.layer.3.attention.self.query"
  int out = 0;
  int col = 0;  // first output column inside the fused linear
};

// One adapter's LoRA on one part: its A rows live in FusedLinear's stack, B transposed ([r, part.out], so the
// per-row update is r contiguous axpys) in the adapter.
struct LoraBlock {
  int slot = -1;
  int part = 0;
  int r = 0;
  float scaling = 1.0f;
  int a_row = 0;  // first of its r rows after the base rows
  const float* B_t = nullptr;
};

// Per-thread scratch of a forward.
struct Scratch {
  std::vector<float> dequant;
  std::vector<float> a_rows, a_packed;  // the used A rows, plain and packed (packed kernels)
};

class FusedLinear {
 public:
  FusedLinear() = default;
  // parts' weights [out_i, in] and biases [out_i], in order. kernel: the GEMM (gemm_kernel_best() by default).
  void init(int in, std::vector<LinearPart> parts, const std::vector<const std::vector<float>*>& weights,
            const std::vector<const std::vector<float>*>& biases, bool int8,
            GemmKernel kernel = gemm_kernel_best());

  int in() const { return in_; }
  int out() const { return out_; }
  int adapter_rows() const { return a_rows_; }
  const std::vector<LinearPart>& parts() const { return parts_; }
  const float* bias() const { return bias_.data(); }
  long long weight_bytes() const;      // base weights and bias
  long long adapter_bytes(int slot) const;  // the A rows of one adapter held here

  // Adds (replacing any of the same slot) or removes the LoRA blocks of adapter `slot`. A_data[i] is block i's A
  // [r, in]. Not thread-safe: the backbone holds its exclusive lock.
  void set_adapter(int slot, const std::vector<LoraBlock>& blocks, const std::vector<const float*>& A_data);
  void remove_adapter(int slot) { set_adapter(slot, {}, {}); }

  // y[:, 0:out] = x W^T plus each group's LoRA terms (no bias: the epilogue kernel adds it). x [M, in] (ld in);
  // y needs room for M * (out + adapter_rows) floats. Returns y's leading dimension.
  int64_t forward(const float* x, int64_t M, const std::vector<AdapterGroup>& groups, ThreadPool& pool,
                  Scratch& scratch, float* y) const;

 private:
  const float* a_rows(int a_row) const;  // the A stack's row a_row
  // W's rows held plain at the top of stack_ (fp32 with the blas kernel); otherwise stack_ holds A rows only.
  int64_t plain_w_rows() const { return int8_ || kernel_ != GemmKernel::blas ? 0 : out_; }
  // The LoRA blocks a batch's groups use, and how its A rows are to be applied.
  struct UsedBlocks {
    std::vector<const LoraBlock*> blocks;
    int needed = 0;    // their A rows
    int span_end = 0;  // one past the last of them in the A stack
    bool stacked = false;  // their A rows ride in the base GEMM (one x [W; A]^T), not per row
  };
  UsedBlocks used_blocks(const std::vector<AdapterGroup>& groups) const;
  // y = x W^T (and x A^T of the used blocks when stacked, at t_col) with CBLAS; returns y's leading dimension.
  int64_t base_gemm_blas(const float* x, int64_t M, const UsedBlocks& used, ThreadPool& pool, Scratch& scratch,
                         float* y, std::vector<int64_t>& t_col) const;
  // The same over weights packed for kernel_.
  int64_t forward_packed(const float* x, int64_t M, const std::vector<const LoraBlock*>& used, int needed,
                         bool stacked, ThreadPool& pool, Scratch& scratch, float* y, std::vector<int64_t>& t_col) const;
  // y[rows, part] += scaling * (x A^T)[rows] B^T for every group, in one parallel pass over the rows.
  void add_lora_terms(const float* x, int64_t M, const std::vector<AdapterGroup>& groups, const UsedBlocks& used,
                      const std::vector<int64_t>& t_col, ThreadPool& pool, float* y, int64_t ldy) const;

  GemmKernel kernel_ = GemmKernel::blas;
  int in_ = 0, out_ = 0;
  std::vector<LinearPart> parts_;
  std::vector<float> bias_;
  bool int8_ = false;
  // fp32 + blas: [out + a_rows, in] (W, then A rows). Otherwise A rows only; W in packed_ or q_ / scale_.
  std::vector<float> stack_;
  std::vector<float> packed_;  // fp32 W [out, in] packed for kernel_
  std::vector<int8_t> q_;
  std::vector<float> scale_;
  std::vector<LoraBlock> blocks_;  // ascending slot, then part; a_row ascending
  int a_rows_ = 0;
};

// x [M, K] times w [N, K]^T into c [M, N] (leading dimensions given): alpha x w^T + beta c.
void gemm_nt(int64_t M, int64_t N, int64_t K, float alpha, const float* x, int64_t ldx, const float* w, int64_t ldw,
             float beta, float* c, int64_t ldc);

}  // namespace mtpf::rt
