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
  // device: "cpu", "cuda" or "cuda:N"; precision: "fp32", "bf16" (autocast; on the CPU it pays only with bf16
  // units) or "auto" (bf16 where the device has bf16 matrix units, else fp32).
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

  // Adapters keyed by name, as the runtime's Backbone holds them: the PEFT folder `dir` becomes the LoRA group
  // `name` of this model, with the head head_<head_name>.safetensors + .json beside it when head_name is non-empty.
  // A loaded name is refused until it is unloaded. Forwards may run concurrently; loading and unloading wait for
  // them.
  void load_adapter(const std::string& name, const std::string& dir, const std::string& head_name);
  void unload_adapter(const std::string& name);
  // Output rows of the adapter's head; 0 when it was loaded without one.
  int head_classes(const std::string& name) const;

  // The forwards below run with `adapter` active ("" = the base model).
  // out: [batch, seq, hidden]
  void last_hidden_state(const int64_t* input_ids, const int64_t* attention_mask, const int64_t* token_type_ids,
                         int batch, int seq, float* out, const std::string& adapter = "");
  // Several hidden states concatenated on the feature axis; out: [batch, seq, hidden * num_selected].
  // Layer 0 is the embeddings output, L the last layer; negative indices count from the end (-1 = last).
  void hidden_states(const int64_t* input_ids, const int64_t* attention_mask, const int64_t* token_type_ids,
                     int batch, int seq, const int* layers, int num_selected, float* out);
  // pooling: "mean" (over attention_mask) or "cls"; out: [batch, hidden]
  void pooled(const int64_t* input_ids, const int64_t* attention_mask, const int64_t* token_type_ids, int batch,
              int seq, const std::string& pooling, bool normalize, float* out, const std::string& adapter = "");
  // The adapter's head over every token: out [batch, seq, head_classes(adapter)] (pad positions included).
  void token_logits(const int64_t* input_ids, const int64_t* attention_mask, const int64_t* token_type_ids, int batch,
                    int seq, const std::string& adapter, float* out);

  // Writes an HF model folder (config.json, model.safetensors in fp32, the tokenizer files).
  void save(const std::string& dir) const;

 private:
  EncoderImpl* impl_;
};

// The libtorch classes behind the facades below (train_session.h, distributed.h): declared only, so this header
// stays torch-free.
class TrainSession;
class ProcessGroup;

// One rank's membership of a data-parallel job (torchrun's environment, as JSON: rank, world_size, master_addr,
// master_port, agent_store, restart_count, timeout_s, backend) on `device`: joins at construction (rank 0 hosts
// the rendezvous store unless torchrun's agent does). Give it to the Trainer; it must outlive the Trainer. Every
// collective is called by all ranks in the same order; a rank that stopped makes the others throw, naming
// themselves and the call.
class DistributedGroup {
 public:
  DistributedGroup(const std::string& config_json, const std::string& device);
  ~DistributedGroup();
  DistributedGroup(const DistributedGroup&) = delete;
  DistributedGroup& operator=(const DistributedGroup&) = delete;

  int rank() const;
  int size() const;
  std::string backend() const;
  void barrier();
  // Rank 0's value on every rank (e.g. pseudo-labels computed once).
  std::string broadcast_string(const std::string& value);
  // Sum over ranks, in place.
  void all_reduce_sum(double* values, int n);

  ProcessGroup& group() const { return *group_; }

 private:
  ProcessGroup* group_;
};

// Whether this build can train data-parallel on `device` ("" when it can, else the reason and what to install).
std::string distributed_unavailable(const std::string& device);

// One training step's input, host memory, row-major int64. A task whose rows are 0 has no batch this step (its
// pointers are not read). TC: tc_rows pairs, anchors [tc_rows, tc_anchor_len], positives [tc_rows,
// tc_positive_len]; NER: ids, mask and labels [ner_rows, ner_len], a label per token (-100: none). Trainer::step
// checks it all (every id inside the vocabulary, lengths within the model's positions, labels within the head's
// classes), naming the field.
struct StepBatch {
  const int64_t* tc_anchor_ids = nullptr;
  const int64_t* tc_anchor_mask = nullptr;
  int tc_anchor_len = 0;
  const int64_t* tc_positive_ids = nullptr;
  const int64_t* tc_positive_mask = nullptr;
  int tc_positive_len = 0;
  int tc_rows = 0;
  const int64_t* ner_ids = nullptr;
  const int64_t* ner_mask = nullptr;
  const int64_t* ner_labels = nullptr;
  int ner_rows = 0;
  int ner_len = 0;
  // Also compute the two tasks' gradient cosine on the shared parameters (implies read).
  bool measure = false;
  // Copy the losses and the gradient norm to the host (a device sync). Without it they are NaN, and a non-finite
  // loss makes the next step that reads (or save_checkpoint, or an export) throw, naming its step.
  bool read = true;
};

// What a step reports: NaN for a task without a batch, and for losses and grad_norm on a step that did not read;
// grad_cosine only when measured.
struct StepResult {
  double tc_loss = 0, ner_loss = 0, lr = 0, grad_cosine = 0, grad_norm = 0;
  bool optimizer_stepped = false;
  bool read = false;
};

// The trainer config's defaults as JSON: its schema (sections strategy..dropout, tc, ner, lora, optimizer, padding,
// adapt; native/src/train_session.cpp defines it). Unknown keys are refused.
std::string trainer_config_defaults();

// One pre-finetuning run (strategies pf-tc, pf-ner, mtpf, mtpf-tpl, pf-l; PCGrad; task-primary LoRAs), or one
// downstream NER adaptation (ner-adapt). One call to step() is one training step: forwards, losses, backward passes,
// PCGrad, clipping and the AdamW update.
class Trainer {
 public:
  // config_json: the trainer config (trainer_config_defaults() shows every key); keys left out keep their defaults.
  Trainer(const std::string& model_dir, const std::string& config_json);
  // One rank of a data-parallel job: every step's batches are this rank's share of the global batch.
  Trainer(const std::string& model_dir, const std::string& config_json, DistributedGroup* group);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One (micro-)batch: both forwards, losses, backward passes, PCGrad, clipping and, every `accumulation` calls,
  // the AdamW update.
  StepResult step(const StepBatch& batch);
  long long optimizer_steps() const;
  long long micro_steps() const;
  int hidden_size() const;
  // Tokens a sequence may have, from config.json (RoBERTa: less its position offset).
  int max_sequence_length() const;
  // The precision this session computes in, "fp32" or "bf16": the config's, with "auto" resolved for the device.
  std::string precision() const;
  // Atomic checkpoint (DIR.tmp, then rename) with the caller's own state as JSON; load returns that JSON.
  void save_checkpoint(const std::string& dir, const std::string& extra_json) const;
  std::string load_checkpoint(const std::string& dir);
  void export_backbone(const std::string& dir) const;
  void export_adapter(const std::string& name, const std::string& dir) const;
  void export_head(const std::string& dir) const;
  // ner-adapt: switch to stage 1 (head only) or 2 (LoRA + head) with a fresh AdamW and schedule.
  void set_stage(int stage, double lr, long long total_steps, long long warmup_steps);
  // NER head logits [batch, seq, classes] in eval mode (the ner adapter active when there is one).
  void ner_logits(const int64_t* input_ids, const int64_t* attention_mask, int batch, int seq, float* out);
  // Last hidden state in eval mode, no grad, with `adapter` active ("" = base); out [batch, seq, hidden].
  void token_states(const int64_t* input_ids, const int64_t* attention_mask, int batch, int seq,
                    const std::string& adapter, float* out);

 private:
  TrainSession* session_;
};

// Mini-batch k-means (scikit-learn's MiniBatchKMeans) over x [n, d] row-major on `device`. Writes centers [k, d]
// and each row's cluster id into labels [n]; stats (3 doubles): inertia, mini-batch steps, passes over the data.
void kmeans_fit(const float* x, long long n, int d, int k, int batch_size, int max_iter, long long seed,
                const std::string& device, float* centers, int* labels, double* stats);
// Nearest-centre ids of x [n, d] for centers [k, d].
void kmeans_assign(const float* x, long long n, int d, const float* centers, int k, int* labels);

// scikit-learn's LogisticRegression(C=C, max_iter=max_iter) (lbfgs, tol 1e-4; multinomial for > 2 classes, one
// logistic for 2) fitted on x_train [n_train, d] with labels y_train in [0, classes), then applied to x_test
// [n_test, d]: the linear probe of MTEB classification. Only labels present in y_train can be predicted.
// Writes predictions [n_test]; probabilities [n_test, classes] unless null (0 for labels absent from y_train);
// stats (3 doubles) unless null: iterations, converged (1 / 0: 0 means stopped at max_iter), final objective.
void logistic_regression_fit_predict(const float* x_train, long long n_train, int d, const int* y_train, int classes,
                                     const float* x_test, long long n_test, double C, int max_iter, int* predictions,
                                     float* probabilities, double* stats);

// Writes a model folder for the config.json at config_path, initialised as HF does (weights ~ N(0, 0.02),
// seeded): the starting point for a model without pretrained weights, and for tests.
void model_init_random(const std::string& config_path, const std::string& out_dir, int64_t seed);

// libtorch's intra-op thread count. Set it explicitly: OpenMP spin-waiting on a small machine costs a lot.
void set_num_threads(int n);
int num_threads();
std::string torch_version();
bool cuda_available();

}  // namespace mtpf
