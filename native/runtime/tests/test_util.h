// Helpers of the runtime tests: tiny random model folders, PEFT adapters and heads written by the tests
// themselves (no libtorch), and a naive reference forward in plain loops with double accumulation.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "safetensors.h"

namespace mtpf::rt::test {

using Tensors = std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>;

inline std::filesystem::path temp_dir(const std::string& name) {
  static std::mt19937 rng(std::random_device{}());
  auto dir = std::filesystem::temp_directory_path() / ("mtpf-rt-" + name + "-" + std::to_string(rng()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::vector<float> random_values(size_t n, float scale, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2);
}

struct TinyModel {
  std::string type;  // bert, roberta, distilbert
  std::filesystem::path dir;
  nlohmann::json config;
  Tensors weights;  // HF names, no prefix
  int hidden = 32, layers = 2, heads = 4, intermediate = 64, vocab = 100, max_pos = 64, type_vocab = 2, pad = 0;

  bool distil() const { return type == "distilbert"; }
  std::string layer_prefix(int l) const {
    return (distil() ? "transformer.layer." : "encoder.layer.") + std::to_string(l) + ".";
  }
  // Role -> path inside a layer.
  std::string path(const std::string& role) const {
    static const std::map<std::string, std::pair<std::string, std::string>> names = {
        {"query", {"attention.self.query", "attention.q_lin"}},
        {"key", {"attention.self.key", "attention.k_lin"}},
        {"value", {"attention.self.value", "attention.v_lin"}},
        {"attention_output", {"attention.output.dense", "attention.out_lin"}},
        {"attention_norm", {"attention.output.LayerNorm", "sa_layer_norm"}},
        {"intermediate", {"intermediate.dense", "ffn.lin1"}},
        {"output", {"output.dense", "ffn.lin2"}},
        {"output_norm", {"output.LayerNorm", "output_layer_norm"}}};
    const auto& p = names.at(role);
    return distil() ? p.second : p.first;
  }
  // {in, out} of a linear role.
  std::pair<int, int> shape(const std::string& role) const {
    if (role == "intermediate") return {hidden, intermediate};
    if (role == "output") return {intermediate, hidden};
    return {hidden, hidden};
  }
};

// Writes a random model folder. key_prefix: a task model's prefix on every key ("bert." etc.).
inline TinyModel write_tiny_model(const std::string& type, uint32_t seed, const std::string& key_prefix = "") {
  TinyModel m;
  m.type = type;
  m.dir = temp_dir("model-" + type);
  if (type == "roberta") {
    m.pad = 1;
    m.type_vocab = 1;
  }
  if (m.distil()) {
    m.type_vocab = 0;
    m.config = {{"model_type", "distilbert"}, {"vocab_size", m.vocab}, {"dim", m.hidden}, {"n_layers", m.layers},
                {"n_heads", m.heads}, {"hidden_dim", m.intermediate}, {"max_position_embeddings", m.max_pos},
                {"activation", "gelu"}, {"pad_token_id", 0}};
  } else {
    m.config = {{"model_type", type}, {"vocab_size", m.vocab}, {"hidden_size", m.hidden},
                {"num_hidden_layers", m.layers}, {"num_attention_heads", m.heads},
                {"intermediate_size", m.intermediate}, {"max_position_embeddings", m.max_pos},
                {"type_vocab_size", m.type_vocab}, {"pad_token_id", m.pad}, {"layer_norm_eps", 1e-12},
                {"hidden_act", "gelu"}};
  }
  std::mt19937 rng(seed);
  const int64_t H = m.hidden;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale, float mean = 0) {
    size_t n = 1;
    for (auto d : shape) n *= d;
    auto v = random_values(n, scale, rng);
    for (auto& x : v) x += mean;
    m.weights[name] = {shape, v};
  };
  add("embeddings.word_embeddings.weight", {m.vocab, H}, 0.5f);
  add("embeddings.position_embeddings.weight", {m.max_pos, H}, 0.5f);
  if (!m.distil()) add("embeddings.token_type_embeddings.weight", {m.type_vocab, H}, 0.5f);
  add("embeddings.LayerNorm.weight", {H}, 0.1f, 1.0f);
  add("embeddings.LayerNorm.bias", {H}, 0.1f);
  for (int l = 0; l < m.layers; ++l) {
    const std::string p = m.layer_prefix(l);
    for (const char* role : {"query", "key", "value", "attention_output", "intermediate", "output"}) {
      const auto [in, out] = m.shape(role);
      add(p + m.path(role) + ".weight", {out, in}, 1.0f / std::sqrt(static_cast<float>(in)));
      add(p + m.path(role) + ".bias", {out}, 0.1f);
    }
    for (const char* role : {"attention_norm", "output_norm"}) {
      add(p + m.path(role) + ".weight", {H}, 0.1f, 1.0f);
      add(p + m.path(role) + ".bias", {H}, 0.1f);
    }
  }
  add("pooler.dense.weight", {H, H}, 0.1f);  // an extra the runtime must ignore
  Tensors file;
  for (const auto& [k, v] : m.weights) file[(k.rfind("pooler", 0) == 0 ? "" : key_prefix) + k] = v;
  safetensors_write_f32((m.dir / "model.safetensors").string(), file);
  write_json(m.dir / "config.json", m.config);
  return m;
}

struct TinyAdapter {
  std::filesystem::path dir;
  int r = 4;
  double alpha = 8;
  bool rslora = false;
  float scaling() const { return static_cast<float>(rslora ? alpha / std::sqrt(double(r)) : alpha / r); }
  std::map<std::string, std::pair<std::vector<float>, std::vector<float>>> lora;  // module -> (A, B)
  std::vector<float> head_weight, head_bias;
  std::vector<std::string> labels;
};

// A PEFT adapter on `roles` of `layers` (all when empty), with non-zero B, and optionally a head.
inline TinyAdapter write_adapter(const TinyModel& m, uint32_t seed, std::vector<std::string> roles,
                                 std::vector<int> layers = {}, int r = 4, double alpha = 8, bool rslora = false,
                                 int head_classes = 0, const std::string& key_prefix = "") {
  TinyAdapter a;
  a.dir = temp_dir("adapter");
  a.r = r;
  a.alpha = alpha;
  a.rslora = rslora;
  std::mt19937 rng(seed);
  if (layers.empty())
    for (int l = 0; l < m.layers; ++l) layers.push_back(l);
  Tensors file;
  std::vector<std::string> targets;
  for (int l : layers)
    for (const auto& role : roles) {
      const std::string module = m.layer_prefix(l) + m.path(role);
      const auto [in, out] = m.shape(role);
      auto A = random_values(static_cast<size_t>(r) * in, 0.3f, rng);
      auto B = random_values(static_cast<size_t>(out) * r, 0.3f, rng);
      file["base_model.model." + key_prefix + module + ".lora_A.weight"] = {{r, in}, A};
      file["base_model.model." + key_prefix + module + ".lora_B.weight"] = {{out, r}, B};
      a.lora[module] = {A, B};
      targets.push_back(module);
    }
  safetensors_write_f32((a.dir / "adapter_model.safetensors").string(), file);
  write_json(a.dir / "adapter_config.json",
             {{"peft_type", "LORA"}, {"r", r}, {"lora_alpha", alpha}, {"use_rslora", rslora},
              {"target_modules", targets}, {"bias", "none"}, {"layers_to_transform", nullptr},
              {"base_model_name_or_path", "tiny"}, {"task_type", "FEATURE_EXTRACTION"}});
  if (head_classes > 0) {
    a.head_weight = random_values(static_cast<size_t>(head_classes) * m.hidden, 0.3f, rng);
    a.head_bias = random_values(head_classes, 0.1f, rng);
    for (int c = 0; c < head_classes; ++c) a.labels.push_back(c == 0 ? "O" : (c % 2 ? "B-T" : "I-T") + std::to_string(c));
    safetensors_write_f32((a.dir / "head_ner.safetensors").string(),
                          {{"weight", {{head_classes, m.hidden}, a.head_weight}}, {"bias", {{head_classes}, a.head_bias}}});
    write_json(a.dir / "head_ner.json",
               {{"name", "ner"}, {"in_features", m.hidden}, {"num_labels", head_classes}, {"labels", a.labels}});
  }
  return a;
}

// The model's weights with the adapter merged in: W + scaling * B A.
inline Tensors merged_weights(const TinyModel& m, const TinyAdapter& a) {
  Tensors w = m.weights;
  for (const auto& [module, ab] : a.lora) {
    auto& W = w.at(module + ".weight");
    const int64_t out = W.first[0], in = W.first[1];
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        double s = 0;
        for (int k = 0; k < a.r; ++k) s += double(ab.second[o * a.r + k]) * ab.first[k * in + i];
        W.second[o * in + i] += static_cast<float>(a.scaling() * s);
      }
  }
  return w;
}

// Naive forward of one sequence (no padding): [len, hidden], in double.
inline std::vector<float> reference_forward(const TinyModel& m, const Tensors& w, const std::vector<int>& ids,
                                            const std::vector<int>& types = {}) {
  const int len = static_cast<int>(ids.size()), H = m.hidden, hd = m.hidden / m.heads;
  auto W = [&](const std::string& k) -> const std::vector<float>& { return w.at(k).second; };
  auto layer_norm = [&](std::vector<double>& x, const std::string& name) {
    const auto& g = W(name + ".weight");
    const auto& b = W(name + ".bias");
    for (int t = 0; t < len; ++t) {
      double mean = 0, var = 0;
      for (int i = 0; i < H; ++i) mean += x[t * H + i];
      mean /= H;
      for (int i = 0; i < H; ++i) var += (x[t * H + i] - mean) * (x[t * H + i] - mean);
      var /= H;
      for (int i = 0; i < H; ++i) x[t * H + i] = (x[t * H + i] - mean) / std::sqrt(var + 1e-12) * g[i] + b[i];
    }
  };
  auto linear = [&](const std::vector<double>& x, const std::string& name, int in, int out) {
    const auto& Wt = W(name + ".weight");
    const auto& b = W(name + ".bias");
    std::vector<double> y(static_cast<size_t>(len) * out);
    for (int t = 0; t < len; ++t)
      for (int o = 0; o < out; ++o) {
        double s = b[o];
        for (int i = 0; i < in; ++i) s += x[t * in + i] * Wt[o * in + i];
        y[t * out + o] = s;
      }
    return y;
  };
  std::vector<double> x(static_cast<size_t>(len) * H);
  int non_pad = 0;
  for (int t = 0; t < len; ++t) {
    int pos = t;
    if (m.type == "roberta") {
      non_pad += ids[t] != m.pad;
      pos = ids[t] != m.pad ? m.pad + non_pad : m.pad;
    }
    for (int i = 0; i < H; ++i) {
      double v = W("embeddings.word_embeddings.weight")[ids[t] * H + i] +
                 W("embeddings.position_embeddings.weight")[pos * H + i];
      if (!m.distil()) v += W("embeddings.token_type_embeddings.weight")[(types.empty() ? 0 : types[t]) * H + i];
      x[t * H + i] = v;
    }
  }
  layer_norm(x, "embeddings.LayerNorm");
  for (int l = 0; l < m.layers; ++l) {
    const std::string p = m.layer_prefix(l);
    auto q = linear(x, p + m.path("query"), H, H), k = linear(x, p + m.path("key"), H, H),
         v = linear(x, p + m.path("value"), H, H);
    std::vector<double> ctx(static_cast<size_t>(len) * H, 0.0);
    for (int h = 0; h < m.heads; ++h)
      for (int i = 0; i < len; ++i) {
        std::vector<double> s(len);
        double mx = -1e300, sum = 0;
        for (int j = 0; j < len; ++j) {
          double d = 0;
          for (int e = 0; e < hd; ++e) d += q[i * H + h * hd + e] * k[j * H + h * hd + e];
          s[j] = d / std::sqrt(double(hd));
          mx = std::max(mx, s[j]);
        }
        for (int j = 0; j < len; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int j = 0; j < len; ++j)
          for (int e = 0; e < hd; ++e) ctx[i * H + h * hd + e] += s[j] / sum * v[j * H + h * hd + e];
      }
    auto a = linear(ctx, p + m.path("attention_output"), H, H);
    for (size_t i = 0; i < a.size(); ++i) a[i] += x[i];
    layer_norm(a, p + m.path("attention_norm"));
    auto mid = linear(a, p + m.path("intermediate"), H, m.intermediate);
    for (auto& u : mid) u = 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0)));
    auto o = linear(mid, p + m.path("output"), m.intermediate, H);
    for (size_t i = 0; i < o.size(); ++i) o[i] += a[i];
    layer_norm(o, p + m.path("output_norm"));
    x = o;
  }
  return std::vector<float>(x.begin(), x.end());
}

inline float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Expects `fn` to throw std::runtime_error whose message contains every one of `parts`.
template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one mentioning '" << parts.front() << "'";
  } catch (const std::runtime_error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << e.what() << "' lacks '" << p << "'";
  }
}

}  // namespace mtpf::rt::test
