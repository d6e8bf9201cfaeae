// Checks mtpf against HF transformers and PEFT themselves (driven by scripts/hf_parity.py where Python has them).
//   mtpf_hf_check MODEL_DIR REFERENCE.safetensors [ADAPTER_DIR]
//     The reference holds input_ids, attention_mask, [token_type_ids], last_hidden_state and hidden_states.N, as
//     HF computed them (with the PEFT adapter in ADAPTER_DIR active, when one is given: mtpf loads it with
//     peft_load and runs with it active). Built beside the runtime (MTPF_BUILD_RUNTIME), the libtorch-free runtime
//     runs the same input (and adapter) too. Prints one JSON line with the max absolute differences; exits 1 when
//     any exceeds 1e-4.
//   mtpf_hf_check --export-adapter MODEL_DIR ADAPTER_DIR
//     Writes a LoRA adapter in PEFT's format the way mtpf saves one (r 8, alpha 16, query, key and the MLP of the
//     last 2 layers) with random non-zero A and B, for PeftModel.from_pretrained to read.
#include <cstdio>
#include <cstring>
#include <vector>

#include "lora.h"
#include "model_folder.h"
#include "peft.h"
#include "safetensors.h"
#ifdef MTPF_HF_CHECK_RUNTIME
#include "mtpf/runtime.h"
#endif

namespace {

int export_adapter(const char* model_dir, const char* adapter_dir) {
  auto loaded = mtpf::model_folder_load(model_dir);
  auto& model = *loaded.model;
  mtpf::LoraConfig config;
  config.r = 8;
  config.lora_alpha = 16;
  mtpf::lora_inject(model, "x", config, mtpf::lora_default_targets(model.config()), {-2, -1});
  torch::manual_seed(7);
  torch::NoGradGuard no_grad;
  // B starts at zero (PEFT's init): give it values, or the check could not tell an adapter from none.
  for (auto& p : mtpf::lora_adapter_parameters(model, "x")) p.value().normal_(0.0, 0.1);
  mtpf::PeftSaveOptions options;
  options.base_model_name_or_path = model_dir;
  options.task_type = "FEATURE_EXTRACTION";
  mtpf::peft_save(model, "x", adapter_dir, options);
  std::printf("{\"exported\":\"%s\",\"modules\":%zu}\n", adapter_dir, mtpf::lora_adapter_modules(model, "x").size());
  return 0;
}

int compare(const char* model_dir, const char* reference, const char* adapter_dir) {
  auto loaded = mtpf::model_folder_load(model_dir);
  auto ref = mtpf::safetensors_read(reference).tensors;
  std::vector<std::string> modules;
  if (adapter_dir) modules = mtpf::peft_load(*loaded.model, adapter_dir, "x");
  mtpf::ActiveAdapter active(adapter_dir ? "x" : mtpf::ActiveAdapter::kNone);
  torch::NoGradGuard no_grad;
  auto types = ref.count("token_type_ids") ? ref.at("token_type_ids").to(torch::kLong) : torch::Tensor();
  auto mask = ref.at("attention_mask").to(torch::kLong);
  auto out = loaded.model->forward(ref.at("input_ids").to(torch::kLong), mask, types, true);
  auto keep = mask.unsqueeze(-1).to(torch::kFloat32);  // padded positions are not compared
  auto diff = [&](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a - b.to(torch::kFloat32)).abs() * keep).max().item<double>();
  };
  double last = diff(out.last_hidden_state, ref.at("last_hidden_state"));
  double worst_layer = 0;
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    auto key = "hidden_states." + std::to_string(i);
    if (ref.count(key)) worst_layer = std::max(worst_layer, diff(out.hidden_states[i], ref.at(key)));
  }
  std::string runtime = "null";
  bool runtime_ok = true;
#ifdef MTPF_HF_CHECK_RUNTIME
  {
    mtpf::rt::Backbone rt(model_dir, "fp32");
    int slot = -1;
    if (adapter_dir) {
      rt.load_adapter("x", adapter_dir, "");
      slot = rt.adapter_id("x");
    }
    auto as_int = [](const torch::Tensor& t) { return t.to(torch::kInt32).contiguous(); };
    auto ids = as_int(ref.at("input_ids")), m = as_int(mask);
    auto t32 = types.defined() ? as_int(types) : torch::Tensor();
    const int batch = ids.size(0), seq = ids.size(1);
    std::vector<int32_t> slots(batch, slot);
    auto hidden = torch::empty({batch, seq, rt.hidden_size()}, torch::kFloat32);
    rt.last_hidden_state(ids.data_ptr<int32_t>(), m.data_ptr<int32_t>(), t32.defined() ? t32.data_ptr<int32_t>() : nullptr,
                         slots.data(), batch, seq, hidden.data_ptr<float>());
    const double d = diff(hidden, ref.at("last_hidden_state"));
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", d);
    runtime = text;
    runtime_ok = d <= 1e-4;
  }
#endif
  std::printf("{\"model\":\"%s\",\"model_type\":\"%s\",\"adapter\":\"%s\",\"adapted_modules\":%zu,"
              "\"max_abs_diff_last\":%.3g,\"max_abs_diff_layers\":%.3g,\"max_abs_diff_runtime\":%s}\n",
              model_dir, loaded.model->config().model_type.c_str(), adapter_dir ? adapter_dir : "", modules.size(),
              last, worst_layer, runtime.c_str());
  return last <= 1e-4 && worst_layer <= 1e-4 && runtime_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::strcmp(argv[1], "--export-adapter") == 0) return export_adapter(argv[2], argv[3]);
    if (argc == 3 || argc == 4) return compare(argv[1], argv[2], argc == 4 ? argv[3] : nullptr);
    std::fprintf(stderr, "usage: %s MODEL_DIR REFERENCE.safetensors [ADAPTER_DIR]\n"
                         "       %s --export-adapter MODEL_DIR ADAPTER_DIR\n", argv[0], argv[0]);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mtpf_hf_check: %s\n", e.what());
    return 2;
  }
}
