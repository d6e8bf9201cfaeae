#include "linear.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "errors.h"
#include "kernels.h"

namespace mtpf::rt {

void gemm_nt(int64_t M, int64_t N, int64_t K, float alpha, const float* x, int64_t ldx, const float* w, int64_t ldw,
             float beta, float* c, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K),
              alpha, x, static_cast<int>(ldx), w, static_cast<int>(ldw), beta, c, static_cast<int>(ldc));
}

void FusedLinear::init(int in, std::vector<LinearPart> parts, const std::vector<const std::vector<float>*>& weights,
                       const std::vector<const std::vector<float>*>& biases, bool int8, GemmKernel kernel) {
  kernel_ = gemm_kernel_supported(kernel) ? kernel : GemmKernel::blas;
  in_ = in;
  parts_ = std::move(parts);
  out_ = 0;
  for (auto& p : parts_) {
    p.col = out_;
    out_ += p.out;
  }
  int8_ = int8;
  bias_.clear();
  for (const auto* b : biases) bias_.insert(bias_.end(), b->begin(), b->end());
  stack_.clear();
  packed_.clear();
  if (!int8_ && kernel_ != GemmKernel::blas) {
    packed_.resize(gemm_packed_floats(kernel_, out_, in_));
    std::vector<float> w_all;
    w_all.reserve(static_cast<size_t>(out_) * in_);
    for (const auto* w : weights) w_all.insert(w_all.end(), w->begin(), w->end());
    gemm_pack(kernel_, w_all.data(), in_, out_, in_, packed_.data());
    return;
  }
  if (!int8_) {
    stack_.reserve(static_cast<size_t>(out_) * in_);
    for (const auto* w : weights) stack_.insert(stack_.end(), w->begin(), w->end());
    return;
  }
  // Symmetric per output row: q = round(w / s), s = max|w| / 127.
  q_.resize(static_cast<size_t>(out_) * in_);
  scale_.resize(out_);
  int64_t row = 0;
  for (const auto* w : weights) {
    const int64_t rows = static_cast<int64_t>(w->size()) / in_;
    for (int64_t r = 0; r < rows; ++r, ++row) {
      const float* src = w->data() + r * in_;
      float m = 0;
      for (int i = 0; i < in_; ++i) m = std::max(m, std::fabs(src[i]));
      const float s = m > 0 ? m / 127.0f : 1.0f;
      scale_[row] = s;
      for (int i = 0; i < in_; ++i) q_[row * in_ + i] = static_cast<int8_t>(std::lrint(src[i] / s));
    }
  }
}

long long FusedLinear::weight_bytes() const {
  if (int8_) return static_cast<long long>(q_.size() + 4 * scale_.size() + 4 * bias_.size());
  if (kernel_ != GemmKernel::blas) return 4LL * static_cast<long long>(packed_.size() + bias_.size());
  return 4LL * (static_cast<long long>(out_) * in_ + static_cast<long long>(bias_.size()));
}

long long FusedLinear::adapter_bytes(int slot) const {
  long long n = 0;
  for (const auto& b : blocks_)
    if (b.slot == slot) n += 4LL * b.r * in_;
  return n;
}

const float* FusedLinear::a_rows(int a_row) const {
  return stack_.data() + (plain_w_rows() + a_row) * in_;
}

void FusedLinear::set_adapter(int slot, const std::vector<LoraBlock>& add, const std::vector<const float*>& A_data) {
  // Rebuild the stack: base rows, then the kept blocks and the new ones in slot order.
  std::vector<std::pair<LoraBlock, const float*>> all;
  for (const auto& b : blocks_)
    if (b.slot != slot) all.emplace_back(b, a_rows(b.a_row));
  for (size_t i = 0; i < add.size(); ++i) all.emplace_back(add[i], A_data[i]);
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.first.slot != b.first.slot ? a.first.slot < b.first.slot : a.first.part < b.first.part;
  });
  const int64_t base_rows = plain_w_rows();
  int rows = 0;
  for (const auto& e : all) rows += e.first.r;
  std::vector<float> stack((base_rows + rows) * static_cast<int64_t>(in_));
  if (base_rows) std::memcpy(stack.data(), stack_.data(), sizeof(float) * base_rows * in_);
  std::vector<LoraBlock> blocks;
  int a_row = 0;
  for (auto& [b, A] : all) {
    std::memcpy(stack.data() + (base_rows + a_row) * in_, A, sizeof(float) * b.r * in_);
    b.a_row = a_row;
    a_row += b.r;
    blocks.push_back(b);
  }
  stack_ = std::move(stack);
  blocks_ = std::move(blocks);
  a_rows_ = rows;
}

int64_t FusedLinear::forward_packed(const float* x, int64_t M, const std::vector<const LoraBlock*>& used, int needed,
                                    bool stacked, ThreadPool& pool, Scratch& scratch, float* y,
                                    std::vector<int64_t>& t_col) const {
  const int64_t ldy = out_ + (stacked ? needed : 0);
  const float* w = packed_.data();
  if (int8_) {
    // Dequantise W straight into the panel layout, a panel per task.
    const int width = gemm_panel_width(kernel_);
    const int64_t panels = (out_ + width - 1) / width;
    scratch.dequant.resize(gemm_packed_floats(kernel_, out_, in_));
    float* dq = scratch.dequant.data();
    pool.parallel_for(panels, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p)
        for (int j = 0; j < width; ++j) {
          const int64_t r = p * width + j;
          float* dst = dq + p * in_ * width + j;
          if (r >= out_) {  // the last panel's padding
            for (int i = 0; i < in_; ++i) dst[i * width] = 0.0f;
            continue;
          }
          const int8_t* q = q_.data() + r * in_;
          const float s = scale_[r];
          for (int i = 0; i < in_; ++i) dst[i * width] = s * q[i];
        }
    });
    w = dq;
  }
  gemm_packed(kernel_, M, out_, in_, x, in_, w, y, ldy, &pool);
  if (!stacked || needed == 0) return ldy;
  // The used A rows, gathered and packed: a second GEMM over x for their columns.
  scratch.a_rows.resize(static_cast<size_t>(needed) * in_);
  int64_t row = 0;
  for (size_t i = 0; i < used.size(); ++i) {
    std::memcpy(scratch.a_rows.data() + row * in_, a_rows(used[i]->a_row), sizeof(float) * used[i]->r * in_);
    t_col[i] = out_ + row;
    row += used[i]->r;
  }
  // A few rows fill a 48-wide AVX-512 panel poorly (8 of 48 columns for one rank-8 part): AVX2's 16-wide panels
  // waste less, even where they run at half the AVX-512 rate.
  GemmKernel kernel = kernel_;
  if (kernel == GemmKernel::avx512 && gemm_kernel_supported(GemmKernel::avx2) &&
      2 * gemm_packed_floats(GemmKernel::avx2, needed, 1) <= gemm_packed_floats(GemmKernel::avx512, needed, 1))
    kernel = GemmKernel::avx2;
  scratch.a_packed.resize(gemm_packed_floats(kernel, needed, in_));
  gemm_pack(kernel, scratch.a_rows.data(), in_, needed, in_, scratch.a_packed.data());
  gemm_packed(kernel, M, needed, in_, x, in_, scratch.a_packed.data(), y + out_, ldy, &pool);
  return ldy;
}

FusedLinear::UsedBlocks FusedLinear::used_blocks(const std::vector<AdapterGroup>& groups) const {
  UsedBlocks used;
  int slots_used = 0, last_slot = -1;
  for (const auto& b : blocks_) {
    bool present = false;
    for (const auto& g : groups) present = present || g.slot == b.slot;
    if (!present) continue;
    used.blocks.push_back(&b);
    used.needed += b.r;
    used.span_end = b.a_row + b.r;
    if (b.slot != last_slot) ++slots_used;
    last_slot = b.slot;
  }
  // Stacking every used A under W costs each row the x A^T of every adapter in the batch. With one adapter (or a
  // few A rows) that is the cheapest: one GEMM. With many adapters in one batch each row computes only its own
  // adapter's x A^T instead, in the per-row pass (the grouped, Punica-style "shrink").
  used.stacked = slots_used <= 1 || used.needed <= out_ / 8;
  return used;
}

int64_t FusedLinear::base_gemm_blas(const float* x, int64_t M, const UsedBlocks& used, ThreadPool& pool,
                                    Scratch& scratch, float* y, std::vector<int64_t>& t_col) const {
  const float* w = stack_.data();
  if (int8_) {
    // Dequantise W (and append the used A rows when stacking): one GEMM over exactly what the batch needs.
    const int64_t ldy = out_ + (used.stacked ? used.needed : 0);
    scratch.dequant.resize(static_cast<size_t>(ldy) * in_);
    float* dq = scratch.dequant.data();
    pool.parallel_for(
        out_,
        [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r) {
            const int8_t* q = q_.data() + r * in_;
            float* dst = dq + r * in_;
            const float s = scale_[r];
            for (int i = 0; i < in_; ++i) dst[i] = s * q[i];
          }
        },
        std::max(1, 65536 / in_));
    int64_t col = out_;
    for (size_t i = 0; used.stacked && i < used.blocks.size(); ++i) {
      std::memcpy(dq + col * in_, a_rows(used.blocks[i]->a_row), sizeof(float) * used.blocks[i]->r * in_);
      t_col[i] = col;
      col += used.blocks[i]->r;
    }
    gemm_nt(M, ldy, in_, 1.0f, x, in_, dq, in_, 0.0f, y, ldy);
    return ldy;
  }
  if (!used.stacked) {
    gemm_nt(M, out_, in_, 1.0f, x, in_, w, in_, 0.0f, y, out_);
    return out_;
  }
  if (used.span_end - used.needed <= std::max(used.needed, 16)) {
    // The used A rows follow W with few unused rows between them: one GEMM over [W; A rows up to span_end].
    const int64_t ldy = out_ + used.span_end;
    for (size_t i = 0; i < used.blocks.size(); ++i) t_col[i] = out_ + used.blocks[i]->a_row;
    gemm_nt(M, ldy, in_, 1.0f, x, in_, w, in_, 0.0f, y, ldy);
    return ldy;
  }
  // The batch's adapter sits after many unused ones: base GEMM, then one per used block.
  const int64_t ldy = out_ + used.needed;
  gemm_nt(M, out_, in_, 1.0f, x, in_, w, in_, 0.0f, y, ldy);
  int64_t col = out_;
  for (size_t i = 0; i < used.blocks.size(); ++i) {
    gemm_nt(M, used.blocks[i]->r, in_, 1.0f, x, in_, a_rows(used.blocks[i]->a_row), in_, 0.0f, y + col, ldy);
    t_col[i] = col;
    col += used.blocks[i]->r;
  }
  return ldy;
}

void FusedLinear::add_lora_terms(const float* x, int64_t M, const std::vector<AdapterGroup>& groups,
                                 const UsedBlocks& used, const std::vector<int64_t>& t_col, ThreadPool& pool,
                                 float* y, int64_t ldy) const {
  int64_t work_per_row = 0;
  for (const LoraBlock* b : used.blocks)
    work_per_row += static_cast<int64_t>(b->r) * (parts_[b->part].out + (used.stacked ? 0 : in_));
  pool.parallel_for(
      M,
      [&](int64_t begin, int64_t end) {
        float t[256];
        for (const auto& g : groups) {
          if (g.slot < 0) continue;
          const int64_t lo = std::max(begin, g.row_begin), hi = std::min(end, g.row_end);
          for (size_t i = 0; i < used.blocks.size(); ++i) {
            const LoraBlock& b = *used.blocks[i];
            if (b.slot != g.slot) continue;
            const LinearPart& part = parts_[b.part];
            for (int64_t row = lo; row < hi; ++row) {
              if (!used.stacked) {
                for (int k0 = 0; k0 < b.r; k0 += 256) {  // this row's own x A^T
                  const int kn = std::min(256, b.r - k0);
                  lora_shrink_row(x + row * in_, a_rows(b.a_row + k0), kn, in_, t);
                  lora_add_row(t, kn, b.scaling, b.B_t + static_cast<int64_t>(k0) * part.out, part.out,
                               y + row * ldy + part.col);
                }
                continue;
              }
              lora_add_row(y + row * ldy + t_col[i], b.r, b.scaling, b.B_t, part.out, y + row * ldy + part.col);
            }
          }
        }
      },
      std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work_per_row)));
}

int64_t FusedLinear::forward(const float* x, int64_t M, const std::vector<AdapterGroup>& groups, ThreadPool& pool,
                             Scratch& scratch, float* y) const {
  const UsedBlocks used = used_blocks(groups);
  std::vector<int64_t> t_col(used.blocks.size());  // where block i's x A^T lands in y (stacked)
  const int64_t ldy = kernel_ != GemmKernel::blas
                          ? forward_packed(x, M, used.blocks, used.needed, used.stacked, pool, scratch, y, t_col)
                          : base_gemm_blas(x, M, used, pool, scratch, y, t_col);
  if (!used.blocks.empty()) add_lora_terms(x, M, groups, used, t_col, pool, y, ldy);
  return ldy;
}

}  // namespace mtpf::rt
