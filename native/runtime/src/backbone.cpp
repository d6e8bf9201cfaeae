// mtpf::rt::Backbone: the encoder, the adapters loaded on it (by name, each in a slot) and their heads.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "bert.h"
#include "errors.h"
#include "lora.h"
#include "mtpf/runtime.h"

namespace mtpf::rt {

namespace {

struct Adapter {
  std::string name, dir;
  int slot = -1;
  PeftConfig config;
  std::vector<LoraWeights> weights;  // B, transposed to [r, out], stays here (the linears point into it); A is moved
                                     // into the linears' stacks
  bool has_head = false;
  Head head;
};

thread_local std::vector<float> hidden_buffer;

}  // namespace

class BackboneImpl {
 public:
  BackboneImpl(const std::string& dir, const std::string& weights)
      : model(dir, check_weights(weights)) {
    pool_shared();  // hands OpenBLAS's threading to the runtime's pool before the first GEMM
  }

  static bool check_weights(const std::string& w) {
    if (w != "fp32" && w != "int8") fail("weights '", w, "' is not supported (fp32 or int8)");
    return w == "int8";
  }

  const Adapter& find(const std::string& name) const {
    auto it = adapters.find(name);
    if (it == adapters.end()) fail("unknown adapter '", name, "' (loaded: ", names_list(), ")");
    return *it->second;
  }

  std::string names_list() const {
    std::string s;
    for (const auto& [name, a] : adapters) s += (s.empty() ? "" : ", ") + name;
    return s.empty() ? "none" : s;
  }

  void remove_locked(const std::string& name) {
    auto it = adapters.find(name);
    if (it == adapters.end()) return;
    for (FusedLinear* f : model.linears()) f->remove_adapter(it->second->slot);
    slots[it->second->slot] = nullptr;
    adapters.erase(it);
  }

  // Checks the inputs and packs them; returns the packing.
  Packing prepare(const int32_t* ids, const int32_t* mask, const int32_t* types, const int32_t* adapter_ids, int batch,
                  int seq) const {
    const EncoderConfig& c = model.config();
    if (!ids || !mask) fail("input_ids and attention_mask must not be null");
    if (batch < 0 || seq < 0) fail("batch (", batch, ") and seq (", seq, ") must not be negative");
    std::vector<int> lengths(batch), slot_of(batch, -1);
    for (int b = 0; b < batch; ++b) {
      const int32_t* m = mask + static_cast<int64_t>(b) * seq;
      int len = 0;
      while (len < seq && m[len] == 1) ++len;
      for (int t = len; t < seq; ++t)
        if (m[t] != 0)
          fail("attention_mask row ", b, " is not right-padded 1...1 0...0 (value ", m[t], " at position ", t,
               " after the first pad at ", len, ")");
      if (len > c.max_sequence_length())
        fail("sequence ", b, " has ", len, " tokens but the model takes at most ", c.max_sequence_length());
      for (int t = 0; t < len; ++t) {
        const int32_t id = ids[static_cast<int64_t>(b) * seq + t];
        if (id < 0 || id >= c.vocab_size)
          fail("input_ids[", b, "][", t, "] = ", id, " is outside the vocabulary [0, ", c.vocab_size, ")");
        if (types && !c.is_distilbert()) {
          const int32_t ty = types[static_cast<int64_t>(b) * seq + t];
          if (ty < 0 || ty >= c.type_vocab_size)
            fail("token_type_ids[", b, "][", t, "] = ", ty, " is outside [0, ", c.type_vocab_size, ")");
        }
      }
      lengths[b] = len;
      if (adapter_ids) {
        const int32_t s = adapter_ids[b];
        if (s != -1 && (s < 0 || s >= static_cast<int>(slots.size()) || !slots[s]))
          fail("adapter_ids[", b, "] = ", s, ": no adapter is loaded in that slot (-1 means none)");
        slot_of[b] = s;
      }
    }
    return packing_make(lengths, slot_of);
  }

  float* run(const int32_t* ids, const int32_t* mask, const int32_t* types, const int32_t* adapter_ids, int batch,
             int seq, Packing& packing) {
    packing = prepare(ids, mask, types, adapter_ids, batch, seq);
    const int64_t n = std::max<int64_t>(1, packing.tokens * model.config().hidden_size);
    if (static_cast<int64_t>(hidden_buffer.size()) < n) hidden_buffer.resize(n);
    model.forward(ids, types, seq, packing, pool_shared(), hidden_buffer.data());
    return hidden_buffer.data();
  }

  EncoderModel model;
  std::map<std::string, std::unique_ptr<Adapter>> adapters;
  std::vector<Adapter*> slots;  // slot -> adapter (null: free)
  mutable std::shared_mutex mutex;
};

Backbone::Backbone(const std::string& model_dir, const std::string& weights)
    : impl_(new BackboneImpl(model_dir, weights)) {}

Backbone::~Backbone() { delete impl_; }

std::string Backbone::model_type() const { return impl_->model.config().model_type; }
int Backbone::hidden_size() const { return impl_->model.config().hidden_size; }
int Backbone::num_layers() const { return impl_->model.config().num_hidden_layers; }
int Backbone::vocab_size() const { return impl_->model.config().vocab_size; }
int Backbone::max_sequence_length() const { return impl_->model.config().max_sequence_length(); }
int Backbone::pad_token_id() const { return impl_->model.config().pad_token_id; }

void Backbone::set_num_threads(int n) {
  if (n < 1) fail("set_num_threads: thread count must be at least 1, got ", n);
  // One pool serves OpenBLAS and our kernels, and OpenBLAS's thread count is process-wide: so is this setting
  // (the last call wins, for every backbone).
  pool_set_threads(n);
}

int Backbone::num_threads() const { return pool_shared().threads(); }

long long Backbone::weight_bytes() const { return impl_->model.weight_bytes(); }

long long Backbone::adapter_bytes(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mutex);
  const Adapter& a = impl_->find(name);
  long long n = 4LL * (a.head.weight.size() + a.head.bias.size());
  for (const auto& w : a.weights) n += 4LL * w.B.size();
  for (const FusedLinear* f : impl_->model.linears()) n += f->adapter_bytes(a.slot);
  return n;
}

void Backbone::load_adapter(const std::string& name, const std::string& dir, const std::string& head_name) {
  if (name.empty()) fail("load_adapter ", dir, ": the adapter name must not be empty");
  // Read and check everything before taking the lock: forwards keep running meanwhile.
  auto a = std::make_unique<Adapter>();
  a->name = name;
  a->dir = dir;
  a->config = peft_read_config(dir);
  a->weights = peft_read_weights(dir, a->config, impl_->model.linear_shapes());
  if (!head_name.empty()) {
    a->head = head_read(dir, head_name, impl_->model.config().hidden_size);
    a->has_head = true;
  }
  std::unique_lock<std::shared_mutex> lock(impl_->mutex);
  impl_->remove_locked(name);
  int slot = 0;
  while (slot < static_cast<int>(impl_->slots.size()) && impl_->slots[slot]) ++slot;
  if (slot == static_cast<int>(impl_->slots.size())) impl_->slots.push_back(nullptr);
  a->slot = slot;
  // Blocks per fused linear.
  std::map<FusedLinear*, std::pair<std::vector<LoraBlock>, std::vector<const float*>>> per_linear;
  for (auto& w : a->weights) {
    // B [out, r] -> B^T [r, out]: the per-row LoRA update then reads contiguous rows.
    const int r = a->config.r, out = static_cast<int>(w.B.size()) / r;
    std::vector<float> b_t(w.B.size());
    for (int o = 0; o < out; ++o)
      for (int k = 0; k < r; ++k) b_t[static_cast<size_t>(k) * out + o] = w.B[static_cast<size_t>(o) * r + k];
    w.B.swap(b_t);
    int part = 0;
    FusedLinear* f = impl_->model.find_linear(w.module, &part);
    LoraBlock block;
    block.slot = slot;
    block.part = part;
    block.r = a->config.r;
    block.scaling = a->config.scaling();
    block.B_t = w.B.data();
    per_linear[f].first.push_back(block);
    per_linear[f].second.push_back(w.A.data());
  }
  for (auto& [f, blocks] : per_linear) f->set_adapter(slot, blocks.first, blocks.second);
  for (auto& w : a->weights) std::vector<float>().swap(w.A);  // the stacks hold the A rows now
  impl_->slots[slot] = a.get();
  impl_->adapters[name] = std::move(a);
}

void Backbone::unload_adapter(const std::string& name) {
  std::unique_lock<std::shared_mutex> lock(impl_->mutex);
  impl_->find(name);
  impl_->remove_locked(name);
}

int Backbone::adapter_id(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mutex);
  return impl_->find(name).slot;
}

std::string Backbone::adapter_names() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mutex);
  std::string s;
  for (const auto& [name, a] : impl_->adapters) s += (s.empty() ? "" : "\n") + name;
  return s;
}

int Backbone::head_classes(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mutex);
  const Adapter& a = impl_->find(name);
  return a.has_head ? a.head.classes : 0;
}

std::string Backbone::head_labels(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mutex);
  const Adapter& a = impl_->find(name);
  std::string s;
  for (size_t i = 0; i < a.head.labels.size(); ++i) s += (i ? "\n" : "") + a.head.labels[i];
  return s;
}

void Backbone::last_hidden_state(const int32_t* input_ids, const int32_t* attention_mask,
                                 const int32_t* token_type_ids, const int32_t* adapter_ids, int batch, int seq,
                                 float* out) {
  std::shared_lock<std::shared_mutex> lock(impl_->mutex);
  if (!out) fail("last_hidden_state: out must not be null");
  Packing p;
  const float* h = impl_->run(input_ids, attention_mask, token_type_ids, adapter_ids, batch, seq, p);
  const int64_t H = hidden_size();
  for (int b = 0; b < batch; ++b) {
    float* o = out + static_cast<int64_t>(b) * seq * H;
    std::copy(h + p.offset[b] * H, h + (p.offset[b] + p.length[b]) * H, o);
    std::fill(o + p.length[b] * H, o + seq * H, 0.0f);
  }
}

void Backbone::embed(const int32_t* input_ids, const int32_t* attention_mask, const int32_t* token_type_ids,
                     const int32_t* adapter_ids, int batch, int seq, const std::string& pooling, bool normalize,
                     float* out) {
  if (pooling != "mean" && pooling != "cls") fail("pooling '", pooling, "' is not supported (mean or cls)");
  if (!out) fail("embed: out must not be null");
  std::shared_lock<std::shared_mutex> lock(impl_->mutex);
  Packing p;
  const float* h = impl_->run(input_ids, attention_mask, token_type_ids, adapter_ids, batch, seq, p);
  const int64_t H = hidden_size();
  for (int b = 0; b < batch; ++b) {
    float* o = out + b * H;
    std::fill(o, o + H, 0.0f);
    const float* rows = h + p.offset[b] * H;
    if (p.length[b] == 0) continue;  // an all-pad row pools to zeros, as the core does
    if (pooling == "cls") {
      std::copy(rows, rows + H, o);
    } else {
      std::vector<double> sum(H, 0.0);
      for (int t = 0; t < p.length[b]; ++t)
        for (int64_t i = 0; i < H; ++i) sum[i] += rows[t * H + i];
      for (int64_t i = 0; i < H; ++i) o[i] = static_cast<float>(sum[i] / p.length[b]);
    }
    if (normalize) {
      double norm = 0;
      for (int64_t i = 0; i < H; ++i) norm += double(o[i]) * o[i];
      const float inv = 1.0f / std::max(static_cast<float>(std::sqrt(norm)), 1e-12f);
      for (int64_t i = 0; i < H; ++i) o[i] *= inv;
    }
  }
}

void Backbone::token_logits(const int32_t* input_ids, const int32_t* attention_mask, const int32_t* token_type_ids,
                            const int32_t* adapter_ids, int batch, int seq, int out_classes, float* out) {
  if (!out) fail("token_logits: out must not be null");
  std::shared_lock<std::shared_mutex> lock(impl_->mutex);
  // Every sequence needs an adapter with a head, and out_classes must hold the widest head.
  for (int b = 0; b < batch; ++b) {
    const int32_t s = adapter_ids ? adapter_ids[b] : -1;
    if (s == -1) fail("token_logits: sequence ", b, " names no adapter (-1), so it has no head");
    if (s < 0 || s >= static_cast<int>(impl_->slots.size()) || !impl_->slots[s])
      fail("adapter_ids[", b, "] = ", s, ": no adapter is loaded in that slot");
    const Adapter& a = *impl_->slots[s];
    if (!a.has_head) fail("token_logits: adapter '", a.name, "' was loaded without a head");
    if (a.head.classes > out_classes)
      fail("token_logits: out_classes ", out_classes, " is smaller than adapter '", a.name, "''s ", a.head.classes,
           " classes");
  }
  Packing p;
  const float* h = impl_->run(input_ids, attention_mask, token_type_ids, adapter_ids, batch, seq, p);
  const int64_t H = hidden_size();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::fill(out, out + static_cast<int64_t>(batch) * seq * out_classes, 0.0f);
  std::vector<float> logits;
  for (const auto& g : p.groups) {
    const int64_t rows = g.row_end - g.row_begin;
    if (rows == 0) continue;
    const Head& head = impl_->slots[g.slot]->head;
    logits.resize(rows * head.classes);
    for (int64_t r = 0; r < rows; ++r) std::copy(head.bias.begin(), head.bias.end(), logits.begin() + r * head.classes);
    gemm_nt(rows, head.classes, H, 1.0f, h + g.row_begin * H, H, head.weight.data(), H, 1.0f, logits.data(),
            head.classes);
    for (int b = 0; b < batch; ++b) {
      if ((adapter_ids ? adapter_ids[b] : -1) != g.slot) continue;
      for (int t = 0; t < p.length[b]; ++t) {
        const float* src = logits.data() + (p.offset[b] - g.row_begin + t) * head.classes;
        float* dst = out + (static_cast<int64_t>(b) * seq + t) * out_classes;
        std::copy(src, src + head.classes, dst);
        std::fill(dst + head.classes, dst + out_classes, neg_inf);
      }
    }
  }
}

std::string runtime_version() {
  return std::string("mtpf-runtime 0.1 (") + openblas_get_config() + ")";
}

}  // namespace mtpf::rt
