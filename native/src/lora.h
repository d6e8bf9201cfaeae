// LoRA (Hu et al. 2022) as PEFT implements it: y = x W^T + b + scaling * B(A(dropout(x))), several adapters per
// linear kept in dictionaries keyed by adapter name. The encoder's linears are all LoraLinear, so any of them can
// take an adapter; named_parameters() then yields PEFT's in-memory names:
//   encoder.layer.11.attention.self.query.weight          (base, unchanged HF name)
//   encoder.layer.11.attention.self.query.lora_A.tc.weight [r, in]
//   encoder.layer.11.attention.self.query.lora_B.tc.weight [out, r]
// Task-primary LoRAs (paper §6) train backbone and adapters together, each adapter only on its own task's loss:
// the adapter used by a forward call is picked by an ActiveAdapter scope, and each adapter has its own trainable
// flag, independent of the base weight's.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "adapter_routing.h"
#include "encoder_model.h"

namespace mtpf {

// The fields of PEFT's LoraConfig that shape one adapter, under PEFT's names and defaults.
struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 8.0;
  double lora_dropout = 0.0;  // on the LoRA input path only
  bool use_rslora = false;    // scaling alpha / sqrt(r) instead of alpha / r (Kalajdzievski 2023)

  double scaling() const;
};

// One adapter of one LoraLinear.
struct LoraAdapter {
  LoraConfig config;
  double scaling = 1.0;
  torch::nn::Linear lora_A{nullptr};  // weight [r, in], kaiming-uniform(a = sqrt(5)) as PEFT
  torch::nn::Linear lora_B{nullptr};  // weight [out, r], zeros: a fresh adapter leaves the output unchanged
  bool merged = false;                // B A * scaling has been added into the base weight
};

// Which adapter the forward calls of this thread use, for the lifetime of the scope (scopes nest; the previous
// choice comes back on exit). Empty, the default, means base only. A linear without the named adapter runs base only.
//   { ActiveAdapter scope("ner"); auto h = model->forward(...); }
class ActiveAdapter {
 public:
  static constexpr const char* kNone = "";
  explicit ActiveAdapter(std::string name);
  ~ActiveAdapter();
  ActiveAdapter(const ActiveAdapter&) = delete;
  ActiveAdapter& operator=(const ActiveAdapter&) = delete;
  static const std::string& current();

 private:
  std::string previous_;
};

// One adapter's share of a row-routed forward: rows [begin, end) of x take it.
struct RoutedLora {
  torch::Tensor lora_A, lora_B;
  double scaling = 1.0;
  int64_t begin = 0, end = 0;
  double dropout = 0.0;  // lora_dropout, used by the reference only
};

// A torch::nn::Linear (same "weight"/"bias" parameters, so checkpoints and code that looks for Linear still work)
// that can hold named LoRA adapters. Forward applies the active adapter unless it is merged.
class LoraLinearImpl : public torch::nn::LinearImpl {
 public:
  LoraLinearImpl(int64_t in_features, int64_t out_features);
  explicit LoraLinearImpl(const torch::nn::LinearOptions& options);

  // Fused path (one GEMM over [W; A]) unless dropout is live (training with lora_dropout > 0): there the LoRA input
  // dropout(x) differs from the base input x, so the plain path runs.
  // Under an AdapterRouting each adapter applies to its rows only (lora_linear_routed).
  torch::Tensor forward(const torch::Tensor& x);
  // The plain form, always: x W^T + b + scaling * (dropout(x) A^T) B^T. The reference the fused path is tested against.
  torch::Tensor forward_reference(const torch::Tensor& x);

  void add_adapter(const std::string& name, const LoraConfig& config, bool trainable = true);
  void remove_adapter(const std::string& name);
  bool has_adapter(const std::string& name) const { return adapters_.count(name) > 0; }
  std::vector<std::string> adapter_names() const;
  const LoraAdapter& adapter(const std::string& name) const;
  void set_adapter_trainable(const std::string& name, bool trainable);
  // W += scaling * B A (unmerge subtracts it again). While merged the adapter's own path is skipped, so the
  // output is the same; with several adapters merged, every forward sees all of them.
  void merge(const std::string& name);
  void unmerge(const std::string& name);

  void pretty_print(std::ostream& stream) const override;

 private:
  LoraAdapter& find(const std::string& name);
  const LoraAdapter* active_adapter() const;
  std::vector<RoutedLora> routed_adapters(bool* dropout) const;

  std::map<std::string, LoraAdapter> adapters_;
  torch::nn::ModuleDict lora_A_{nullptr}, lora_B_{nullptr};  // registered as "lora_A" / "lora_B", as in PEFT
};
TORCH_MODULE(LoraLinear);

// The kernels. x [N, in] or [..., in]; weight [out, in]; bias [out] or undefined; lora_A [r, in]; lora_B [out, r].
// Fused: y_cat = x [W; A]^T reads x once, then y = y_cat[:, :out] + b + scaling * y_cat[:, out:] B^T, with a
// hand-written backward that computes only the gradients some input requires.
torch::Tensor lora_linear_fused(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                const torch::Tensor& lora_A, const torch::Tensor& lora_B, double scaling);
// Rows routed to adapters (ordered, apart): y = x W^T + b over every row in one GEMM, then each adapter's
// scaling (x_k A^T) B^T added on its rows only, with a hand-written backward (gradients only where required).
torch::Tensor lora_linear_routed(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                 const std::vector<RoutedLora>& adapters);
// Its reference: the rows cut apart, lora_linear_reference (with the adapter's dropout) or the base linear on each.
torch::Tensor lora_linear_routed_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                           const torch::Tensor& bias, const std::vector<RoutedLora>& adapters,
                                           bool training = false);
// Reference: three matmuls, autograd does the backward.
torch::Tensor lora_linear_reference(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                    const torch::Tensor& lora_A, const torch::Tensor& lora_B, double scaling,
                                    double dropout_p = 0.0, bool training = false);

// ---- Targeting and model-wide helpers. `model` is the EncoderModel (module names are relative to it). ----

// Target roles for "query, key and the MLP", as paths relative to a layer ("encoder.layer.N.", "transformer.layer.N."):
// BERT/RoBERTa attention.self.query, attention.self.key, intermediate.dense, output.dense;
// DistilBERT attention.q_lin, attention.k_lin, ffn.lin1, ffn.lin2.
std::vector<std::string> lora_default_targets(const EncoderConfig& config);

// Adds adapter `name` to the linears whose path relative to their layer equals one of `target_modules` exactly
// ("output.dense" is encoder.layer.N.output.dense, never encoder.layer.N.attention.output.dense), in `layers`:
// indices, negative from the end (-1 = last), empty = all. Returns the full module names that hold the adapter.
// Every target must match in the chosen layers. A linear that already has the adapter with the same r and alpha is
// kept as is (so a loaded task-primary LoRA can seed a wider one); with another r or alpha it is an error.
std::vector<std::string> lora_inject(torch::nn::Module& model, const std::string& name, const LoraConfig& config,
                                     const std::vector<std::string>& target_modules,
                                     const std::vector<int>& layers = {}, bool trainable = true);
// The same by full module names ("encoder.layer.0.attention.self.query"), as PEFT's adapter_config lists them.
void lora_inject_modules(torch::nn::Module& model, const std::string& name, const LoraConfig& config,
                         const std::vector<std::string>& module_names, bool trainable = true);

std::vector<std::string> lora_adapter_names(const torch::nn::Module& model);                         // sorted
std::vector<std::string> lora_adapter_modules(const torch::nn::Module& model, const std::string& name);  // full names
// lora_A / lora_B parameters of one adapter under their full names: an optimizer group, or gradient routing.
torch::OrderedDict<std::string, torch::Tensor> lora_adapter_parameters(const torch::nn::Module& model,
                                                                       const std::string& name);
void lora_set_trainable(torch::nn::Module& model, const std::string& name, bool trainable);
void lora_remove(torch::nn::Module& model, const std::string& name);
void lora_merge(torch::nn::Module& model, const std::string& name);
void lora_unmerge(torch::nn::Module& model, const std::string& name);
// "encoder.layer.11.output.dense" -> 11 and, if asked, the path inside the layer ("output.dense"); -1 outside layers.
int lora_layer_of(const std::string& module_name, std::string* path_in_layer = nullptr);
// True for adapter parameter names ("...query.lora_A.tc.weight"): checkpoint IO skips them; adapters have own files.
bool lora_is_adapter_key(const std::string& parameter_name);

}  // namespace mtpf
