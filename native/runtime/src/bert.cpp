#include "bert.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "errors.h"
#include "kernels.h"
#include "mtpf/formats/checkpoint_keys.h"
#include "safetensors.h"

namespace fs = std::filesystem;

namespace mtpf::rt {

namespace {

// HF names of one layer's parts, relative to "<layers>.N.".
struct ArchNames {
  const char* layers;
  const char* query;
  const char* key;
  const char* value;
  const char* attention_output;
  const char* attention_norm;
  const char* intermediate;
  const char* output;
  const char* output_norm;
};

const ArchNames kBertNames = {"encoder.layer",          "attention.self.query",       "attention.self.key",
                              "attention.self.value",   "attention.output.dense",     "attention.output.LayerNorm",
                              "intermediate.dense",     "output.dense",               "output.LayerNorm"};
const ArchNames kDistilBertNames = {"transformer.layer", "attention.q_lin", "attention.k_lin",
                                    "attention.v_lin",   "attention.out_lin", "sa_layer_norm",
                                    "ffn.lin1",          "ffn.lin2",          "output_layer_norm"};

// The checkpoint's tensors by normalized name, over one file or the shards of an index.
class Checkpoint {
 public:
  explicit Checkpoint(const fs::path& dir) {
    for (const auto& file : safetensors_weight_files(dir.string())) add(file);
  }

  std::vector<float> take(const std::string& name, const std::vector<int64_t>& shape) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) fail(files_.front()->path(), ": missing weight '", name, "'");
    return it->second.first->read_f32(it->second.second, shape, "config.json implies this; it");
  }

 private:
  void add(const std::string& path) {
    files_.push_back(std::make_unique<SafetensorsFile>(path));
    for (const auto& [key, e] : files_.back()->entries())
      by_name_[normalize_checkpoint_key(key)] = {files_.back().get(), key};
  }
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const SafetensorsFile*, std::string>> by_name_;
};

thread_local struct Workspace {
  std::vector<float> y, ctx, mid, attention;
  Scratch scratch;
} workspace;

float* sized(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(n);
  return v.data();
}

}  // namespace

Packing packing_make(const std::vector<int>& lengths, const std::vector<int>& slots) {
  Packing p;
  const int batch = static_cast<int>(lengths.size());
  std::vector<int> order(batch);
  for (int i = 0; i < batch; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return slots[a] < slots[b]; });
  p.offset.assign(batch, 0);
  p.length = lengths;
  for (int b : order) {
    p.offset[b] = p.tokens;
    if (p.groups.empty() || p.groups.back().slot != slots[b]) p.groups.push_back({slots[b], p.tokens, p.tokens});
    p.tokens += lengths[b];
    p.groups.back().row_end = p.tokens;
    p.max_length = std::max(p.max_length, lengths[b]);
  }
  return p;
}

EncoderModel::EncoderModel(const std::string& dir, bool int8) {
  if (!fs::is_directory(dir)) fail(dir, ": model folder not found");
  const fs::path config_path = fs::path(dir) / "config.json";
  if (!fs::exists(config_path)) fail(config_path.string(), ": file not found (an HF model folder needs config.json)");
  config_ = config_read(config_path.string());
  const EncoderConfig& c = config_;
  const Checkpoint ckpt(dir);
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  word_embeddings_ = ckpt.take("embeddings.word_embeddings.weight", {c.vocab_size, H});
  position_embeddings_ = ckpt.take("embeddings.position_embeddings.weight", {c.max_position_embeddings, H});
  if (!c.is_distilbert())
    token_type_embeddings_ = ckpt.take("embeddings.token_type_embeddings.weight", {c.type_vocab_size, H});
  embeddings_norm_ = {ckpt.take("embeddings.LayerNorm.weight", {H}), ckpt.take("embeddings.LayerNorm.bias", {H})};
  const ArchNames& n = c.is_distilbert() ? kDistilBertNames : kBertNames;
  layers_.resize(c.num_hidden_layers);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = std::string(n.layers) + "." + std::to_string(l) + ".";
    EncoderLayer& layer = layers_[l];
    auto linear = [&](FusedLinear& f, std::vector<const char*> names, int64_t in, int64_t out) {
      std::vector<std::vector<float>> w, b;
      std::vector<LinearPart> parts;
      for (const char* name : names) {
        w.push_back(ckpt.take(p + name + ".weight", {out, in}));
        b.push_back(ckpt.take(p + name + ".bias", {out}));
        parts.push_back({p + name, static_cast<int>(out), 0});
      }
      std::vector<const std::vector<float>*> wp, bp;
      for (size_t i = 0; i < w.size(); ++i) {
        wp.push_back(&w[i]);
        bp.push_back(&b[i]);
      }
      f.init(static_cast<int>(in), parts, wp, bp, int8);
    };
    auto norm = [&](const char* name) {
      return LayerNormWeights{ckpt.take(p + name + ".weight", {H}), ckpt.take(p + name + ".bias", {H})};
    };
    linear(layer.qkv, {n.query, n.key, n.value}, H, H);
    linear(layer.attention_output, {n.attention_output}, H, H);
    layer.attention_norm = norm(n.attention_norm);
    linear(layer.intermediate, {n.intermediate}, H, I);
    linear(layer.output, {n.output}, I, H);
    layer.output_norm = norm(n.output_norm);
  }
}

std::vector<FusedLinear*> EncoderModel::linears() {
  std::vector<FusedLinear*> out;
  for (auto& l : layers_)
    for (FusedLinear* f : {&l.qkv, &l.attention_output, &l.intermediate, &l.output}) out.push_back(f);
  return out;
}

LinearShapes EncoderModel::linear_shapes() const {
  LinearShapes out;
  for (const auto& l : layers_)
    for (const FusedLinear* f : {&l.qkv, &l.attention_output, &l.intermediate, &l.output})
      for (const auto& p : f->parts()) out[p.name] = {f->in(), p.out};
  return out;
}

FusedLinear* EncoderModel::find_linear(const std::string& module, int* part) {
  for (FusedLinear* f : linears())
    for (size_t i = 0; i < f->parts().size(); ++i)
      if (f->parts()[i].name == module) {
        *part = static_cast<int>(i);
        return f;
      }
  return nullptr;
}

long long EncoderModel::weight_bytes() const {
  long long n = 4LL * (word_embeddings_.size() + position_embeddings_.size() + token_type_embeddings_.size() +
                       2 * embeddings_norm_.weight.size());
  for (const auto& l : layers_) {
    for (const FusedLinear* f : {&l.qkv, &l.attention_output, &l.intermediate, &l.output}) n += f->weight_bytes();
    n += 4LL * 2 * (l.attention_norm.weight.size() + l.output_norm.weight.size());
  }
  return n;
}

void EncoderModel::embed(const int32_t* ids, const int32_t* types, int seq, const Packing& packing, ThreadPool& pool,
                         float* hidden) const {
  const EncoderConfig& c = config_;
  const int64_t H = c.hidden_size;
  const int batch = static_cast<int>(packing.length.size());
  pool.parallel_for(batch, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      int non_pad = 0;
      for (int t = 0; t < packing.length[b]; ++t) {
        const int32_t id = ids[b * seq + t];
        int pos = t;
        if (c.is_roberta()) {  // HF's create_position_ids_from_input_ids: count non-pad ids past padding_idx
          non_pad += id != c.pad_token_id;
          pos = id != c.pad_token_id ? c.pad_token_id + non_pad : c.pad_token_id;
        }
        float* row = hidden + (packing.offset[b] + t) * H;
        const float* w = word_embeddings_.data() + id * H;
        const float* p = position_embeddings_.data() + pos * H;
        if (c.is_distilbert()) {
          for (int64_t i = 0; i < H; ++i) row[i] = w[i] + p[i];
        } else {
          const float* ty = token_type_embeddings_.data() + (types ? types[b * seq + t] : 0) * H;
          for (int64_t i = 0; i < H; ++i) row[i] = w[i] + ty[i] + p[i];
        }
        bias_residual_layernorm(row, H, nullptr, nullptr, embeddings_norm_.weight.data(), embeddings_norm_.bias.data(),
                                c.layer_norm_eps, 1, H, row);
      }
    }
  });
}

void EncoderModel::forward(const int32_t* ids, const int32_t* types, int seq, const Packing& packing,
                           ThreadPool& pool, float* x) const {
  const EncoderConfig& c = config_;
  const int64_t T = packing.tokens, H = c.hidden_size, I = c.intermediate_size;
  const int heads = c.num_attention_heads, hd = c.head_dim();
  embed(ids, types, seq, packing, pool, x);
  if (T == 0) return;
  Workspace& ws = workspace;
  int64_t widest = 0;
  for (const auto& l : layers_)
    for (const FusedLinear* f : {&l.qkv, &l.attention_output, &l.intermediate, &l.output})
      widest = std::max<int64_t>(widest, f->out() + f->adapter_rows());
  float* y = sized(ws.y, T * widest);
  float* ctx = sized(ws.ctx, T * H);
  float* mid = sized(ws.mid, T * I);
  const int batch = static_cast<int>(packing.length.size());
  // Attention tasks: (sequence, head) pairs of the non-empty sequences.
  std::vector<int> task_seq;
  for (int b = 0; b < batch; ++b)
    if (packing.length[b] > 0) task_seq.push_back(b);
  const int64_t tasks = static_cast<int64_t>(task_seq.size()) * heads;
  const int64_t scratch_floats = attention_scratch_floats(packing.max_length, hd);
  // The elementwise epilogues (GELU, residual + LayerNorm) run split by rows on the pool, in chunks of at least
  // ~64K values: below that a wake-up costs more than it saves.
  auto rows_parallel = [&](int64_t cols, const std::function<void(int64_t, int64_t)>& fn) {
    pool.parallel_for(T, fn, std::max<int64_t>(1, 65536 / cols));
  };
  for (const EncoderLayer& layer : layers_) {
    int64_t ld = layer.qkv.forward(x, T, packing.groups, pool, ws.scratch, y);
    // Per (sequence, head): add the q/k/v biases of its columns, then attention over the sequence's real tokens.
    pool.parallel_for(tasks, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> scratch;
      float* s = sized(scratch, scratch_floats);
      for (int64_t task = begin; task < end; ++task) {
        const int b = task_seq[task / heads], h = static_cast<int>(task % heads);
        float* q = y + packing.offset[b] * ld + h * hd;
        for (int part = 0; part < 3; ++part)
          bias_add(q + part * H, ld, layer.qkv.bias() + part * H + h * hd, packing.length[b], hd);
        attention_head(q, q + H, q + 2 * H, ld, packing.length[b], hd, ctx + packing.offset[b] * H + h * hd, H, s);
      }
    });
    ld = layer.attention_output.forward(ctx, T, packing.groups, pool, ws.scratch, y);
    rows_parallel(H, [&](int64_t b, int64_t e) {
      bias_residual_layernorm(y + b * ld, ld, layer.attention_output.bias(), x + b * H,
                              layer.attention_norm.weight.data(), layer.attention_norm.bias.data(), c.layer_norm_eps,
                              e - b, H, x + b * H);
    });
    ld = layer.intermediate.forward(x, T, packing.groups, pool, ws.scratch, y);
    rows_parallel(I, [&](int64_t b, int64_t e) {
      bias_gelu(y + b * ld, ld, layer.intermediate.bias(), e - b, I, mid + b * I, I);
    });
    ld = layer.output.forward(mid, T, packing.groups, pool, ws.scratch, y);
    rows_parallel(H, [&](int64_t b, int64_t e) {
      bias_residual_layernorm(y + b * ld, ld, layer.output.bias(), x + b * H, layer.output_norm.weight.data(),
                              layer.output_norm.bias.data(), c.layer_norm_eps, e - b, H, x + b * H);
    });
  }
}

}  // namespace mtpf::rt
