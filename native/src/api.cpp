// The torch-free facade of include/mtpf/api.h: argument checks, device moves, and c10::Error -> a plain
// std::runtime_error without libtorch's C++ backtrace (JavaCPP forwards what() to Java).
#include "mtpf/api.h"

#include <torch/torch.h>

#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "distributed.h"
#include "errors.h"
#include "kmeans.h"
#include "logistic_regression.h"
#include "lora.h"
#include "peft.h"
#include "train_session.h"
#include "model_folder.h"
#include "pooling.h"
#include "precision.h"
#include "torch_compat.h"

namespace mtpf {

namespace {

// A JSON argument of the API, or an error naming it.
nlohmann::json parse_json(const std::string& text, const char* what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(what, ": malformed JSON (", e.what(), ")");
  }
}

template <typename F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw Error(std::string(what) + ": " + e.what_without_backtrace());
  }
}

}  // namespace

class EncoderImpl {
 public:
  LoadedModel loaded;
  torch::Device device = torch::kCPU;
  bool bf16 = false;
  // Forwards hold it shared; loading and unloading adapters, exclusively (they change the model's modules).
  mutable std::shared_mutex adapters_lock;
  std::map<std::string, PeftHead> heads;  // every loaded adapter; an undefined weight where it has no head

  void check_inputs(const int64_t* ids, const int64_t* mask, const int64_t* types, int batch, int seq) const {
    const auto& c = loaded.model->config();
    if (!ids || !mask) fail("input_ids and attention_mask must not be null");
    if (batch <= 0 || seq <= 0) fail("batch (", batch, ") and sequence length (", seq, ") must be positive");
    if (seq > loaded.model->max_sequence_length())
      fail("sequence length ", seq, " exceeds the model's maximum of ", loaded.model->max_sequence_length(),
           " positions (truncate the input)");
    const int64_t n = static_cast<int64_t>(batch) * seq;
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= c.vocab_size)
        fail("input_ids[", i / seq, "][", i % seq, "] = ", ids[i], " is outside the vocabulary [0, ", c.vocab_size, ")");
      if (mask[i] != 0 && mask[i] != 1)
        fail("attention_mask[", i / seq, "][", i % seq, "] = ", mask[i], " (must be 0 or 1)");
      if (types && (types[i] < 0 || types[i] >= std::max(c.type_vocab_size, 1)))
        fail("token_type_ids[", i / seq, "][", i % seq, "] = ", types[i], " is outside [0, ", c.type_vocab_size, ")");
    }
  }

  // Callers hold adapters_lock (shared).
  EncoderOutput run(const int64_t* ids, const int64_t* mask, const int64_t* types, int batch, int seq,
                    bool all_hidden, torch::Tensor* mask_out, const std::string& adapter = "") {
    check_inputs(ids, mask, types, batch, seq);
    if (!adapter.empty() && !heads.count(adapter)) fail("adapter '", adapter, "' is not loaded");
    ActiveAdapter active(adapter);
    auto opts = torch::TensorOptions().dtype(torch::kLong);
    auto to_tensor = [&](const int64_t* p) {
      return torch::from_blob(const_cast<int64_t*>(p), {batch, seq}, opts).to(device);
    };
    torch::NoGradGuard no_grad;
    AutocastGuard autocast(bf16, device);
    auto m = to_tensor(mask);
    if (mask_out) *mask_out = m;
    return loaded.model->forward(to_tensor(ids), m, types ? to_tensor(types) : torch::Tensor(), all_hidden);
  }

  static void copy_out(const torch::Tensor& t, float* out) {
    auto cpu = t.to(torch::kCPU, torch::kFloat32).contiguous();
    std::memcpy(out, cpu.data_ptr<float>(), cpu.numel() * sizeof(float));
  }
};

Encoder::Encoder(const std::string& model_dir, const std::string& device, const std::string& precision)
    : impl_(nullptr) {
  guarded("loading model", [&] {
    auto impl = std::make_unique<EncoderImpl>();
    torch::Device dev(torch::kCPU);
    try {
      dev = torch::Device(device);
    } catch (const c10::Error&) {
      fail("unknown device '", device, "' (use cpu, cuda or cuda:N)");
    }
    if (dev.is_cuda() && !torch::cuda::is_available())
      fail("device '", device, "' requested but this libtorch (", TORCH_VERSION, ") sees no CUDA GPU");
    impl->device = dev;
    impl->bf16 = resolve_precision(precision, dev) == "bf16";
    impl->loaded = model_folder_load(model_dir);
    impl->loaded.model->to(dev);
    impl_ = impl.release();
    return 0;
  });
}

Encoder::~Encoder() { delete impl_; }

std::string Encoder::model_type() const { return impl_->loaded.model->config().model_type; }
std::string Encoder::device() const { return impl_->device.str(); }
int Encoder::hidden_size() const { return impl_->loaded.model->config().hidden_size; }
int Encoder::num_layers() const { return impl_->loaded.model->config().num_hidden_layers; }
int Encoder::vocab_size() const { return impl_->loaded.model->config().vocab_size; }
int Encoder::type_vocab_size() const { return impl_->loaded.model->config().type_vocab_size; }
int Encoder::pad_token_id() const { return impl_->loaded.model->config().pad_token_id; }
int Encoder::max_sequence_length() const { return static_cast<int>(impl_->loaded.model->max_sequence_length()); }

void Encoder::load_adapter(const std::string& name, const std::string& dir, const std::string& head_name) {
  guarded("load_adapter", [&] {
    if (name.empty()) fail("an adapter needs a name");
    // Everything is read and checked before the model changes: a refused folder leaves it as it was.
    PeftHead head;
    if (!head_name.empty()) {
      head = peft_load_head(dir, head_name);
      if (head.weight.size(1) != hidden_size())
        fail(dir, ": head '", head_name, "' takes ", head.weight.size(1), " features but the model's hidden size is ",
             hidden_size());
      head.weight = head.weight.to(impl_->device);
      head.bias = head.bias.to(impl_->device);
    }
    std::unique_lock lock(impl_->adapters_lock);
    if (impl_->heads.count(name)) fail("adapter '", name, "' is already loaded (unload it first)");
    peft_load(*impl_->loaded.model, dir, name, /*is_trainable=*/false);
    impl_->loaded.model->to(impl_->device);
    impl_->heads[name] = head;
    return 0;
  });
}

void Encoder::unload_adapter(const std::string& name) {
  guarded("unload_adapter", [&] {
    std::unique_lock lock(impl_->adapters_lock);
    if (!impl_->heads.count(name)) fail("adapter '", name, "' is not loaded");
    lora_remove(*impl_->loaded.model, name);
    impl_->heads.erase(name);
    return 0;
  });
}

int Encoder::head_classes(const std::string& name) const {
  std::shared_lock lock(impl_->adapters_lock);
  auto it = impl_->heads.find(name);
  if (it == impl_->heads.end()) fail("adapter '", name, "' is not loaded");
  return it->second.weight.defined() ? static_cast<int>(it->second.weight.size(0)) : 0;
}

void Encoder::token_logits(const int64_t* ids, const int64_t* mask, const int64_t* types, int batch, int seq,
                           const std::string& adapter, float* out) {
  guarded("token_logits", [&] {
    if (!out) fail("output buffer must not be null");
    std::shared_lock lock(impl_->adapters_lock);
    auto it = impl_->heads.find(adapter);
    if (it == impl_->heads.end() || !it->second.weight.defined())
      fail("adapter '", adapter, "' is not loaded with a head");
    auto hidden = impl_->run(ids, mask, types, batch, seq, false, nullptr, adapter).last_hidden_state;
    torch::NoGradGuard no_grad;
    EncoderImpl::copy_out(torch::linear(hidden.to(torch::kFloat32), it->second.weight, it->second.bias), out);
    return 0;
  });
}

void Encoder::last_hidden_state(const int64_t* ids, const int64_t* mask, const int64_t* types, int batch, int seq,
                                float* out, const std::string& adapter) {
  guarded("last_hidden_state", [&] {
    if (!out) fail("output buffer must not be null");
    std::shared_lock lock(impl_->adapters_lock);
    EncoderImpl::copy_out(impl_->run(ids, mask, types, batch, seq, false, nullptr, adapter).last_hidden_state, out);
    return 0;
  });
}

void Encoder::hidden_states(const int64_t* ids, const int64_t* mask, const int64_t* types, int batch, int seq,
                            const int* layers, int num_selected, float* out) {
  guarded("hidden_states", [&] {
    if (!out || !layers || num_selected <= 0) fail("hidden_states needs an output buffer and at least one layer");
    const int count = num_layers() + 1;
    std::vector<int> picked;
    for (int i = 0; i < num_selected; ++i) {
      int l = layers[i] < 0 ? count + layers[i] : layers[i];
      if (l < 0 || l >= count)
        fail("layer index ", layers[i], " is out of range for a model with ", num_layers(), " layers (0 = embeddings)");
      picked.push_back(l);
    }
    std::shared_lock lock(impl_->adapters_lock);
    auto result = impl_->run(ids, mask, types, batch, seq, true, nullptr);
    std::vector<torch::Tensor> parts;
    for (int l : picked) parts.push_back(result.hidden_states[l]);
    EncoderImpl::copy_out(torch::cat(parts, -1), out);
    return 0;
  });
}

void Encoder::pooled(const int64_t* ids, const int64_t* mask, const int64_t* types, int batch, int seq,
                     const std::string& pooling, bool normalize, float* out, const std::string& adapter) {
  guarded("pooled", [&] {
    if (!out) fail("output buffer must not be null");
    if (pooling != "mean" && pooling != "cls") fail("unknown pooling '", pooling, "' (use mean or cls)");
    torch::Tensor m;
    std::shared_lock lock(impl_->adapters_lock);
    auto hidden =
        impl_->run(ids, mask, types, batch, seq, false, &m, adapter).last_hidden_state.to(torch::kFloat32);
    auto pooled = pooling == "mean" ? mean_pool(hidden, m) : cls_pool(hidden);
    EncoderImpl::copy_out(normalize ? l2_normalize(pooled) : pooled, out);
    return 0;
  });
}

void Encoder::save(const std::string& dir) const {
  guarded("save", [&] {
    std::shared_lock lock(impl_->adapters_lock);  // the base weights only: LoRA groups are not written
    model_folder_save(impl_->loaded, dir);
    return 0;
  });
}

// ---- DistributedGroup ----

DistributedGroup::DistributedGroup(const std::string& config_json, const std::string& device) : group_(nullptr) {
  guarded("joining the process group", [&] {
    const auto j = parse_json(config_json, "distributed config");
    torch::Device d(torch::kCPU);
    try {
      d = torch::Device(device);
    } catch (const c10::Error&) {
      fail("unknown device '", device, "' (cpu, cuda or cuda:N)");
    }
    group_ = new ProcessGroup(DistributedConfig::from_json(j), d);
    return 0;
  });
}

DistributedGroup::~DistributedGroup() { delete group_; }
int DistributedGroup::rank() const { return group_->rank(); }
int DistributedGroup::size() const { return group_->size(); }
std::string DistributedGroup::backend() const { return group_->backend(); }

void DistributedGroup::barrier() {
  guarded("barrier", [&] {
    group_->barrier();
    return 0;
  });
}

std::string DistributedGroup::broadcast_string(const std::string& value) {
  return guarded("broadcast", [&] {
    auto& g = *group_;
    auto size = torch::tensor({static_cast<int64_t>(value.size())});
    g.broadcast_from_rank0({size});
    auto bytes = torch::zeros({size.item<int64_t>()}, torch::kUInt8);
    if (g.rank() == 0) std::memcpy(bytes.data_ptr(), value.data(), value.size());
    g.broadcast_from_rank0({bytes});
    return std::string(reinterpret_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
  });
}

void DistributedGroup::all_reduce_sum(double* values, int n) {
  if (!values || n <= 0) fail("all_reduce_sum: no values");
  guarded("all-reduce", [&] {
    auto t = torch::from_blob(values, {n}, torch::kFloat64).clone();
    group_->all_reduce_sum({t});
    std::memcpy(values, t.data_ptr<double>(), n * sizeof(double));
    return 0;
  });
}

std::string distributed_unavailable(const std::string& device) {
  return guarded("distributed", [&] {
    torch::Device d(device);
    return distributed_available(d) ? std::string() : distributed_unavailable_reason(d);
  });
}

std::string trainer_config_defaults() {
  return guarded("trainer_config_defaults", [] { return TrainConfig{}.to_json().dump(); });
}

Trainer::Trainer(const std::string& model_dir, const std::string& config_json) : Trainer(model_dir, config_json, nullptr) {}

Trainer::Trainer(const std::string& model_dir, const std::string& config_json, DistributedGroup* group) : session_(nullptr) {
  guarded("creating the trainer", [&] {
    const auto j = parse_json(config_json, "trainer config");
    session_ = new TrainSession(model_dir, TrainConfig::from_json(j), group ? &group->group() : nullptr);
    return 0;
  });
}

Trainer::~Trainer() { delete session_; }

StepResult Trainer::step(const StepBatch& batch) {
  return guarded("train step", [&] {
    // The struct as tensors over the caller's memory (the session copies them to its device); the session checks
    // their values (TrainSession::prepare), so only the pointers are checked here.
    auto tensor = [](const int64_t* p, int rows, int cols, const char* what) {
      if (!p) fail("StepBatch.", what, " must not be null when its task has rows");
      if (cols <= 0) fail("StepBatch.", what, ": length ", cols, " must be positive");
      return torch::from_blob(const_cast<int64_t*>(p), {rows, cols}, torch::kLong);
    };
    if (batch.tc_rows < 0 || batch.ner_rows < 0) fail("StepBatch: negative row count");
    StepInputs in;
    if (batch.tc_rows > 0) {
      in.tc_a_ids = tensor(batch.tc_anchor_ids, batch.tc_rows, batch.tc_anchor_len, "tc_anchor_ids");
      in.tc_a_mask = tensor(batch.tc_anchor_mask, batch.tc_rows, batch.tc_anchor_len, "tc_anchor_mask");
      in.tc_b_ids = tensor(batch.tc_positive_ids, batch.tc_rows, batch.tc_positive_len, "tc_positive_ids");
      in.tc_b_mask = tensor(batch.tc_positive_mask, batch.tc_rows, batch.tc_positive_len, "tc_positive_mask");
    }
    if (batch.ner_rows > 0) {
      in.ner_ids = tensor(batch.ner_ids, batch.ner_rows, batch.ner_len, "ner_ids");
      in.ner_mask = tensor(batch.ner_mask, batch.ner_rows, batch.ner_len, "ner_mask");
      in.ner_labels = tensor(batch.ner_labels, batch.ner_rows, batch.ner_len, "ner_labels");
    }
    const auto m = session_->step(in, batch.measure, batch.read);
    StepResult r;
    r.tc_loss = m.tc_loss;
    r.ner_loss = m.ner_loss;
    r.lr = m.lr;
    r.grad_cosine = m.grad_cosine;
    r.grad_norm = m.grad_norm;
    r.optimizer_stepped = m.optimizer_stepped;
    r.read = m.read;
    return r;
  });
}

long long Trainer::optimizer_steps() const { return session_->optimizer_steps(); }
long long Trainer::micro_steps() const { return session_->micro_steps(); }
int Trainer::hidden_size() const { return session_->model().config().hidden_size; }
int Trainer::max_sequence_length() const { return session_->model().config().max_sequence_length(); }
std::string Trainer::precision() const { return session_->config().precision; }

void Trainer::save_checkpoint(const std::string& dir, const std::string& extra_json) const {
  guarded("save_checkpoint", [&] {
    const auto extra =
        extra_json.empty() ? nlohmann::json::object() : parse_json(extra_json, "checkpoint extra state");
    session_->save_checkpoint(dir, extra);
    return 0;
  });
}

std::string Trainer::load_checkpoint(const std::string& dir) {
  return guarded("load_checkpoint", [&] { return session_->load_checkpoint(dir).dump(); });
}

void Trainer::export_backbone(const std::string& dir) const {
  guarded("export_backbone", [&] {
    session_->export_backbone(dir);
    return 0;
  });
}

void Trainer::export_adapter(const std::string& name, const std::string& dir) const {
  guarded("export_adapter", [&] {
    session_->export_adapter(name, dir);
    return 0;
  });
}

void Trainer::export_head(const std::string& dir) const {
  guarded("export_head", [&] {
    session_->export_head(dir);
    return 0;
  });
}

void Trainer::set_stage(int stage, double lr, long long total_steps, long long warmup_steps) {
  guarded("set_stage", [&] {
    session_->set_stage(stage, lr, total_steps, warmup_steps);
    return 0;
  });
}

void Trainer::ner_logits(const int64_t* ids, const int64_t* mask, int batch, int seq, float* out) {
  guarded("ner_logits", [&] {
    if (!ids || !mask || !out || batch <= 0 || seq <= 0) fail("ner_logits: empty input or null buffer");
    auto t_ids = torch::from_blob(const_cast<int64_t*>(ids), {batch, seq}, torch::kLong);
    auto t_mask = torch::from_blob(const_cast<int64_t*>(mask), {batch, seq}, torch::kLong);
    EncoderImpl::copy_out(session_->ner_logits(t_ids, t_mask), out);
    return 0;
  });
}

void Trainer::token_states(const int64_t* ids, const int64_t* mask, int batch, int seq, const std::string& adapter,
                           float* out) {
  guarded("token_states", [&] {
    if (!ids || !mask || !out || batch <= 0 || seq <= 0) fail("token_states: empty input or null buffer");
    auto t_ids = torch::from_blob(const_cast<int64_t*>(ids), {batch, seq}, torch::kLong);
    auto t_mask = torch::from_blob(const_cast<int64_t*>(mask), {batch, seq}, torch::kLong);
    EncoderImpl::copy_out(session_->embed_tokens(t_ids, t_mask, adapter), out);
    return 0;
  });
}

// ---- k-means ----

void kmeans_fit(const float* x, long long n, int d, int k, int batch_size, int max_iter, long long seed,
                const std::string& device, float* centers, int* labels, double* stats) {
  guarded("kmeans_fit", [&] {
    if (!x || !centers || !labels || !stats || n <= 0 || d <= 0) fail("kmeans_fit: empty input or null buffer");
    auto X = torch::from_blob(const_cast<float*>(x), {n, d}, torch::kFloat32).to(torch::Device(device));
    KMeansOptions options;
    options.k = k;
    options.batch_size = batch_size;
    options.max_iter = max_iter;
    options.seed = static_cast<uint64_t>(seed);
    auto result = minibatch_kmeans_fit(X, options);
    EncoderImpl::copy_out(result.centers, centers);
    auto ids = kmeans_predict(X, result.centers).to(torch::kCPU, torch::kInt32).contiguous();
    std::memcpy(labels, ids.data_ptr<int32_t>(), n * sizeof(int32_t));
    stats[0] = result.inertia;
    stats[1] = static_cast<double>(result.n_steps);
    stats[2] = static_cast<double>(result.n_iter);
    return 0;
  });
}

void kmeans_assign(const float* x, long long n, int d, const float* centers, int k, int* labels) {
  guarded("kmeans_assign", [&] {
    if (!x || !centers || !labels || n <= 0 || d <= 0 || k <= 0) fail("kmeans_assign: empty input or null buffer");
    auto X = torch::from_blob(const_cast<float*>(x), {n, d}, torch::kFloat32);
    auto C = torch::from_blob(const_cast<float*>(centers), {k, d}, torch::kFloat32);
    auto ids = kmeans_predict(X, C).to(torch::kInt32).contiguous();
    std::memcpy(labels, ids.data_ptr<int32_t>(), n * sizeof(int32_t));
    return 0;
  });
}

// ---- logistic regression ----

void logistic_regression_fit_predict(const float* x_train, long long n_train, int d, const int* y_train, int classes,
                                     const float* x_test, long long n_test, double C, int max_iter, int* predictions,
                                     float* probabilities, double* stats) {
  guarded("logistic_regression_fit_predict", [&] {
    if (!x_train || !y_train || n_train <= 0 || d <= 0 || n_test < 0 || (n_test > 0 && (!x_test || !predictions)))
      fail("logistic_regression_fit_predict: empty input or null buffer");
    if (classes < 2) fail("logistic_regression_fit_predict: classes must be at least 2, got ", classes);
    for (long long i = 0; i < n_train; ++i)
      if (y_train[i] < 0 || y_train[i] >= classes)
        fail("logistic_regression_fit_predict: y_train[", i, "] = ", y_train[i], " is outside [0, ", classes, ")");
    auto X = torch::from_blob(const_cast<float*>(x_train), {n_train, d}, torch::kFloat32);
    auto y = torch::from_blob(const_cast<int*>(y_train), {n_train}, torch::kInt32);
    LogisticRegressionOptions options;
    options.C = C;
    options.max_iter = max_iter;
    auto model = logistic_regression_fit(X, y, options);
    if (n_test > 0) {
      auto T = torch::from_blob(const_cast<float*>(x_test), {n_test, d}, torch::kFloat32);
      auto labels = logistic_regression_predict(model, T).to(torch::kInt32).contiguous();
      std::memcpy(predictions, labels.data_ptr<int32_t>(), n_test * sizeof(int32_t));
      if (probabilities) {
        auto p = logistic_regression_predict_proba(model, T).to(torch::kFloat32).contiguous();
        const float* src = p.data_ptr<float>();
        const size_t k = model.classes.size();
        std::fill(probabilities, probabilities + n_test * classes, 0.0f);
        for (long long i = 0; i < n_test; ++i)
          for (size_t c = 0; c < k; ++c) probabilities[i * classes + model.classes[c]] = src[i * k + c];
      }
    }
    if (stats) {
      stats[0] = model.n_iter;
      stats[1] = model.converged ? 1.0 : 0.0;
      stats[2] = model.objective;
    }
    return 0;
  });
}

void model_init_random(const std::string& config_path, const std::string& out_dir, int64_t seed) {
  guarded("model_init_random", [&] {
    torch::manual_seed(seed);
    LoadedModel loaded;
    loaded.model = encoder_model_create(config_read(config_path));
    model_folder_save(loaded, out_dir);
    return 0;
  });
}

void set_num_threads(int n) {
  if (n <= 0) fail("thread count must be positive, got ", n);
  at::set_num_threads(n);
}
int num_threads() { return at::get_num_threads(); }
std::string torch_version() { return TORCH_VERSION; }
bool cuda_available() { return torch::cuda::is_available(); }

}  // namespace mtpf
