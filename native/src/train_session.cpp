#include "train_session.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "atomic_file.h"
#include "errors.h"
#include "fused_adamw.h"
#include "grad_cache.h"
#include "losses.h"
#include "pcgrad.h"
#include "peft.h"
#include "pooling.h"
#include "precision.h"
#include "safetensors.h"
#include "torch_compat.h"

namespace fs = std::filesystem;

namespace mtpf {

// ---- config ----

bool TrainConfig::uses_tc() const { return strategy != "pf-ner" && strategy != "ner-adapt"; }
bool TrainConfig::uses_ner() const { return strategy != "pf-tc"; }
bool TrainConfig::uses_loras() const { return strategy == "mtpf-tpl" || strategy == "pf-l" || strategy == "ner-adapt"; }
bool TrainConfig::frozen_backbone() const { return strategy == "pf-l" || strategy == "ner-adapt"; }

namespace {

// The trainer config's JSON schema, defined once: each field's section ("" = top level), key and member, in the
// sections of the run config (run.yaml: tc, ner, lora, optimizer) with the same keys where a field is in both.
// from_json, to_json and the unknown-key check all walk this list; Java's io.mtpf.TrainerConfig mirrors it field for
// field, and its test compares both defaults key for key (Trainer::default_config_json).
template <class Config, class Visit>
void for_each_field(Config& c, Visit&& visit) {
  visit("", "strategy", c.strategy);
  visit("", "pcgrad", c.pcgrad);
  visit("", "seed", c.seed);
  visit("", "device", c.device);
  visit("", "precision", c.precision);
  visit("", "dropout", c.dropout);
  visit("tc", "weight", c.tc_weight);
  visit("tc", "temperature", c.temperature);
  visit("tc", "chunk_size", c.chunk_size);
  visit("ner", "weight", c.ner_weight);
  visit("ner", "classes", c.ner_classes);
  visit("lora", "r", c.lora.r);
  visit("lora", "alpha", c.lora.lora_alpha);
  visit("lora", "dropout", c.lora.lora_dropout);
  visit("lora", "use_rslora", c.lora.use_rslora);
  visit("lora", "last_layers", c.last_layers);
  visit("lora", "targets", c.lora_targets);
  visit("optimizer", "impl", c.optimizer_impl);
  visit("optimizer", "lr", c.lr);
  visit("optimizer", "weight_decay", c.weight_decay);
  visit("optimizer", "beta1", c.beta1);
  visit("optimizer", "beta2", c.beta2);
  visit("optimizer", "eps", c.eps);
  visit("optimizer", "clip_norm", c.clip_norm);
  visit("optimizer", "warmup_steps", c.warmup_steps);
  visit("optimizer", "total_steps", c.total_steps);
  visit("optimizer", "schedule", c.schedule);
  visit("optimizer", "accumulation", c.accumulation);
  visit("padding", "trim", c.trim_padding);
  visit("padding", "multiple", c.pad_multiple);
  visit("adapt", "init", c.adapter_init);
  visit("adapt", "load_head", c.load_head);
  visit("adapt", "stage", c.stage);
}

std::string field_name(const std::string& section, const std::string& key) {
  return section.empty() ? key : section + "." + key;
}

}  // namespace

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  if (!j.is_object()) fail("trainer config: expected a JSON object, got ", j.dump());
  // Strict, as the Java run config is: a misspelt key is an error, not a silently ignored setting.
  std::map<std::string, std::set<std::string>> known;  // section -> keys
  for_each_field(c, [&known](const char* section, const char* key, auto&) { known[section].insert(key); });
  for (const auto& item : j.items()) {
    const auto section = known.find(item.key());
    if (section != known.end() && !item.key().empty()) {
      if (!item.value().is_object()) fail("trainer config: '", item.key(), "' must be an object, got ", item.value().dump());
      for (const auto& inner : item.value().items())
        if (!section->second.count(inner.key())) fail("trainer config: unknown key '", item.key(), ".", inner.key(), "'");
    } else if (!known[""].count(item.key())) {
      fail("trainer config: unknown key '", item.key(), "'");
    }
  }
  for_each_field(c, [&j](const char* section, const char* key, auto& field) {
    const nlohmann::json& holder = *section ? j.value(section, nlohmann::json::object()) : j;
    if (!holder.contains(key) || holder[key].is_null()) return;
    try {
      holder.at(key).get_to(field);
    } catch (const nlohmann::json::exception&) {
      fail("trainer config: '", field_name(section, key), "' has the wrong type (", holder[key].dump(), ")");
    }
  });
  const std::vector<std::string> strategies{"pf-tc", "pf-ner", "mtpf", "mtpf-tpl", "pf-l", "ner-adapt"};
  if (std::find(strategies.begin(), strategies.end(), c.strategy) == strategies.end())
    fail("unknown strategy '", c.strategy, "' (pf-tc, pf-ner, mtpf, mtpf-tpl, pf-l, ner-adapt)");
  if (c.strategy == "ner-adapt" && c.stage != 1 && c.stage != 2)
    fail("ner-adapt runs in stage 1 (head only) or 2 (LoRA + head), not ", c.stage);
  if (c.strategy != "ner-adapt") c.stage = 0;
  if (c.pcgrad && !(c.strategy == "mtpf" || c.strategy == "mtpf-tpl"))
    fail("pcgrad applies to mtpf and mtpf-tpl, not ", c.strategy);
  if (c.schedule != "constant" && c.schedule != "linear" && c.schedule != "cosine")
    fail("unknown optimizer.schedule '", c.schedule, "' (constant, linear, cosine)");
  if (c.optimizer_impl != "auto" && c.optimizer_impl != "plain" && c.optimizer_impl != "fused")
    fail("unknown optimizer.impl '", c.optimizer_impl, "' (auto, plain, fused)");
  if (c.pad_multiple < 0) fail("padding.multiple must be >= 0, got ", c.pad_multiple);
  if (c.dropout != -1 && !(c.dropout >= 0 && c.dropout < 1))
    fail("dropout must be in [0, 1) (or -1: the model's own), got ", c.dropout);
  if (c.accumulation < 1 || c.total_steps < 1 || c.ner_classes < 2 || c.temperature <= 0 || c.lr <= 0)
    fail("optimizer.accumulation, optimizer.total_steps, optimizer.lr and tc.temperature must be positive and "
         "ner.classes at least 2");
  return c;
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for_each_field(*this, [&j](const char* section, const char* key, const auto& field) {
    (*section ? j[section] : j)[key] = field;
  });
  return j;
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

TrainSession::TrainSession(const std::string& model_dir, const TrainConfig& config, ProcessGroup* group)
    : config_(config), group_(group && group->size() > 1 ? group : nullptr), device_(torch::kCPU) {
  try {
    device_ = torch::Device(config.device);
  } catch (const c10::Error&) {
    fail("unknown device '", config.device, "' (cpu, cuda or cuda:N)");
  }
  if (device_.is_cuda() && !torch::cuda::is_available()) fail("device '", config.device, "' but no CUDA GPU is visible");
  config_.precision = resolve_precision(config_.precision, device_);
  torch::manual_seed(config.seed);
  loaded_ = model_folder_load(model_dir, config_.dropout);
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
  if (group_) {
    // Every rank starts from rank 0's parameters (LoRA and head initialisations included), as DDP does.
    std::vector<torch::Tensor> params = model.parameters();
    if (ner_head_) for (auto& p : ner_head_->parameters()) params.push_back(p);
    group_->broadcast_from_rank0(params);
  }
  first_nonfinite_ = torch::full({}, -1, torch::TensorOptions().dtype(torch::kLong).device(device_));
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
  if (config_.optimizer_impl == "fused" && !fused_adamw_available(device_))
    fail("optimizer_impl fused: at::_fused_adamw_ is not available for ", device_.str(), " in libtorch ",
         TORCH_VERSION, " (CUDA needs >= 2.1, CPU >= 2.4)");
  // auto: fused wherever this libtorch has it (CUDA >= 2.1, CPU >= 2.4): one multi-tensor kernel instead of ~10
  // elementwise passes per parameter tensor over memory.
  const bool fused = config_.optimizer_impl == "fused" ||
                     (config_.optimizer_impl == "auto" && fused_adamw_available(device_));
  optimizer_impl_ = fused ? "fused" : "plain";
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

// The training forwards run packed (TokenLayout: no FLOPs on padding) for the scope's lifetime.
class PackedForwards {
 public:
  PackedForwards(EncoderModel& model, bool on) : model_(model), prev_(model.pack_padding()) { model.set_pack_padding(on); }
  ~PackedForwards() { model_.set_pack_padding(prev_); }

 private:
  EncoderModel& model_;
  bool prev_;
};

// One step's batches on the session's device, with each row's extent (one past its last real token) read on the
// host before the copy, for trimming padding without a device sync.
struct TrainSession::DeviceBatch {
  torch::Tensor tc_a_ids, tc_a_mask, tc_b_ids, tc_b_mask, ner_ids, ner_mask, ner_labels;
  std::vector<int64_t> tc_a_extents, tc_b_extents, ner_extents;  // empty: no trimming
  bool ner_labels_on_padding = false;  // a label where the mask is 0: that position must be computed (no packing)
  // This rank's share of the global batch's labelled NER tokens (1 on one process): the NER loss is a mean over
  // the global batch.
  double ner_token_share = 1;
};

namespace {

// A step's input is checked here, once, for every caller (Java through api.cpp's StepBatch, C++ with tensors): the
// shapes, lengths within the model's positions, and, on host tensors, every id inside the vocabulary (on the
// device that would cost a sync; the embedding's own index check still stops a bad id there). NER labels are
// checked below, with their host copy.
void check_inputs(const StepInputs& in, bool has_tc, bool has_ner, int64_t vocab_size, int64_t max_length) {
  auto check = [&](const torch::Tensor& ids, const torch::Tensor& mask, const char* what) {
    if (!ids.defined() || !mask.defined() || ids.dim() != 2 || ids.sizes() != mask.sizes())
      fail(what, ": ids and mask must be two [rows, length] tensors of one shape");
    if (ids.size(1) < 1 || ids.size(1) > max_length)
      fail(what, ": length ", ids.size(1), " outside [1, ", max_length, "] (the model's positions)");
    if (ids.is_cpu() && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= vocab_size))
      fail(what, ": token id outside the vocabulary [0, ", vocab_size, ")");
  };
  if (has_tc) {
    check(in.tc_a_ids, in.tc_a_mask, "TC anchors");
    check(in.tc_b_ids, in.tc_b_mask, "TC positives");
    if (in.tc_b_ids.size(0) != in.tc_a_ids.size(0))
      fail("TC batch: ", in.tc_a_ids.size(0), " anchors but ", in.tc_b_ids.size(0), " positives");
  }
  if (has_ner) {
    check(in.ner_ids, in.ner_mask, "NER batch");
    if (!in.ner_labels.defined() || in.ner_labels.sizes() != in.ner_ids.sizes())
      fail("NER labels must have the NER batch's shape ", in.ner_ids.sizes());
  }
}

}  // namespace

TrainSession::DeviceBatch TrainSession::prepare(const StepInputs& in) const {
  const bool has_tc = in.tc_a_ids.defined() && in.tc_a_ids.numel() > 0;
  const bool has_ner = in.ner_ids.defined() && in.ner_ids.numel() > 0;
  check_inputs(in, has_tc, has_ner, loaded_.model->config().vocab_size, loaded_.model->max_sequence_length());
  DeviceBatch b;
  // Length buckets: with trimming on, a batch is first widened to a multiple of pad_multiple (within the position
  // table), so that with the trimmed chunk widths (also multiples) the kernels see few distinct lengths.
  auto widen = [this](const torch::Tensor& t, int64_t value) {
    if (!config_.trim_padding || config_.pad_multiple <= 1) return t;
    const int64_t seq = t.size(1), m = config_.pad_multiple;
    const int64_t target = std::max(seq, std::min((seq + m - 1) / m * m, loaded_.model->max_sequence_length()));
    return target == seq ? t : torch::constant_pad_nd(t, {0, target - seq}, value);
  };
  const int64_t pad_id = loaded_.model->config().pad_token_id;
  auto move = [this](const torch::Tensor& t) {
    if (t.device() == device_) return t;
    // From pinned memory the copy is asynchronous; the caching host allocator keeps the pinned block until the
    // copy has run.
    if (device_.is_cuda() && t.is_cpu()) return t.pin_memory().to(device_, /*non_blocking=*/true);
    return t.to(device_);
  };
  if (has_tc) {
    if (group_) {
      // The gathered positives need the same rows on every rank (a mismatch would otherwise hang the gather).
      const int64_t rows = in.tc_a_ids.size(0);
      auto range = torch::tensor({static_cast<double>(rows), -static_cast<double>(rows)},
                                 torch::TensorOptions().dtype(torch::kFloat64).device(device_));
      group_->all_reduce_max(range);
      const auto host = range.cpu();
      const auto most = static_cast<int64_t>(host[0].item<double>()), least = static_cast<int64_t>(-host[1].item<double>());
      if (most != rows || least != rows)
        fail(group_->who(), ": TC batch of ", rows, " pairs, but ranks have ", least, " to ", most,
             " (the global batch size must divide by the number of ranks)");
    }
    if (config_.trim_padding) {
      b.tc_a_extents = row_extents(in.tc_a_mask);
      b.tc_b_extents = row_extents(in.tc_b_mask);
    }
    b.tc_a_ids = move(widen(in.tc_a_ids, pad_id));
    b.tc_a_mask = move(widen(in.tc_a_mask, 0));
    b.tc_b_ids = move(widen(in.tc_b_ids, pad_id));
    b.tc_b_mask = move(widen(in.tc_b_mask, 0));
  }
  if (has_ner) {
    // Checked on the host: a bad label would otherwise be a CUDA device-side assert, and checking on the device
    // costs a sync (labels already on the device pay it here).
    const auto labels = in.ner_labels.to(torch::kCPU);
    const auto max_label = labels.max().item<int64_t>(), min_label = labels.min().item<int64_t>();
    if (group_) {
      const auto local = labels.ne(-100).sum().to(torch::kFloat64);
      auto total = local.clone().to(device_);
      group_->all_reduce_sum({total});
      const double all = total.item<double>();
      b.ner_token_share = all > 0 ? local.item<double>() / all : 0.0;
    }
    if (max_label >= config_.ner_classes || (min_label < 0 && min_label != -100))
      fail("NER labels must be -100 or in [0, ", config_.ner_classes, "); got ", min_label, "..", max_label);
    // A label on a padding position still counts, so it keeps its column.
    if (config_.trim_padding) {
      const auto mask = in.ner_mask.to(torch::kCPU).ne(0);
      b.ner_extents = row_extents(mask.logical_or(labels.ne(-100)));
      b.ner_labels_on_padding = mask.logical_not().logical_and(labels.ne(-100)).any().item<bool>();
    }
    b.ner_ids = move(widen(in.ner_ids, pad_id));
    b.ner_mask = move(widen(in.ner_mask, 0));
    b.ner_labels = move(widen(in.ner_labels, -100));
  }
  return b;
}

torch::Tensor TrainSession::embed_pooled(const torch::Tensor& ids, const torch::Tensor& mask) {
  auto hidden = loaded_.model->forward(ids, mask, {}, false).last_hidden_state;
  return mean_pool(hidden.to(torch::kFloat32), mask);
}

// InfoNCE of this rank's anchors against the positives of every rank (one process: its own); the loss is the mean
// over this rank's anchors, so the mean over ranks (gradient averaging) is the global batch's loss.
torch::Tensor TrainSession::tc_loss(const torch::Tensor& anchors, const torch::Tensor& positives) const {
  if (!group_) return info_nce_loss(anchors, positives, config_.temperature);
  return info_nce_loss_sharded(anchors, group_->all_gather_rows(positives), group_->rank() * anchors.size(0),
                               config_.temperature);
}

torch::Tensor TrainSession::run_tc(const DeviceBatch& b, double scale) {
  ActiveAdapter scope(config_.uses_loras() ? "tc" : "");
  AutocastGuard autocast(config_.precision == "bf16", device_);
  PackedForwards packed(*loaded_.model, config_.trim_padding);
  const int64_t batch = b.tc_a_ids.size(0);
  TokenEmbedFn embed = [this](const torch::Tensor& ids, const torch::Tensor& mask) { return embed_pooled(ids, mask); };
  auto side = [&](const torch::Tensor& ids, const torch::Tensor& mask, const std::vector<int64_t>& extents) -> ChunkEmbedFn {
    if (!extents.empty()) return trimmed_chunks(ids, mask, extents, config_.pad_multiple, embed);
    return [ids, mask, embed](int64_t begin, int64_t end) {
      return embed(ids.slice(0, begin, end), mask.slice(0, begin, end));
    };
  };
  auto anchors = side(b.tc_a_ids, b.tc_a_mask, b.tc_a_extents);
  auto positives = side(b.tc_b_ids, b.tc_b_mask, b.tc_b_extents);
  if (config_.chunk_size > 0 && config_.chunk_size < batch) {
    // GradCache: the batch's activations never live at once; equal to the plain loss in value and gradients.
    auto loss = grad_cache_backward({anchors, positives}, batch, config_.chunk_size,
                                    [this, scale](const std::vector<torch::Tensor>& e) {
                                      return tc_loss(e[0], e[1]) * scale;
                                    });
    return loss / scale;
  }
  torch::Tensor loss;
  if (config_.trim_padding) {
    // Packed, anchors and positives run as one forward: one set of GEMMs over both sides' real tokens (larger,
    // so faster, and half the weight-gradient calls); the narrower side's padding up to the wider costs nothing.
    const int64_t wa = chunk_width(b.tc_a_extents, 0, batch, config_.pad_multiple, b.tc_a_ids.size(1));
    const int64_t wb = chunk_width(b.tc_b_extents, 0, batch, config_.pad_multiple, b.tc_b_ids.size(1));
    const int64_t w = std::max(wa, wb), pad_id = loaded_.model->config().pad_token_id;
    auto fit = [w](const torch::Tensor& t, int64_t own, int64_t value) {
      auto cut = t.slice(1, 0, own);
      return own == w ? cut : torch::constant_pad_nd(cut, {0, w - own}, value);
    };
    auto pooled = embed_pooled(torch::cat({fit(b.tc_a_ids, wa, pad_id), fit(b.tc_b_ids, wb, pad_id)}),
                               torch::cat({fit(b.tc_a_mask, wa, 0), fit(b.tc_b_mask, wb, 0)}));
    loss = tc_loss(pooled.slice(0, 0, batch), pooled.slice(0, batch));
  } else {
    loss = tc_loss(anchors(0, batch), positives(0, batch));
  }
  (loss * scale).backward();
  return loss.detach();
}

torch::Tensor TrainSession::run_ner(const DeviceBatch& b, double scale) {
  ActiveAdapter scope(config_.uses_loras() ? "ner" : "");
  AutocastGuard autocast(config_.precision == "bf16", device_);
  PackedForwards packed(*loaded_.model, config_.trim_padding && !b.ner_labels_on_padding);
  auto ids = b.ner_ids, mask = b.ner_mask, labels = b.ner_labels;
  if (!b.ner_extents.empty()) {
    const int64_t w = chunk_width(b.ner_extents, 0, ids.size(0), config_.pad_multiple, ids.size(1));
    ids = ids.slice(1, 0, w);
    mask = mask.slice(1, 0, w);
    labels = labels.slice(1, 0, w);
  }
  auto hidden = loaded_.model->forward(ids, mask, {}, false).last_hidden_state;
  auto logits = ner_head_->forward(hidden);
  // Labels were checked on the host (prepare): no sync here.
  auto loss = token_classification_loss(logits.to(torch::kFloat32), labels, -100, /*check_labels=*/false);
  if (group_) {
    // The local mean weighted by this rank's share of the labelled tokens: the sum over ranks is the global mean;
    // times W, as gradients are averaged over ranks.
    loss = loss * b.ner_token_share;
    auto scaled = loss * (scale * group_->size());
    if (overlap_) overlap_->arm(scaled);
    scaled.backward();
    return loss.detach();
  }
  (loss * scale).backward();
  return loss.detach();
}

// The widths a joint forward cuts each side to, and whether any row then has padding.
TrainSession::JointWidths TrainSession::joint_widths(const DeviceBatch& b) const {
  JointWidths j;
  j.a = chunk_width(b.tc_a_extents, 0, b.tc_a_ids.size(0), config_.pad_multiple, b.tc_a_ids.size(1));
  j.b = chunk_width(b.tc_b_extents, 0, b.tc_b_ids.size(0), config_.pad_multiple, b.tc_b_ids.size(1));
  j.ner = chunk_width(b.ner_extents, 0, b.ner_ids.size(0), config_.pad_multiple, b.ner_ids.size(1));
  j.all = std::max({j.a, j.b, j.ner});
  for (const auto* extents : {&b.tc_a_extents, &b.tc_b_extents, &b.ner_extents})
    for (int64_t e : *extents) j.padded = j.padded || e < j.all;
  return j;
}

// Both tasks' batches through one forward: anchors, positives and NER rows side by side, each cut to its longest
// row and padded to the widest (packed, padding costs nothing), the tc LoRA routed to the TC rows and the ner LoRA
// to the NER rows. One backward of the weighted sum then gives every parameter what the two passes give: rows never
// meet (attention stays within a row), so each adapter still learns from its own task only and the shared weights
// from both — while the base GEMMs see every row at once and each shared weight gets one gradient, not two.
std::pair<torch::Tensor, torch::Tensor> TrainSession::run_joint(const DeviceBatch& b, const JointWidths& widths,
                                                                double tc_scale, double ner_scale) {
  AutocastGuard autocast(config_.precision == "bf16", device_);
  PackedForwards packed(*loaded_.model, true);
  const int64_t pairs = b.tc_a_ids.size(0), ner_rows = b.ner_ids.size(0);
  const int64_t wa = widths.a, wb = widths.b, wn = widths.ner, w = widths.all;
  const int64_t pad_id = loaded_.model->config().pad_token_id;
  auto fit = [w](const torch::Tensor& t, int64_t own, int64_t value) {
    auto cut = t.slice(1, 0, own);
    return own == w ? cut : torch::constant_pad_nd(cut, {0, w - own}, value);
  };
  const auto ids = torch::cat({fit(b.tc_a_ids, wa, pad_id), fit(b.tc_b_ids, wb, pad_id), fit(b.ner_ids, wn, pad_id)});
  const auto mask = torch::cat({fit(b.tc_a_mask, wa, 0), fit(b.tc_b_mask, wb, 0), fit(b.ner_mask, wn, 0)});
  const bool loras = config_.uses_loras();
  AdapterRouting routing({{loras ? "tc" : "", 2 * pairs}, {loras ? "ner" : "", ner_rows}});
  const auto hidden = loaded_.model->forward(ids, mask, {}, false).last_hidden_state;
  const auto pooled = mean_pool(hidden.narrow(0, 0, 2 * pairs).to(torch::kFloat32), mask.narrow(0, 0, 2 * pairs));
  auto tc = tc_loss(pooled.slice(0, 0, pairs), pooled.slice(0, pairs));
  const auto logits = ner_head_->forward(hidden.narrow(0, 2 * pairs, ner_rows));
  auto ner = token_classification_loss(logits.to(torch::kFloat32), fit(b.ner_labels, wn, -100), -100,
                                       /*check_labels=*/false);
  (tc * tc_scale + ner * ner_scale).backward();
  return {tc.detach(), ner.detach()};
}

StepMetrics TrainSession::step(const StepInputs& in, bool measure, bool read) {
  StepMetrics m;
  read = read || measure;
  const bool has_tc = in.tc_a_ids.defined() && in.tc_a_ids.numel() > 0;
  const bool has_ner = in.ner_ids.defined() && in.ner_ids.numel() > 0;
  if (has_tc && !config_.uses_tc()) fail("strategy ", config_.strategy, " takes no TC batch");
  if (has_ner && !config_.uses_ner()) fail("strategy ", config_.strategy, " takes no NER batch");
  if (!has_tc && !has_ner) fail("step without any batch");
  const auto batch = prepare(in);
  // Dropout masks depend on (seed, step) only, so a resumed run replays the same randomness.
  // Each rank draws its own masks (its rows differ); rank 0 draws those of a one-process run.
  torch::manual_seed(config_.seed * 1000003ULL + static_cast<uint64_t>(micro_step_) +
                     (group_ ? 0x51ED27ULL * static_cast<uint64_t>(group_->rank()) : 0ULL));
  const double acc = static_cast<double>(config_.accumulation);
  // The tasks' gradients on the shared parameters kept apart, for PCGrad or their cosine.
  const bool separate = has_tc && has_ner && !shared_.empty() && (config_.pcgrad || measure);

  const bool stepping = (micro_step_ + 1) % config_.accumulation == 0;
  // Gradients averaged over ranks as the step's last backward (the NER pass's: it runs no collective of its own)
  // completes them; with PCGrad or the cosine the tasks' gradients are reduced apart instead, after both passes.
  std::unique_ptr<OverlappedGradientAverage> overlap;
  if (group_ && stepping && !separate && group_->config().overlap)
    overlap = std::make_unique<OverlappedGradientAverage>(*group_, trainable_);

  std::vector<torch::Tensor> accumulated;
  if (separate) accumulated = take_grads(shared_);  // earlier micro-batches' shared gradients, set aside
  torch::Tensor tc_loss, ner_loss;
  // One forward for both tasks (run_joint) where nothing needs them apart: one process (a rank's NER backward
  // carries the overlapped all-reduce), the plain InfoNCE (GradCache runs its own chunked passes), and rows with
  // padding, which run packed. Measured on 2 CPU cores (mtpf_bench_train_step --joint both): real batches of
  // 16 + 16 and 32 + 32 rows 4 % and 9 % faster in one forward; unpadded rows of 40, 64 and 128 tokens 2 to 9 %
  // slower (the larger products and activations of one pass cost more than the second pass saves).
  const bool joinable = has_tc && has_ner && !separate && !group_ && config_.joint_forward && config_.trim_padding &&
                        !batch.ner_labels_on_padding &&
                        !(config_.chunk_size > 0 && config_.chunk_size < batch.tc_a_ids.size(0));
  const JointWidths widths = joinable ? joint_widths(batch) : JointWidths{};
  const bool joint = joinable && widths.padded;
  if (joint) std::tie(tc_loss, ner_loss) = run_joint(batch, widths, config_.tc_weight / acc, config_.ner_weight / acc);
  if (has_tc && !joint) tc_loss = run_tc(batch, config_.tc_weight / acc);
  std::vector<torch::Tensor> g_tc;
  if (separate) g_tc = take_grads(shared_);
  if (has_ner && !joint) {
    overlap_ = overlap.get();
    struct Reset {
      OverlappedGradientAverage*& p;
      ~Reset() { p = nullptr; }
    } reset{overlap_};
    ner_loss = run_ner(batch, config_.ner_weight / acc);
  }
  if (separate) m.grad_cosine = combine_task_gradients(g_tc, take_grads(shared_), accumulated);
  note_nonfinite({tc_loss, ner_loss});
  if (overlap) overlap->finish();
  else if (group_ && stepping) average_over_ranks(separate);
  torch::Tensor grad_norm;
  if (stepping && config_.clip_norm > 0) grad_norm = clip_gradients();
  if (read) read_metrics(tc_loss, ner_loss, grad_norm, m);
  ++micro_step_;
  m.lr = lr_at(config_, step_);
  if (stepping) {
    optimizer_update(m.lr);
    clear_grads(trainable_);
    ++step_;
    m.optimizer_stepped = true;
  }
  return m;
}

double TrainSession::combine_task_gradients(std::vector<torch::Tensor> g_tc, std::vector<torch::Tensor> g_ner,
                                            const std::vector<torch::Tensor>& accumulated) {
  if (group_) {
    // PCGrad and the cosine see each task's global gradient.
    for (auto* g : {&g_tc, &g_ner}) {
      group_->all_reduce_sum(*g);
      torch::NoGradGuard no_grad;
      for (auto& t : *g)
        if (t.defined()) t.div_(group_->size());
    }
  }
  const double cosine = gradient_cosine(g_tc, g_ner);
  if (config_.pcgrad) {
    std::mt19937_64 rng(config_.seed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(micro_step_ + 1)));
    add_grads(shared_, pcgrad_combine({g_tc, g_ner}, rng));
  } else {
    add_grads(shared_, g_tc);
    add_grads(shared_, g_ner);
  }
  add_grads(shared_, accumulated);
  return cosine;
}

void TrainSession::note_nonfinite(const std::vector<torch::Tensor>& losses) {
  // On the device (no sync): the step that reads, or check_finite, reports it.
  torch::NoGradGuard no_grad;
  torch::Tensor bad;
  for (const auto& loss : losses) {
    if (!loss.defined()) continue;
    auto nonfinite = torch::isfinite(loss).logical_not();
    bad = bad.defined() ? bad.logical_or(nonfinite) : nonfinite;
  }
  first_nonfinite_.masked_fill_(bad.logical_and(first_nonfinite_.lt(0)), step_ + 1);
}

void TrainSession::average_over_ranks(bool separate) {
  // The accumulated gradients, averaged over ranks before clipping and AdamW (the shared ones already were, task
  // by task, when PCGrad or the cosine needed them apart).
  if (!separate) {
    group_->average_gradients(trainable_);
    return;
  }
  std::vector<torch::Tensor> rest;
  for (const auto& p : trainable_)
    if (std::none_of(shared_.begin(), shared_.end(), [&](const torch::Tensor& s) { return s.is_same(p); }))
      rest.push_back(p);
  group_->average_gradients(rest);
}

void TrainSession::read_metrics(const torch::Tensor& tc_loss, const torch::Tensor& ner_loss,
                                const torch::Tensor& grad_norm, StepMetrics& m) {
  // Every scalar of the step in one copy: the only device sync of a step that reads.
  auto as_double = [this](const torch::Tensor& t) {
    return t.defined() ? t.to(torch::kFloat64).reshape({})
                       : torch::full({}, std::nan(""), torch::TensorOptions().dtype(torch::kFloat64).device(device_));
  };
  auto scalars = torch::stack({as_double(tc_loss), as_double(ner_loss), as_double(grad_norm),
                               as_double(first_nonfinite_)});
  if (group_) {
    // The global batch's losses: the TC mean over ranks, the NER shares summed; the first bad step of any rank.
    auto losses = scalars.slice(0, 0, 2).clone();
    losses[0].div_(group_->size());
    group_->all_reduce_sum({losses});
    auto bad = scalars.slice(0, 3, 4).clone();
    group_->all_reduce_max(bad);
    scalars = torch::cat({losses, scalars.slice(0, 2, 3), bad});
  }
  auto host = scalars.to(torch::kCPU);
  const double* v = host.data_ptr<double>();
  m.tc_loss = v[0];
  m.ner_loss = v[1];
  m.grad_norm = v[2];
  m.read = true;
  const auto first_bad = static_cast<int64_t>(v[3]);
  if (first_bad >= 0) {
    clear_grads(trainable_);
    if (first_bad == step_ + 1)
      fail("non-finite loss at step ", first_bad, " (tc ", m.tc_loss, ", ner ", m.ner_loss,
           "); the run stops, the last checkpoint is kept");
    fail("non-finite loss at step ", first_bad, " (noticed at step ", step_ + 1,
         "); the run stops, the last checkpoint is kept");
  }
}

void TrainSession::check_finite() const {
  const auto first_bad = first_nonfinite_.item<int64_t>();
  if (first_bad >= 0)
    fail("non-finite loss at step ", first_bad, " (noticed after step ", step_,
         "); the run stops, the last checkpoint is kept");
}

// torch::nn::utils::clip_grad_norm_ returns the norm as a double, i.e. waits for the device on every step; this is
// the same computation with the norm left on the device.
torch::Tensor TrainSession::clip_gradients() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : trainable_)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return torch::zeros({}, torch::TensorOptions().device(device_));
  auto norms = at::_foreach_norm(grads, 2);
  auto total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
  auto coef = (config_.clip_norm / (total + 1e-6)).clamp_max(1.0);
#if MTPF_TORCH_AT_LEAST(2, 1)
  at::_foreach_mul_(grads, coef);  // unverified until a libtorch 2.x run (docs/gpu-notes.md)
#else
  for (auto& g : grads) g.mul_(coef);
#endif
  return total;
}

void TrainSession::optimizer_update(double lr) {
  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  if (optimizer_impl_ == "fused") fused_adamw_step(*optimizer_);
  else optimizer_->step();
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
  check_finite();  // weights after a non-finite loss never become a checkpoint
  // Written into "<dir>.tmp", renamed when complete: a failed write (a full disk) leaves no half checkpoint, and
  // the caller's pointer to the last good one ("latest") is only moved after this returns.
  const fs::path final_dir(dir), tmp = fs::path(dir + ".tmp");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& p : loaded_.model->named_parameters()) tensors["model." + p.key()] = p.value().detach().cpu();
    if (ner_head_)
      for (const auto& p : ner_head_->named_parameters()) tensors["ner_head." + p.key()] = p.value().detach().cpu();
    safetensors_write((tmp / "weights.safetensors").string(), tensors);
    torch::serialize::OutputArchive archive;
    optimizer_->save(archive);
    write_file_atomic((tmp / "optimizer.pt").string(), [&](std::ostream& out) { archive.save_to(out); });
    nlohmann::json state = {{"format", "mtpf-checkpoint-1"}, {"optimizer_steps", step_}, {"micro_steps", micro_step_},
                            {"config", config_.to_json()}, {"model_dir", loaded_.source_dir}, {"extra", extra}};
    write_text_atomic((tmp / "state.json").string(), state.dump(2) + "\n");
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
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
  const nlohmann::json& saved_json = state.at("config");
  TrainConfig saved;
  if (saved_json.contains("lora_r")) {
    // A checkpoint written before the nested schema: the four fields compared below, from the flat one.
    saved.strategy = saved_json.at("strategy").get<std::string>();
    saved.last_layers = saved_json.at("last_layers").get<int>();
    saved.lora.r = saved_json.at("lora_r").get<int64_t>();
    saved.ner_classes = saved_json.at("ner_classes").get<int64_t>();
  } else {
    saved = TrainConfig::from_json(saved_json);
  }
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
  first_nonfinite_.fill_(-1);  // checkpoints only hold finite runs
  return state.value("extra", nlohmann::json::object());
}

void TrainSession::export_backbone(const std::string& dir) const {
  check_finite();
  model_folder_save(loaded_, dir);
}

void TrainSession::export_adapter(const std::string& name, const std::string& dir) const {
  check_finite();
  PeftSaveOptions options;
  options.base_model_name_or_path = loaded_.source_dir;
  options.task_type = "FEATURE_EXTRACTION";
  peft_save(*loaded_.model, name, dir, options);
  if (name == "ner" && ner_head_) peft_save_head(dir, "ner", ner_head_->weight.detach().cpu(), ner_head_->bias.detach().cpu(), {});
}

void TrainSession::export_head(const std::string& dir) const {
  if (!ner_head_) fail("strategy ", config_.strategy, " has no NER head");
  check_finite();
  fs::create_directories(dir);
  peft_save_head(dir, "ner", ner_head_->weight.detach().cpu(), ner_head_->bias.detach().cpu(), {});
}

}  // namespace mtpf
