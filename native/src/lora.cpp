#include "lora.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <utility>

#include "errors.h"

namespace mtpf {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

double LoraConfig::scaling() const { return use_rslora ? lora_alpha / std::sqrt(double(r)) : lora_alpha / double(r); }

// ---- ActiveAdapter ----

namespace {
thread_local std::string active_adapter_name;
}

ActiveAdapter::ActiveAdapter(std::string name) : previous_(std::exchange(active_adapter_name, std::move(name))) {}
ActiveAdapter::~ActiveAdapter() { active_adapter_name = std::move(previous_); }
const std::string& ActiveAdapter::current() { return active_adapter_name; }

// ---- AdapterRouting ----

namespace {
thread_local std::vector<AdapterRouting::Segment> routing_segments;
thread_local std::vector<int64_t> routing_layer_rows;
}  // namespace

AdapterRouting::AdapterRouting(std::vector<Segment> segments)
    : previous_(std::exchange(routing_segments, std::move(segments))) {
  for (const auto& s : routing_segments)
    if (s.rows < 0) fail("adapter routing: segment '", s.adapter, "' has ", s.rows, " rows");
}
AdapterRouting::~AdapterRouting() { routing_segments = std::move(previous_); }
const std::vector<AdapterRouting::Segment>& AdapterRouting::current() { return routing_segments; }

AdapterRouting::LayerRows::LayerRows(std::vector<int64_t> bounds)
    : previous_(std::exchange(routing_layer_rows, std::move(bounds))) {}
AdapterRouting::LayerRows::~LayerRows() { routing_layer_rows = std::move(previous_); }
const std::vector<int64_t>& AdapterRouting::LayerRows::current() { return routing_layer_rows; }

// ---- Kernels ----

namespace {

// Under autocast the incoming gradient is bf16 while the saved fp32 tensors are not: backward computes in g's dtype
// (what autocast's own matmuls do); the engine casts each gradient back to its input's dtype.
Tensor in_dtype_of(const Tensor& t, const Tensor& g) { return t.scalar_type() == g.scalar_type() ? t : t.to(g.scalar_type()); }

// libtorch 1.13's Function::apply refuses undefined inputs: no bias travels as an empty tensor.
Tensor bias_or_empty(const Tensor& bias, const Tensor& weight) {
  return bias.defined() ? bias : torch::empty({0}, weight.options());
}

// y [N, out] computed on x's rows flattened to [N, in], back in x's leading shape [..., out].
Tensor in_shape_of(const Tensor& y, const Tensor& x) {
  auto sizes = x.sizes().vec();
  sizes.back() = y.size(-1);
  return y.view(sizes);
}

// Forward: one GEMM over the stacked [W; A] (x is read once), one rank-r GEMM with B. Stacking copies W each call,
// which is cheaper than a second pass over x once the batch has more tokens than W has rows.
// Backward, with d = x A^T and g = dL/dy:
//   dL/dd = scaling g B,  dx = g W + dL/dd A,  dW = g^T x,  db = sum g,  dA = (dL/dd)^T x,  dB = scaling g^T d.
// Each is computed only when that input requires a gradient (a frozen backbone costs no dW; pf-l trains A, B only).
struct FusedLoraLinearFunction : torch::autograd::Function<FusedLoraLinearFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& lora_A, const Tensor& lora_B, double scaling) {
    const int64_t out = weight.size(0), r = lora_A.size(0);
    auto stacked = torch::cat({weight, lora_A}, 0);  // [out + r, in]
    const bool has_bias = bias.numel() > 0;
    auto y_cat = has_bias ? torch::addmm(torch::cat({bias, torch::zeros({r}, bias.options())}), x, stacked.t())
                          : torch::mm(x, stacked.t());
    auto down = y_cat.narrow(1, out, r).contiguous();  // x A^T; a copy, so y_cat can be freed
    auto y = torch::addmm(y_cat.narrow(1, 0, out), down, lora_B.t(), /*beta=*/1.0, /*alpha=*/scaling);
    ctx->save_for_backward({x, weight, lora_A, lora_B, down});
    ctx->saved_data["scaling"] = scaling;
    ctx->saved_data["has_bias"] = has_bias;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const Tensor& g = grad_outputs[0];
    auto like_g = [&g](const Tensor& t) { return in_dtype_of(t, g); };
    auto saved = ctx->get_saved_variables();
    auto x = like_g(saved[0]), weight = like_g(saved[1]), lora_A = like_g(saved[2]), lora_B = like_g(saved[3]),
         down = like_g(saved[4]);
    const double scaling = ctx->saved_data["scaling"].toDouble();
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1),
               need_b = ctx->needs_input_grad(2) && ctx->saved_data["has_bias"].toBool(),
               need_a = ctx->needs_input_grad(3), need_bb = ctx->needs_input_grad(4);
    Tensor gx, gw, gb, ga, gbb, g_down;
    if (need_x || need_a) g_down = torch::mm(g, lora_B).mul_(scaling);
    if (need_x) gx = torch::mm(g, weight).addmm_(g_down, lora_A);
    if (need_w) gw = torch::mm(g.t(), x);
    if (need_b) gb = g.sum(0);
    if (need_a) ga = torch::mm(g_down.t(), x);
    if (need_bb) gbb = torch::mm(g.t(), down).mul_(scaling);
    return {gx, gw, gb, ga, gbb, Tensor()};
  }
};

// Rows routed to adapters: y = x W^T + b over every row (one GEMM), then each adapter's rows [begin, end) get
// scaling (x_k A_k^T) B_k^T added in place. Backward, per adapter with g_k = g[begin, end):
//   dL/dd_k = scaling g_k B_k,  dx = g W (+ dL/dd_k A_k on its rows),  dW = g^T x,  db = sum g,
//   dA_k = (dL/dd_k)^T x_k,  dB_k = scaling g_k^T d_k.
// `ab` holds A_0, B_0, A_1, B_1, ...; `bounds` begin_0, end_0, begin_1, end_1, ...
struct RoutedLoraLinearFunction : torch::autograd::Function<RoutedLoraLinearFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight, const Tensor& bias,
                        at::TensorList ab, std::vector<int64_t> bounds, std::vector<double> scalings) {
    const bool has_bias = bias.numel() > 0;
    auto y = has_bias ? torch::addmm(bias, x, weight.t()) : torch::mm(x, weight.t());
    std::vector<Tensor> saved{x, weight};
    for (size_t k = 0; k < scalings.size(); ++k) {
      const auto& A = ab[2 * k];
      const auto& B = ab[2 * k + 1];
      const int64_t begin = bounds[2 * k], rows = bounds[2 * k + 1] - begin;
      auto down = torch::mm(x.narrow(0, begin, rows), A.t());
      // In place, so outside autocast's casts: B in the dtype autocast gave the products (bf16 under autocast).
      y.narrow(0, begin, rows).addmm_(down, B.t().to(y.scalar_type()), /*beta=*/1.0, /*alpha=*/scalings[k]);
      saved.insert(saved.end(), {A, B, down});
    }
    ctx->save_for_backward(saved);
    ctx->saved_data["bounds"] = bounds;
    ctx->saved_data["scalings"] = scalings;
    ctx->saved_data["has_bias"] = has_bias;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const Tensor& g = grad_outputs[0];
    auto like_g = [&g](const Tensor& t) { return in_dtype_of(t, g); };
    auto saved = ctx->get_saved_variables();
    const auto bounds = ctx->saved_data["bounds"].toIntVector();
    const auto scalings = ctx->saved_data["scalings"].toDoubleVector();
    const auto x = like_g(saved[0]), weight = like_g(saved[1]);
    const size_t adapters = scalings.size();
    variable_list grads(3 + 2 * adapters + 2);
    const bool need_x = ctx->needs_input_grad(0);
    if (need_x) grads[0] = torch::mm(g, weight);
    if (ctx->needs_input_grad(1)) grads[1] = torch::mm(g.t(), x);
    if (ctx->needs_input_grad(2) && ctx->saved_data["has_bias"].toBool()) grads[2] = g.sum(0);
    for (size_t k = 0; k < adapters; ++k) {
      const auto A = like_g(saved[2 + 3 * k]), B = like_g(saved[3 + 3 * k]), down = like_g(saved[4 + 3 * k]);
      const int64_t begin = bounds[2 * k], rows = bounds[2 * k + 1] - begin;
      const auto g_k = g.narrow(0, begin, rows), x_k = x.narrow(0, begin, rows);
      const bool need_a = ctx->needs_input_grad(3 + 2 * k), need_b = ctx->needs_input_grad(4 + 2 * k);
      if (need_x || need_a) {
        auto g_down = torch::mm(g_k, B).mul_(scalings[k]);
        if (need_x) grads[0].narrow(0, begin, rows).addmm_(g_down, A);
        if (need_a) grads[3 + 2 * k] = torch::mm(g_down.t(), x_k);
      }
      if (need_b) grads[4 + 2 * k] = torch::mm(g_k.t(), down).mul_(scalings[k]);
    }
    return grads;
  }
};

void check_shapes(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& lora_A,
                  const Tensor& lora_B) {
  const int64_t in = weight.size(1), out = weight.size(0), r = lora_A.size(0);
  if (x.size(-1) != in || lora_A.size(1) != in || lora_B.size(0) != out || lora_B.size(1) != r ||
      (bias.defined() && bias.numel() != out))
    fail("lora linear: shapes do not fit: x ", x.sizes(), ", weight ", weight.sizes(), ", lora_A ", lora_A.sizes(),
         ", lora_B ", lora_B.sizes());
}

}  // namespace

Tensor lora_linear_fused(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& lora_A,
                         const Tensor& lora_B, double scaling) {
  check_shapes(x, weight, bias, lora_A, lora_B);
  return in_shape_of(FusedLoraLinearFunction::apply(x.reshape({-1, x.size(-1)}), weight, bias_or_empty(bias, weight),
                                                   lora_A, lora_B, scaling),
                     x);
}

Tensor lora_linear_routed(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          const std::vector<RoutedLora>& adapters) {
  const Tensor x2 = x.reshape({-1, x.size(-1)});
  std::vector<Tensor> ab;
  std::vector<int64_t> bounds;
  std::vector<double> scalings;
  for (const auto& a : adapters) {
    check_shapes(x, weight, bias, a.lora_A, a.lora_B);
    if (a.begin < 0 || a.end < a.begin || a.end > x2.size(0))
      fail("lora linear: adapter rows [", a.begin, ", ", a.end, ") outside the input's ", x2.size(0), " rows");
    ab.insert(ab.end(), {a.lora_A, a.lora_B});
    bounds.insert(bounds.end(), {a.begin, a.end});
    scalings.push_back(a.scaling);
  }
  return in_shape_of(
      RoutedLoraLinearFunction::apply(x2, weight, bias_or_empty(bias, weight), at::TensorList(ab), bounds, scalings), x);
}

Tensor lora_linear_routed_reference(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                    const std::vector<RoutedLora>& adapters, bool training) {
  const Tensor x2 = x.reshape({-1, x.size(-1)});
  std::vector<Tensor> parts;
  int64_t at = 0;
  auto base = [&](int64_t end) {
    if (end > at) parts.push_back(torch::nn::functional::linear(x2.narrow(0, at, end - at), weight, bias));
    at = end;
  };
  for (const auto& a : adapters) {
    if (a.begin < at) fail("lora linear (reference): adapter rows must be in order and apart");
    base(a.begin);
    parts.push_back(lora_linear_reference(x2.narrow(0, a.begin, a.end - a.begin), weight, bias, a.lora_A, a.lora_B,
                                          a.scaling, a.dropout, training));
    at = a.end;
  }
  base(x2.size(0));
  return in_shape_of(torch::cat(parts), x);
}

Tensor lora_linear_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& lora_A,
                             const Tensor& lora_B, double scaling, double dropout_p, bool training) {
  check_shapes(x, weight, bias, lora_A, lora_B);
  namespace F = torch::nn::functional;
  auto lora_in = dropout_p > 0 ? torch::dropout(x, dropout_p, training) : x;
  return F::linear(x, weight, bias) + scaling * F::linear(F::linear(lora_in, lora_A), lora_B);
}

// ---- LoraLinear ----

LoraLinearImpl::LoraLinearImpl(int64_t in_features, int64_t out_features)
    : LoraLinearImpl(torch::nn::LinearOptions(in_features, out_features)) {}

LoraLinearImpl::LoraLinearImpl(const torch::nn::LinearOptions& options) : torch::nn::LinearImpl(options) {
  lora_A_ = register_module("lora_A", torch::nn::ModuleDict());
  lora_B_ = register_module("lora_B", torch::nn::ModuleDict());
}

const LoraAdapter* LoraLinearImpl::active_adapter() const {
  const std::string& name = ActiveAdapter::current();
  if (name.empty()) return nullptr;
  auto it = adapters_.find(name);
  if (it == adapters_.end() || it->second.merged) return nullptr;  // merged: already inside weight
  return &it->second;
}

std::vector<RoutedLora> LoraLinearImpl::routed_adapters(bool* dropout) const {
  const auto& segments = AdapterRouting::current();
  const auto& bounds = AdapterRouting::LayerRows::current();
  if (bounds.size() != segments.size() + 1)
    fail("adapter routing: a LoraLinear ran outside an encoder's layers (its rows are not known)");
  std::vector<RoutedLora> out;
  for (size_t k = 0; k < segments.size(); ++k) {
    auto it = adapters_.find(segments[k].adapter);
    if (it == adapters_.end() || it->second.merged || bounds[k + 1] == bounds[k]) continue;
    const auto& a = it->second;
    out.push_back({a.lora_A->weight, a.lora_B->weight, a.scaling, bounds[k], bounds[k + 1], a.config.lora_dropout});
    if (is_training() && a.config.lora_dropout > 0) *dropout = true;
  }
  return out;
}

Tensor LoraLinearImpl::forward(const Tensor& x) {
  if (!AdapterRouting::current().empty()) {
    bool dropout = false;
    auto routed = routed_adapters(&dropout);
    if (routed.empty()) return torch::nn::functional::linear(x, weight, bias);
    // Live LoRA dropout: the plain form, as the single-adapter path takes (the LoRA input differs from the base's).
    if (dropout) return lora_linear_routed_reference(x, weight, bias, routed, /*training=*/true);
    return lora_linear_routed(x, weight, bias, routed);
  }
  const LoraAdapter* a = active_adapter();
  if (!a) return torch::nn::functional::linear(x, weight, bias);
  if (is_training() && a->config.lora_dropout > 0) return forward_reference(x);
  return lora_linear_fused(x, weight, bias, a->lora_A->weight, a->lora_B->weight, a->scaling);
}

Tensor LoraLinearImpl::forward_reference(const Tensor& x) {
  const LoraAdapter* a = active_adapter();
  if (!a) return torch::nn::functional::linear(x, weight, bias);
  return lora_linear_reference(x, weight, bias, a->lora_A->weight, a->lora_B->weight, a->scaling,
                               a->config.lora_dropout, is_training());
}

void LoraLinearImpl::add_adapter(const std::string& name, const LoraConfig& config, bool trainable) {
  if (name.empty() || name.find('.') != std::string::npos)
    fail("LoRA adapter name '", name, "' must be non-empty and contain no '.' (it becomes part of parameter names)");
  if (has_adapter(name)) fail("LoRA adapter '", name, "' already exists on this linear");
  if (config.r <= 0) fail("LoRA adapter '", name, "': r must be positive, got ", config.r);
  if (!std::isfinite(config.lora_alpha)) fail("LoRA adapter '", name, "': lora_alpha must be finite");
  if (!(config.lora_dropout >= 0 && config.lora_dropout < 1))
    fail("LoRA adapter '", name, "': lora_dropout must be in [0, 1), got ", config.lora_dropout);
  const int64_t in = options.in_features(), out = options.out_features();
  LoraAdapter a;
  a.config = config;
  a.scaling = config.scaling();
  a.lora_A = torch::nn::Linear(torch::nn::LinearOptions(in, config.r).bias(false));
  a.lora_B = torch::nn::Linear(torch::nn::LinearOptions(config.r, out).bias(false));
  {
    torch::NoGradGuard no_grad;  // PEFT's init_lora_weights=True
    torch::nn::init::kaiming_uniform_(a.lora_A->weight, std::sqrt(5.0));
    a.lora_B->weight.zero_();
  }
  a.lora_A->to(weight.device(), weight.scalar_type());
  a.lora_B->to(weight.device(), weight.scalar_type());
  a.lora_A->weight.set_requires_grad(trainable);
  a.lora_B->weight.set_requires_grad(trainable);
  a.lora_A->train(is_training());
  a.lora_B->train(is_training());
  lora_A_->update({{name, a.lora_A.ptr()}});
  lora_B_->update({{name, a.lora_B.ptr()}});
  adapters_.emplace(name, std::move(a));
}

LoraAdapter& LoraLinearImpl::find(const std::string& name) {
  auto it = adapters_.find(name);
  if (it == adapters_.end()) fail("LoRA adapter '", name, "' not found on this linear");
  return it->second;
}

const LoraAdapter& LoraLinearImpl::adapter(const std::string& name) const {
  return const_cast<LoraLinearImpl*>(this)->find(name);
}

void LoraLinearImpl::remove_adapter(const std::string& name) {
  find(name);
  // ModuleDict::pop keeps the registration (as Python does); unregister so the parameters disappear too.
  lora_A_->pop(name);
  lora_A_->unregister_module(name);
  lora_B_->pop(name);
  lora_B_->unregister_module(name);
  adapters_.erase(name);
}

std::vector<std::string> LoraLinearImpl::adapter_names() const {
  std::vector<std::string> names;
  for (const auto& entry : adapters_) names.push_back(entry.first);
  return names;
}

void LoraLinearImpl::set_adapter_trainable(const std::string& name, bool trainable) {
  auto& a = find(name);
  a.lora_A->weight.set_requires_grad(trainable);
  a.lora_B->weight.set_requires_grad(trainable);
}

void LoraLinearImpl::merge(const std::string& name) {
  auto& a = find(name);
  if (a.merged) fail("LoRA adapter '", name, "' is already merged");
  torch::NoGradGuard no_grad;
  weight.add_(torch::mm(a.lora_B->weight, a.lora_A->weight), a.scaling);
  a.merged = true;
}

void LoraLinearImpl::unmerge(const std::string& name) {
  auto& a = find(name);
  if (!a.merged) fail("LoRA adapter '", name, "' is not merged");
  torch::NoGradGuard no_grad;
  weight.sub_(torch::mm(a.lora_B->weight, a.lora_A->weight), a.scaling);
  a.merged = false;
}

void LoraLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "mtpf::LoraLinear(in_features=" << options.in_features() << ", out_features=" << options.out_features()
         << ", bias=" << (options.bias() ? "true" : "false");
  for (const auto& [name, a] : adapters_)
    stream << ", " << name << "(r=" << a.config.r << ", scaling=" << a.scaling << (a.merged ? ", merged" : "") << ")";
  stream << ")";
}

// ---- Targeting and model-wide helpers ----

namespace {

struct NamedLinear {
  std::string name;  // full module name
  LoraLinearImpl* linear;
  int layer = -1;    // index N of "...layer.N...", -1 outside the layers
  std::string path;  // name relative to "...layer.N."
};

std::vector<NamedLinear> named_linears(const torch::nn::Module& model) {
  std::vector<NamedLinear> out;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    auto* linear = item.value()->as<LoraLinear>();
    if (!linear) continue;
    NamedLinear n{item.key(), linear};
    n.layer = lora_layer_of(n.name, &n.path);
    out.push_back(std::move(n));
  }
  return out;
}

bool same_config(const LoraConfig& a, const LoraConfig& b) {
  return a.r == b.r && a.lora_alpha == b.lora_alpha && a.lora_dropout == b.lora_dropout && a.use_rslora == b.use_rslora;
}

// Every linear holding `name`; an adapter nobody holds is an error (a typo would otherwise do nothing).
std::vector<NamedLinear> holders(const torch::nn::Module& model, const std::string& name) {
  std::vector<NamedLinear> out;
  for (auto& n : named_linears(model))
    if (n.linear->has_adapter(name)) out.push_back(n);
  if (out.empty()) fail("no module holds LoRA adapter '", name, "'");
  return out;
}

}  // namespace

std::vector<std::string> lora_default_targets(const EncoderConfig& config) {
  if (config.is_distilbert()) return {"attention.q_lin", "attention.k_lin", "ffn.lin1", "ffn.lin2"};
  return {"attention.self.query", "attention.self.key", "intermediate.dense", "output.dense"};
}

std::vector<std::string> lora_inject(torch::nn::Module& model, const std::string& name, const LoraConfig& config,
                                     const std::vector<std::string>& target_modules, const std::vector<int>& layers,
                                     bool trainable) {
  if (target_modules.empty()) fail("lora_inject '", name, "': no target modules given");
  auto linears = named_linears(model);
  int num_layers = 0;
  for (const auto& n : linears) num_layers = std::max(num_layers, n.layer + 1);
  std::set<int> chosen;
  for (int l : layers) {
    const int idx = l < 0 ? num_layers + l : l;
    if (idx < 0 || idx >= num_layers)
      fail("lora_inject '", name, "': layer ", l, " is out of range (the model has ", num_layers, " layers)");
    chosen.insert(idx);
  }
  std::vector<std::string> names;
  std::set<std::string> matched_targets;
  for (const auto& n : linears) {
    if (n.layer < 0 || (!chosen.empty() && !chosen.count(n.layer))) continue;
    if (std::find(target_modules.begin(), target_modules.end(), n.path) == target_modules.end()) continue;
    names.push_back(n.name);
    matched_targets.insert(n.path);
  }
  for (const auto& t : target_modules) {
    if (matched_targets.count(t)) continue;
    std::ostringstream known;
    for (const auto& n : linears)
      if (n.layer == 0) known << (known.tellp() ? ", " : "") << n.path;
    fail("lora_inject '", name, "': target '", t, "' matches no linear in the chosen layers (a layer's linears: ",
         known.str(), ")");
  }
  lora_inject_modules(model, name, config, names, trainable);
  return names;
}

void lora_inject_modules(torch::nn::Module& model, const std::string& name, const LoraConfig& config,
                         const std::vector<std::string>& module_names, bool trainable) {
  if (module_names.empty()) fail("LoRA adapter '", name, "': no modules to inject into");
  auto linears = named_linears(model);
  std::vector<LoraLinearImpl*> todo;
  for (const auto& m : module_names) {
    auto it = std::find_if(linears.begin(), linears.end(), [&](const NamedLinear& n) { return n.name == m; });
    if (it == linears.end()) fail("LoRA adapter '", name, "': the model has no linear named '", m, "'");
    if (it->linear->has_adapter(name)) {
      if (!same_config(it->linear->adapter(name).config, config))
        fail("LoRA adapter '", name, "' already exists on '", m, "' with another r/lora_alpha/lora_dropout/use_rslora");
      continue;  // kept as is
    }
    todo.push_back(it->linear);
  }
  for (auto* linear : todo) linear->add_adapter(name, config, trainable);
}

std::vector<std::string> lora_adapter_names(const torch::nn::Module& model) {
  std::set<std::string> names;
  for (const auto& n : named_linears(model))
    for (const auto& a : n.linear->adapter_names()) names.insert(a);
  return {names.begin(), names.end()};
}

std::vector<std::string> lora_adapter_modules(const torch::nn::Module& model, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& n : named_linears(model))
    if (n.linear->has_adapter(name)) out.push_back(n.name);
  return out;
}

torch::OrderedDict<std::string, Tensor> lora_adapter_parameters(const torch::nn::Module& model,
                                                                const std::string& name) {
  torch::OrderedDict<std::string, Tensor> out;
  const std::string a = ".lora_A." + name + ".weight", b = ".lora_B." + name + ".weight";
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const auto& p : model.named_parameters(/*recurse=*/true))
    if (ends_with(p.key(), a) || ends_with(p.key(), b)) out.insert(p.key(), p.value());
  return out;
}

void lora_set_trainable(torch::nn::Module& model, const std::string& name, bool trainable) {
  for (auto& n : holders(model, name)) n.linear->set_adapter_trainable(name, trainable);
}

void lora_remove(torch::nn::Module& model, const std::string& name) {
  for (auto& n : holders(model, name)) n.linear->remove_adapter(name);
}

// All or nothing: a half-merged model would be neither the base nor the adapted one.
void lora_merge(torch::nn::Module& model, const std::string& name) {
  auto all = holders(model, name);
  for (auto& n : all)
    if (n.linear->adapter(name).merged) fail("LoRA adapter '", name, "' is already merged into '", n.name, "'");
  for (auto& n : all) n.linear->merge(name);
}

void lora_unmerge(torch::nn::Module& model, const std::string& name) {
  auto all = holders(model, name);
  for (auto& n : all)
    if (!n.linear->adapter(name).merged) fail("LoRA adapter '", name, "' is not merged into '", n.name, "'");
  for (auto& n : all) n.linear->unmerge(name);
}

int lora_layer_of(const std::string& module_name, std::string* path_in_layer) {
  std::vector<std::string> parts;
  std::stringstream in(module_name);
  for (std::string part; std::getline(in, part, '.');) parts.push_back(part);
  for (size_t i = 0; i + 2 < parts.size(); ++i) {
    const std::string& idx = parts[i + 1];
    if (parts[i] != "layer" || idx.empty() || idx.size() > 6 ||
        !std::all_of(idx.begin(), idx.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    if (path_in_layer) {
      path_in_layer->clear();
      for (size_t j = i + 2; j < parts.size(); ++j) *path_in_layer += (j > i + 2 ? "." : "") + parts[j];
    }
    return std::stoi(idx);
  }
  return -1;
}

bool lora_is_adapter_key(const std::string& parameter_name) {
  return parameter_name.find(".lora_") != std::string::npos;
}

}  // namespace mtpf
