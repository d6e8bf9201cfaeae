// The encoder: BERT family (bert, roberta, xlm-roberta) and DistilBERT, both post-LN stacks of the same shape
// (fused QKV, attention output + residual + LayerNorm, GELU MLP + residual + LayerNorm); only the checkpoint names
// differ, and the table in bert.cpp maps every tensor to its HF name.
// A forward runs over a packed batch: the real tokens of all sequences as one [tokens, hidden] matrix, sequences
// ordered by adapter so that each adapter group is one contiguous row range.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mtpf/formats/hf_config.h"
#include "linear.h"
#include "lora.h"
#include "thread_pool.h"

namespace mtpf::rt {

struct LayerNormWeights {
  std::vector<float> weight, bias;
};

struct EncoderLayer {
  FusedLinear qkv;  // query, key, value (q_lin, k_lin, v_lin)
  FusedLinear attention_output;
  LayerNormWeights attention_norm;
  FusedLinear intermediate;
  FusedLinear output;
  LayerNormWeights output_norm;
};

// Where each sequence's real tokens sit in the packed matrix.
struct Packing {
  std::vector<int64_t> offset;  // per input row
  std::vector<int> length;      // per input row
  std::vector<AdapterGroup> groups;
  int64_t tokens = 0;
  int max_length = 0;
};

// Packs rows by adapter slot (stable), skipping pad positions. lengths [batch], slots [batch].
Packing packing_make(const std::vector<int>& lengths, const std::vector<int>& slots);

class EncoderModel {
 public:
  // dir: HF folder (config.json + model.safetensors or a sharded index). int8: quantise the linears' weights.
  EncoderModel(const std::string& dir, bool int8);

  const EncoderConfig& config() const { return config_; }
  LinearShapes linear_shapes() const;
  // The fused linear holding HF module `module`, and its part index; null if none.
  FusedLinear* find_linear(const std::string& module, int* part);
  std::vector<FusedLinear*> linears();
  long long weight_bytes() const;

  // hidden [packing.tokens, hidden_size] for the packed batch. ids / types: [batch, seq] (types may be null).
  void forward(const int32_t* ids, const int32_t* types, int seq, const Packing& packing, ThreadPool& pool,
               float* hidden) const;

 private:
  void embed(const int32_t* ids, const int32_t* types, int seq, const Packing& packing, ThreadPool& pool,
             float* hidden) const;

  EncoderConfig config_;
  std::vector<float> word_embeddings_, position_embeddings_, token_type_embeddings_;
  LayerNormWeights embeddings_norm_;
  std::vector<EncoderLayer> layers_;
};

}  // namespace mtpf::rt
