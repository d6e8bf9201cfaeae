#include "train_session.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "errors.h"
#include "grad_cache.h"
#include "losses.h"
#include "pcgrad.h"
#include "peft.h"
#include "pooling.h"
#include "safetensors.h"
#include "torch_compat.h"

namespace fs = std::filesystem;

namespace mtpf {

// ---- config ----

bool TrainConfig::uses_tc() const { return strategy != "pf-ner" && strategy != "ner-adapt"; }
bool TrainConfig::uses_ner() const { return strategy != "pf-tc"; }
bool TrainConfig::uses_loras() const { return strategy == "mtpf-tpl" || strategy == "pf-l" || strategy == "ner-adapt"; }
bool TrainConfig::frozen_backbone() const { return strategy == "pf-l" || strategy == "ner-adapt"; }

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  auto get = [&j](const char* key, auto& field) {
    if (j.contains(key) && !j[key].is_null()) j.at(key).get_to(field);
  };
  get("strategy", c.strategy);
  get("pcgrad", c.pcgrad);
  get("tc_weight", c.tc_weight);
  get("ner_weight", c.ner_weight);
  get("temperature", c.temperature);
  get("chunk_size", c.chunk_size);
  get("ner_classes", c.ner_classes);
  get("lora_r", c.lora.r);
  get("lora_alpha", c.lora.lora_alpha);
  get("lora_dropout", c.lora.lora_dropout);
  get("use_rslora", c.lora.use_rslora);
  get("last_layers", c.last_layers);
  get("lora_targets", c.lora_targets);
  get("lr", c.lr);
  get("weight_decay", c.weight_decay);
  get("beta1", c.beta1);
  get("beta2", c.beta2);
  get("eps", c.eps);
  get("clip_norm", c.clip_norm);
  get("warmup_steps", c.warmup_steps);
  get("total_steps", c.total_steps);
  get("schedule", c.schedule);
  get("accumulation", c.accumulation);
  get("seed", c.seed);
  get("device", c.device);
  get("precision", c.precision);
  get("adapter_init", c.adapter_init);
  get("stage", c.stage);
  get("load_head", c.load_head);
  const std::vector<std::string> strategies{"pf-tc", "pf-ner", "mtpf", "mtpf-tpl", "pf-l", "ner-adapt"};
  if (std::find(strategies.begin(), strategies.end(), c.strategy) == strategies.end())
    fail("unknown strategy '", c.strategy, "' (pf-tc, pf-ner, mtpf, mtpf-tpl, pf-l, ner-adapt)");
  if (c.strategy == "ner-adapt" && c.stage != 1 && c.stage != 2)
    fail("ner-adapt runs in stage 1 (head only) or 2 (LoRA + head), not ", c.stage);
  if (c.strategy != "ner-adapt") c.stage = 0;
  if (c.pcgrad && !(c.strategy == "mtpf" || c.strategy == "mtpf-tpl"))
    fail("pcgrad applies to mtpf and mtpf-tpl, not ", c.strategy);
  if (c.schedule != "constant" && c.schedule != "linear" && c.schedule != "cosine")
    fail("unknown schedule '", c.schedule, "' (constant, linear, cosine)");
  if (c.accumulation < 1 || c.total_steps < 1 || c.ner_classes < 2 || c.temperature <= 0 || c.lr <= 0)
    fail("accumulation, total_steps, lr and temperature must be positive and ner_classes at least 2");
  return c;
}

nlohmann::json TrainConfig::to_json() const {
  return {{"strategy", strategy}, {"pcgrad", pcgrad}, {"tc_weight", tc_weight}, {"ner_weight", ner_weight},
          {"temperature", temperature}, {"chunk_size", chunk_size}, {"ner_classes", ner_classes},
          {"lora_r", lora.r}, {"lora_alpha", lora.lora_alpha}, {"lora_dropout", lora.lora_dropout},
          {"use_rslora", lora.use_rslora}, {"last_layers", last_layers}, {"lora_targets", lora_targets},
          {"lr", lr}, {"weight_decay", weight_decay}, {"beta1", beta1}, {"beta2", beta2}, {"eps", eps},
          {"clip_norm", clip_norm}, {"warmup_steps", warmup_steps}, {"total_steps", total_steps},
          {"schedule", schedule}, {"accumulation", accumulation}, {"seed", seed}, {"device", device},
          {"precision", precision}, {"adapter_init", adapter_init}, {"stage", stage}};
}

double lr_at(const TrainConfig& c, int64_t step) {
  if (step < c.warmup_steps) return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
  if (c.schedule == "constant") return c.lr;
  const double span = std::max<int64_t>(1, c.total_steps - c.warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - c.warmup_steps) / span);
  if (c.schedule == "linear") return c.lr * (1.0 - progress);
  return c.lr * 0.5 * (1.0 + std::cos(M_PI * progress));
}

// ---- session ----

namespace {

// Roles of RunConfig.lora.targets -> module paths relative to a layer, per architecture.
std::vector<std::string> target_paths(const EncoderConfig& c, const std::vector<std::string>& roles) {
  const bool distil = c.is_distilbert();
  std::vector<std::string> out;
  for (const auto& role : roles) {
    if (role == "query") out.push_back(distil ? "attention.q_lin" : "attention.self.query");
    else if (role == "key") out.push_back(distil ? "attention.k_lin" : "attention.self.key");
    else if (role == "value") out.push_back(distil ? "attention.v_lin" : "attention.self.value");
    else if (role == "attention_output") out.push_back(distil ? "attention.out_lin" : "attention.output.dense");
    else if (role == "mlp") {
      out.push_back(distil ? "ffn.lin1" : "intermediate.dense");
      out.push_back(distil ? "ffn.lin2" : "output.dense");
    } else fail("unknown LoRA target role '", role, "' (query, key, value, attention_output, mlp)");
  }
  return out;
}

// HF's convention: no weight decay on biases and LayerNorm weights.
bool decays(const std::string& name) {
  return !(name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0) &&
         name.find("LayerNorm") == std::string::npos && name.find("layer_norm") == std::string::npos;
}

std::vector<torch::Tensor> take_grads(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  out.reserve(params.size());
  for (const auto& p : params) {
    out.push_back(p.grad().defined() ? p.grad().detach().clone() : torch::Tensor());
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }
  return out;
}

void add_grads(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads) {
  for (size_t i = 0; i < params.size(); ++i) {
    if (!grads[i].defined()) continue;
    auto& g = const_cast<torch::Tensor&>(params[i]).mutable_grad();
    g = g.defined() ? g + grads[i] : grads[i];
  }
}

// Gradients to "none", not zero: AdamW skips a parameter without a gradient, so an adapter whose task had no batch
// this step stays exactly as it is (a zero gradient would still move it through momentum and weight decay).
void clear_grads(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params) const_cast<torch::Tensor&>(p).mutable_grad() = torch::Tensor();
}

}  // namespace

TrainSession::TrainSession(const std::string& model_dir, const TrainConfig& config)
    : config_(config), device_(torch::kCPU) {
  try {
    device_ = torch::Device(config.device);
  } catch (const c10::Error&) {
    fail("unknown device '", config.device, "' (cpu, cuda or cuda:N)");
  }
  if (device_.is_cuda() && !torch::cuda::is_available()) fail("device '", config.device, "' but no CUDA GPU is visible");
  if (config.precision == "bf16" && !device_.is_cuda()) fail("precision bf16 (autocast) needs a CUDA device");
  torch::manual_seed(config.seed);
  loaded_ = model_folder_load(model_dir);
  auto& model = *loaded_.model;
  const auto& mc = model.config();

  if (!config_.adapter_init.empty()) {
    // A task-primary adapter seeds the LoRA of the layers it covers; lora_inject below keeps those as they are.
    auto seeded = peft_load(model, config_.adapter_init, "ner", /*is_trainable=*/true);
    if (seeded.empty()) fail(config_.adapter_init, ": the adapter covers no module of this model");
  }
  if (config_.uses_loras()) {
    std::vector<int> layers;
    for (int i = 1; config_.last_layers > 0 && i <= config_.last_layers; ++i) layers.push_back(-i);
    auto paths = target_paths(mc, config_.lora_targets);
    if (config_.uses_tc()) lora_inject(model, "tc", config_.lora, paths, layers);
    if (config_.uses_ner()) lora_inject(model, "ner", config_.lora, paths, layers);
  }
  if (config_.uses_ner()) {
    ner_head_ = torch::nn::Linear(mc.hidden_size, config_.ner_classes);
    ner_head_->to(torch::kFloat32);
    if (config_.load_head) {
      if (config_.adapter_init.empty()) fail("load_head needs adapter_init (the folder holding head_ner.safetensors)");
      auto head = peft_load_head(config_.adapter_init, "ner");
      if (head.weight.sizes() != ner_head_->weight.sizes())
        fail(config_.adapter_init, ": head_ner has shape ", head.weight.sizes(), " but the model needs ",
             ner_head_->weight.sizes(), " (", config_.ner_classes, " labels over hidden size ", mc.hidden_size, ")");
      torch::NoGradGuard no_grad;
      ner_head_->weight.copy_(head.weight);
      ner_head_->bias.copy_(head.bias);
    }
  }
  model.to(device_);
  if (ner_head_) ner_head_->to(device_);
  model.train();
  build_optimizer();
}

void TrainSession::build_optimizer() {
  auto& model = *loaded_.model;
  if (config_.strategy == "ner-adapt") lora_set_trainable(model, "ner", config_.stage == 2);
  shared_.clear();
  trainable_.clear();
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : model.named_parameters()) {
    const bool adapter = lora_is_adapter_key(p.key());
    if (!adapter) p.value().set_requires_grad(!config_.frozen_backbone());
    if (!p.value().requires_grad()) continue;
    if (!adapter) shared_.push_back(p.value());
    trainable_.push_back(p.value());
    (decays(p.key()) ? decay : no_decay).push_back(p.value());
  }
  if (ner_head_) {
    for (auto& p : ner_head_->named_parameters()) {
      trainable_.push_back(p.value());
      (decays(p.key()) ? decay : no_decay).push_back(p.value());
    }
  }
  if (trainable_.empty()) fail("nothing to train for strategy ", config_.strategy);
  auto options = torch::optim::AdamWOptions(config_.lr)
                     .betas(std::make_tuple(config_.beta1, config_.beta2))
                     .eps(config_.eps)
                     .weight_decay(config_.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  auto no_decay_options = options;
  no_decay_options.weight_decay(0.0);
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(no_decay_options));
  optimizer_ = std::make_unique<torch::optim::AdamW>(groups, options);
}

void TrainSession::set_stage(int stage, double lr, int64_t total_steps, int64_t warmup_steps) {
  if (config_.strategy != "ner-adapt") fail("stages belong to ner-adapt, not ", config_.strategy);
  if (stage != 1 && stage != 2) fail("stage must be 1 (head only) or 2 (LoRA + head), got ", stage);
  config_.stage = stage;
  config_.lr = lr;
  config_.total_steps = total_steps;
  config_.warmup_steps = warmup_steps;
  clear_grads(trainable_);
  build_optimizer();  // a fresh AdamW for the new trainable set, as a new fine-tuning stage
  step_ = 0;
  micro_step_ = 0;
}

torch::Tensor TrainSession::ner_logits(const torch::Tensor& ids, const torch::Tensor& mask) {
  if (!ner_head_) fail("strategy ", config_.strategy, " has no NER head");
  torch::NoGradGuard no_grad;
  ActiveAdapter scope(config_.uses_loras() ? "ner" : "");
  loaded_.model->eval();
  auto hidden = loaded_.model->forward(ids.to(device_), mask.to(device_), {}, false).last_hidden_state;
  auto logits = ner_head_->forward(hidden.to(torch::kFloat32));
  loaded_.model->train();
  return logits.to(torch::kCPU);
}

torch::Tensor TrainSession::embed_pooled(const torch::Tensor& ids, const torch::Tensor& mask) {
  auto hidden = loaded_.model->forward(ids, mask, {}, false).last_hidden_state;
  return mean_pool(hidden.to(torch::kFloat32), mask);
}

double TrainSession::run_tc(const StepInputs& in, double scale) {
  ActiveAdapter scope(config_.uses_loras() ? "tc" : "");
  CudaAutocastGuard autocast(config_.precision == "bf16");
  const int64_t batch = in.tc_a_ids.size(0);
  if (in.tc_b_ids.size(0) != batch) fail("TC batch: ", batch, " anchors but ", in.tc_b_ids.size(0), " positives");
  auto side = [this](const torch::Tensor& ids, const torch::Tensor& mask) -> ChunkEmbedFn {
    return [this, ids, mask](int64_t begin, int64_t end) {
      return embed_pooled(ids.slice(0, begin, end), mask.slice(0, begin, end));
    };
  };
  if (config_.chunk_size > 0 && config_.chunk_size < batch) {
    // GradCache: the batch's activations never live at once; equal to the plain loss in value and gradients.
    auto loss = grad_cache_backward({side(in.tc_a_ids, in.tc_a_mask), side(in.tc_b_ids, in.tc_b_mask)}, batch,
                                    config_.chunk_size, [this, scale](const std::vector<torch::Tensor>& e) {
                                      return info_nce_loss(e[0], e[1], config_.temperature) * scale;
                                    });
    return loss.item<double>() / scale;
  }
  auto loss = info_nce_loss(embed_pooled(in.tc_a_ids, in.tc_a_mask), embed_pooled(in.tc_b_ids, in.tc_b_mask),
                            config_.temperature);
  (loss * scale).backward();
  return loss.item<double>();
}

double TrainSession::run_ner(const StepInputs& in, double scale) {
  ActiveAdapter scope(config_.uses_loras() ? "ner" : "");
  CudaAutocastGuard autocast(config_.precision == "bf16");
  auto hidden = loaded_.model->forward(in.ner_ids, in.ner_mask, {}, false).last_hidden_state;
  auto logits = ner_head_->forward(hidden);
  auto loss = token_classification_loss(logits.to(torch::kFloat32), in.ner_labels);
  (loss * scale).backward();
  return loss.item<double>();
}

StepMetrics TrainSession::step(const StepInputs& in, bool measure) {
  StepMetrics m;
  const bool has_tc = in.tc_a_ids.defined() && in.tc_a_ids.numel() > 0;
  const bool has_ner = in.ner_ids.defined() && in.ner_ids.numel() > 0;
  if (has_tc && !config_.uses_tc()) fail("strategy ", config_.strategy, " takes no TC batch");
  if (has_ner && !config_.uses_ner()) fail("strategy ", config_.strategy, " takes no NER batch");
  if (!has_tc && !has_ner) fail("step without any batch");
  if (has_ner) {
    auto max_label = in.ner_labels.max().item<int64_t>();
    auto min_label = in.ner_labels.min().item<int64_t>();
    if (max_label >= config_.ner_classes || (min_label < 0 && min_label != -100))
      fail("NER labels must be -100 or in [0, ", config_.ner_classes, "); got ", min_label, "..", max_label);
  }
  // Dropout masks depend on (seed, step) only, so a resumed run replays the same randomness.
  torch::manual_seed(config_.seed * 1000003ULL + static_cast<uint64_t>(micro_step_));
  const double acc = static_cast<double>(config_.accumulation);
  const bool separate = has_tc && has_ner && !shared_.empty() && (config_.pcgrad || measure);

  std::vector<torch::Tensor> accumulated;
  if (separate) accumulated = take_grads(shared_);  // earlier micro-batches' shared gradients, set aside
  if (has_tc) m.tc_loss = run_tc(in, config_.tc_weight / acc);
  std::vector<torch::Tensor> g_tc;
  if (separate) g_tc = take_grads(shared_);
  if (has_ner) m.ner_loss = run_ner(in, config_.ner_weight / acc);
  if (separate) {
    auto g_ner = take_grads(shared_);
    m.grad_cosine = gradient_cosine(g_tc, g_ner);
    if (config_.pcgrad) {
      std::mt19937_64 rng(config_.seed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(micro_step_ + 1)));
      add_grads(shared_, pcgrad_combine({g_tc, g_ner}, rng));
    } else {
      add_grads(shared_, g_tc);
      add_grads(shared_, g_ner);
    }
    add_grads(shared_, accumulated);
  }
  const bool nonfinite = (has_tc && !std::isfinite(m.tc_loss)) || (has_ner && !std::isfinite(m.ner_loss));
  if (nonfinite) {
    clear_grads(trainable_);
    fail("non-finite loss at step ", step_ + 1, " (tc ", m.tc_loss, ", ner ", m.ner_loss,
         "); the run stops, the last checkpoint is kept");
  }
  ++micro_step_;
  m.lr = lr_at(config_, step_);
  if (micro_step_ % config_.accumulation == 0) optimizer_step(m);
  return m;
}

void TrainSession::optimizer_step(StepMetrics& m) {
  m.grad_norm = config_.clip_norm > 0 ? torch::nn::utils::clip_grad_norm_(trainable_, config_.clip_norm)
                                      : std::nan("");
  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(m.lr);
  optimizer_->step();
  clear_grads(trainable_);
  ++step_;
  m.optimizer_stepped = true;
}

torch::Tensor TrainSession::embed_tokens(const torch::Tensor& ids, const torch::Tensor& mask,
                                         const std::string& adapter) {
  torch::NoGradGuard no_grad;
  ActiveAdapter scope(adapter);
  loaded_.model->eval();
  auto out = loaded_.model->forward(ids.to(device_), mask.to(device_), {}, false).last_hidden_state;
  loaded_.model->train();
  return out.to(torch::kCPU, torch::kFloat32);
}

// ---- checkpoints and exports ----

void TrainSession::save_checkpoint(const std::string& dir, const nlohmann::json& extra) const {
  const fs::path final_dir(dir), tmp = fs::path(dir + ".tmp");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : loaded_.model->named_parameters()) tensors["model." + p.key()] = p.value().detach().cpu();
  if (ner_head_)
    for (const auto& p : ner_head_->named_parameters()) tensors["ner_head." + p.key()] = p.value().detach().cpu();
  safetensors_write((tmp / "weights.safetensors").string(), tensors);
  torch::serialize::OutputArchive archive;
  optimizer_->save(archive);
  archive.save_to((tmp / "optimizer.pt").string());
  nlohmann::json state = {{"format", "mtpf-checkpoint-1"}, {"optimizer_steps", step_}, {"micro_steps", micro_step_},
                          {"config", config_.to_json()}, {"model_dir", loaded_.source_dir}, {"extra", extra}};
  std::ofstream(tmp / "state.json") << state.dump(2) << "\n";
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
}

nlohmann::json TrainSession::load_checkpoint(const std::string& dir) {
  const fs::path d(dir);
  if (!fs::exists(d / "state.json")) fail(dir, ": not a checkpoint (no state.json)");
  nlohmann::json state;
  try {
    std::ifstream(d / "state.json") >> state;
  } catch (const nlohmann::json::exception& e) {
    fail((d / "state.json").string(), ": malformed (", e.what(), ")");
  }
  const auto saved = TrainConfig::from_json(state.at("config"));
  if (saved.strategy != config_.strategy || saved.last_layers != config_.last_layers || saved.lora.r != config_.lora.r ||
      saved.ner_classes != config_.ner_classes)
    fail(dir, ": checkpoint of another configuration (strategy ", saved.strategy, ", LoRA r ", saved.lora.r,
         ", last_layers ", saved.last_layers, ", ner_classes ", saved.ner_classes, ")");
  auto tensors = safetensors_read((d / "weights.safetensors").string()).tensors;
  torch::NoGradGuard no_grad;
  auto restore = [&](const std::string& prefix, torch::nn::Module& module) {
    for (auto& p : module.named_parameters()) {
      auto it = tensors.find(prefix + p.key());
      if (it == tensors.end()) fail(dir, ": checkpoint lacks ", prefix, p.key());
      if (it->second.sizes() != p.value().sizes()) fail(dir, ": ", prefix, p.key(), " has another shape");
      p.value().copy_(it->second);
    }
  };
  restore("model.", *loaded_.model);
  if (ner_head_) restore("ner_head.", *ner_head_);
  torch::serialize::InputArchive archive;
  archive.load_from((d / "optimizer.pt").string(), device_);
  optimizer_->load(archive);
  step_ = state.at("optimizer_steps").get<int64_t>();
  micro_step_ = state.at("micro_steps").get<int64_t>();
  return state.value("extra", nlohmann::json::object());
}

void TrainSession::export_backbone(const std::string& dir) const { model_folder_save(loaded_, dir); }

void TrainSession::export_adapter(const std::string& name, const std::string& dir) const {
  PeftSaveOptions options;
  options.base_model_name_or_path = loaded_.source_dir;
  options.task_type = "FEATURE_EXTRACTION";
  peft_save(*loaded_.model, name, dir, options);
  if (name == "ner" && ner_head_) peft_save_head(dir, "ner", ner_head_->weight.detach().cpu(), ner_head_->bias.detach().cpu(), {});
}

void TrainSession::export_head(const std::string& dir) const {
  if (!ner_head_) fail("strategy ", config_.strategy, " has no NER head");
  fs::create_directories(dir);
  peft_save_head(dir, "ner", ner_head_->weight.detach().cpu(), ner_head_->bias.detach().cpu(), {});
}

}  // namespace mtpf
