// mtpf's mobile / CPU inference runtime: libtorch-free, only a CBLAS (OpenBLAS from the JavaCPP presets).
// One shared backbone, any number of named LoRA adapters (PEFT folders) and their heads; one forward serves a
// batch whose sequences each name their own adapter (the base matmul is shared, the low-rank terms are applied
// per adapter group: the S-LoRA / Punica idea).
//
// Inputs are row-major [batch, seq] int32 arrays, right-padded (attention_mask is 1...1 0...0 per row);
// token_type_ids may be null (all zeros). No compute goes to pad tokens. Outputs go to caller-owned arrays.
// Errors: every call throws std::runtime_error whose message names the input and the reason (JavaCPP turns it
// into a Java exception); no call aborts the process on bad input.
// Thread safety: forwards may run concurrently from many threads; loading and unloading adapters takes an
// exclusive lock and waits for running forwards.
#pragma once
#include <cstdint>
#include <string>

namespace mtpf {
namespace rt {

class BackboneImpl;

class Backbone {
 public:
  // model_dir: an HF folder (config.json + model.safetensors, F32/F16/BF16; BERT family and DistilBERT).
  // weights: "fp32", or "int8" (linear weights quantised per output row, symmetric; embeddings and norms fp32).
  Backbone(const std::string& model_dir, const std::string& weights);
  ~Backbone();
  Backbone(const Backbone&) = delete;
  Backbone& operator=(const Backbone&) = delete;

  std::string model_type() const;
  int hidden_size() const;
  int num_layers() const;
  int vocab_size() const;
  int max_sequence_length() const;
  int pad_token_id() const;
  // Threads used by this backbone's forwards (BLAS and our own kernels); default: the number of cores.
  void set_num_threads(int n);
  int num_threads() const;
  // Bytes held by the backbone's weights, and by one adapter (its LoRA matrices and head).
  long long weight_bytes() const;
  long long adapter_bytes(const std::string& name) const;

  // Loads a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) under `name`, with its head
  // (head_<head_name>.safetensors + .json beside it) when head_name is non-empty. Refuses adapters whose
  // targets, rank or shapes do not match this backbone. Replaces an adapter of the same name.
  void load_adapter(const std::string& name, const std::string& dir, const std::string& head_name);
  void unload_adapter(const std::string& name);
  // The adapter's slot for the per-sequence adapter_ids of the forwards; -1 is the plain backbone.
  int adapter_id(const std::string& name) const;
  // Newline-separated names of the loaded adapters.
  std::string adapter_names() const;
  // The head's class count (0 without a head) and its labels, newline-separated ("" when it has none).
  int head_classes(const std::string& name) const;
  std::string head_labels(const std::string& name) const;

  // adapter_ids [batch]: each sequence's adapter slot (-1: none); null = all -1.
  // out: [batch, seq, hidden]; pad positions are written as zeros.
  void last_hidden_state(const int32_t* input_ids, const int32_t* attention_mask, const int32_t* token_type_ids,
                         const int32_t* adapter_ids, int batch, int seq, float* out);
  // pooling: "mean" (over attention_mask) or "cls"; out [batch, hidden].
  void embed(const int32_t* input_ids, const int32_t* attention_mask, const int32_t* token_type_ids,
             const int32_t* adapter_ids, int batch, int seq, const std::string& pooling, bool normalize, float* out);
  // Each sequence's adapter head applied to its tokens: out [batch, seq, out_classes]; a head with fewer classes
  // fills the rest with -inf; pad positions are zeros. Every named adapter must have a head; out_classes must be
  // at least the largest head's class count.
  void token_logits(const int32_t* input_ids, const int32_t* attention_mask, const int32_t* token_type_ids,
                    const int32_t* adapter_ids, int batch, int seq, int out_classes, float* out);

 private:
  BackboneImpl* impl_;
};

std::string runtime_version();

}  // namespace rt
}  // namespace mtpf
