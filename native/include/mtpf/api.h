// mtpf's native API as Java sees it (through JavaCPP). This header is torch-free on purpose: the JNI glue
// compiles without libtorch headers, and every libtorch type stays behind the pimpl.
//
// Errors: every call throws std::runtime_error whose message names the input and the reason; JavaCPP turns
// it into a Java exception. No call aborts the process on bad input.
#pragma once
#include <cstdint>
#include <string>

namespace mtpf {

class EncoderImpl;

// A loaded HF encoder (BERT, RoBERTa, DistilBERT) on one device. Inputs are row-major [batch, seq] int64
// arrays; token_type_ids may be null (all zeros). Outputs are written to caller-owned float arrays.
class Encoder {
 public:
  // device: "cpu", "cuda" or "cuda:N"; precision: "fp32", or "bf16" (autocast, CUDA only).
  Encoder(const std::string& model_dir, const std::string& device, const std::string& precision);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  std::string model_type() const;
  std::string device() const;
  int hidden_size() const;
  int num_layers() const;
  int vocab_size() const;
  int type_vocab_size() const;
  int pad_token_id() const;
  int max_sequence_length() const;

  // out: [batch, seq, hidden]
  void last_hidden_state(const int64_t* input_ids, const int64_t* attention_mask, const int64_t* token_type_ids,
                         int batch, int seq, float* out);
  // Several hidden states concatenated on the feature axis; out: [batch, seq, hidden * num_selected].
  // Layer 0 is the embeddings output, L the last layer; negative indices count from the end (-1 = last).
  void hidden_states(const int64_t* input_ids, const int64_t* attention_mask, const int64_t* token_type_ids,
                     int batch, int seq, const int* layers, int num_selected, float* out);
  // pooling: "mean" (over attention_mask) or "cls"; out: [batch, hidden]
  void pooled(const int64_t* input_ids, const int64_t* attention_mask, const int64_t* token_type_ids, int batch,
              int seq, const std::string& pooling, bool normalize, float* out);

  // Writes an HF model folder (config.json, model.safetensors in fp32, the tokenizer files).
  void save(const std::string& dir) const;

 private:
  EncoderImpl* impl_;
};

// Writes a model folder for the config.json at config_path, initialised as HF does (weights ~ N(0, 0.02),
// seeded): the starting point for a model without pretrained weights, and for tests.
void model_init_random(const std::string& config_path, const std::string& out_dir, int64_t seed);

// libtorch's intra-op thread count. Set it explicitly: OpenMP spin-waiting on a small machine costs a lot.
void set_num_threads(int n);
int num_threads();
std::string torch_version();
bool cuda_available();

}  // namespace mtpf
