// TrainSession: one pre-finetuning run in native memory. Java calls step() once per (micro-)batch: both forwards,
// both losses, the backward passes, PCGrad, gradient clipping and the AdamW update all happen here.
//
// Downstream NER adaptation (strategy ner-adapt) runs here too: LoRA on every layer, backbone frozen, a head over
// the dataset's BIO labels, trained in two stages (set_stage).
// Strategies (paper §4-6): pf-tc, pf-ner, mtpf (both losses on one backbone), mtpf-tpl (two task-primary LoRA groups
// "tc" and "ner" on the last N layers: the TC batch runs with the tc LoRA active, the NER batch with the ner LoRA,
// so each LoRA is updated by its own task's loss only, the backbone by both), pf-l (backbone frozen, LoRAs only);
// PCGrad on mtpf / mtpf-tpl projects conflicting task gradients on the shared (backbone) parameters.
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "distributed.h"
#include "lora.h"
#include "model_folder.h"

namespace mtpf {

struct TrainConfig {
  std::string strategy = "mtpf-tpl";
  bool pcgrad = false;
  double tc_weight = 1.0, ner_weight = 1.0;
  double temperature = 0.05;
  int64_t chunk_size = 64;  // GradCache chunk for the TC batch; 0 = plain loss
  // No FLOPs on padding: each batch (and each GradCache chunk) is cut to its longest real row, rounded up to
  // pad_multiple columns (a batch narrower than that multiple is padded up to it: the kernels, and CUDA graphs, see
  // few distinct lengths), and the layers run packed, on the real tokens only (TokenLayout; attention alone sees
  // the trimmed [batch, seq] shape). Values and gradients equal the padded step's up to float rounding.
  bool trim_padding = true;
  int64_t pad_multiple = 8;
  // Both tasks' batches of a step through one forward and one backward, adapters routed by row, where nothing needs
  // the tasks apart (no PCGrad or measured cosine, one process, no GradCache chunks) and the rows have padding
  // (step() says why). Gradients equal the two passes' up to float rounding; dropout masks are drawn differently.
  // An engine choice, not in the run config: the benchmark turns it off to compare.
  bool joint_forward = true;
  // AdamW implementation: "plain" (torch::optim::AdamW, one kernel per tensor and op), "fused" (at::_fused_adamw_,
  // libtorch >= 2.1 on CUDA, >= 2.4 on CPU) or "auto" (fused where available, else plain). Both keep their
  // state in the same torch::optim::AdamW, so checkpoints move between them.
  std::string optimizer_impl = "auto";
  int64_t ner_classes = 200;
  LoraConfig lora{32, 64.0, 0.0, false};
  int last_layers = 2;  // 0 = all layers
  std::vector<std::string> lora_targets{"query", "key", "mlp"};
  double lr = 5e-5, weight_decay = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, clip_norm = 1.0;
  int64_t warmup_steps = 0, total_steps = 1000;
  std::string schedule = "linear";  // constant | linear | cosine
  int64_t accumulation = 1;
  uint64_t seed = 42;
  std::string device = "cpu";
  // fp32, bf16 (autocast) or auto (bf16 where the device has bf16 matrix units); resolved when a session opens.
  std::string precision = "fp32";
  // Dropout of the encoder in training: -1 = the model's own (config.json), else this probability for its hidden
  // and attention dropout alike (0 trains without, as a model left in eval mode does).
  double dropout = -1;
  // ner-adapt (downstream NER by LoRA, paper App. A): a PEFT folder seeding the "ner" LoRA, and the stage:
  // 1 = head only (encoder and LoRA frozen), 2 = LoRA + head.
  std::string adapter_init;
  bool load_head = false;  // also load head_ner.safetensors from adapter_init (tagging with an adapted model)
  int stage = 1;

  bool uses_tc() const;
  bool uses_ner() const;
  bool uses_loras() const;
  bool frozen_backbone() const;
  static TrainConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// Learning rate at optimiser step `step`: linear warm-up to lr, then constant, linear or cosine decay to 0.
double lr_at(const TrainConfig& c, int64_t step);

struct StepInputs {
  torch::Tensor tc_a_ids, tc_a_mask, tc_b_ids, tc_b_mask;  // [B, Ta], [B, Tb]; undefined when no TC batch
  torch::Tensor ner_ids, ner_mask, ner_labels;              // [N, T]; labels -100 where ignored
};

// Losses and the gradient norm are read to the host only on steps that ask for it (read): other steps leave them
// NaN and never wait for the device.
struct StepMetrics {
  double tc_loss = std::nan(""), ner_loss = std::nan("");
  double lr = 0, grad_cosine = std::nan(""), grad_norm = std::nan("");
  bool optimizer_stepped = false;
  bool read = false;  // losses and grad_norm hold this step's values
};

class TrainSession {
 public:
  // group: this rank's process group for data-parallel training (distributed.h), or null for one process. Not
  // owned; it must outlive the session. With a group, every batch given to step() is this rank's share of the
  // global batch (the same number of rows on every rank), and every rank calls step() with the same measure and
  // read flags: losses, metrics and gradients are those of the global batch.
  TrainSession(const std::string& model_dir, const TrainConfig& config, ProcessGroup* group = nullptr);

  // One micro-batch; the optimiser steps every `accumulation` calls. Inputs may be on the host (the usual case:
  // checked there, then copied through pinned memory without a sync) or already on the session's device.
  // read: copy this step's losses and gradient norm to the host (one device sync). Steps that do not read keep a
  // non-finite loss in a device-side flag; the next step that reads, save_checkpoint and the exports fail naming
  // the first such step (check_finite), so a NaN still stops the run and never reaches a checkpoint.
  // measure: also compute the two tasks' gradient cosine on the shared parameters (a copy of the gradients;
  // implies read).
  StepMetrics step(const StepInputs& in, bool measure, bool read = true);
  // Fails naming the first step whose loss was non-finite, if any (one device sync).
  void check_finite() const;
  // The AdamW implementation in use: "plain" or "fused".
  const std::string& optimizer_impl() const { return optimizer_impl_; }

  // ner-adapt: switch stage with a fresh optimiser and schedule.
  void set_stage(int stage, double lr, int64_t total_steps, int64_t warmup_steps);
  // Token logits [batch, seq, classes] of the NER head (eval mode, no grad, the ner adapter active when there is one).
  torch::Tensor ner_logits(const torch::Tensor& ids, const torch::Tensor& mask);

  int64_t optimizer_steps() const { return step_; }
  int64_t micro_steps() const { return micro_step_; }
  const TrainConfig& config() const { return config_; }
  EncoderModel& model() { return *loaded_.model; }
  torch::nn::Linear& ner_head() { return ner_head_; }

  // Atomic: written to DIR.tmp, then renamed. Holds every parameter (backbone, LoRAs, head), the optimiser
  // state, the step counters and `extra` (the caller's own state, e.g. the data sampler's).
  void save_checkpoint(const std::string& dir, const nlohmann::json& extra) const;
  // Restores a checkpoint of this same configuration; returns its `extra`.
  nlohmann::json load_checkpoint(const std::string& dir);

  void export_backbone(const std::string& dir) const;                        // HF folder, no adapters
  void export_adapter(const std::string& name, const std::string& dir) const;  // PEFT folder (+ NER head beside)
  void export_head(const std::string& dir) const;  // the NER head alone (strategies without adapters)

  // Forward in eval mode without grad, with `adapter` active ("" = base): for probes and evaluation.
  torch::Tensor embed_tokens(const torch::Tensor& ids, const torch::Tensor& mask, const std::string& adapter);

 private:
  struct DeviceBatch;
  DeviceBatch prepare(const StepInputs& in) const;
  torch::Tensor embed_pooled(const torch::Tensor& ids, const torch::Tensor& mask);
  torch::Tensor run_tc(const DeviceBatch& b, double scale);
  torch::Tensor tc_loss(const torch::Tensor& anchors, const torch::Tensor& positives) const;
  torch::Tensor run_ner(const DeviceBatch& b, double scale);
  struct JointWidths {
    int64_t a = 0, b = 0, ner = 0, all = 0;  // each side's trimmed width, and the widest
    bool padded = false;                     // some row is shorter than the widest: the joint forward packs
  };
  JointWidths joint_widths(const DeviceBatch& b) const;
  std::pair<torch::Tensor, torch::Tensor> run_joint(const DeviceBatch& b, const JointWidths& widths, double tc_scale,
                                                    double ner_scale);
  torch::Tensor clip_gradients();
  void optimizer_update(double lr);
  // The parts of step(): the two tasks' shared gradients (apart) combined — PCGrad or their sum — onto the earlier
  // micro-batches' (returns their cosine); a non-finite loss noted; the gradients averaged over ranks; the step's
  // scalars read to the host (and a non-finite loss reported).
  double combine_task_gradients(std::vector<torch::Tensor> g_tc, std::vector<torch::Tensor> g_ner,
                                const std::vector<torch::Tensor>& accumulated);
  void note_nonfinite(const std::vector<torch::Tensor>& losses);
  void average_over_ranks(bool separate);
  void read_metrics(const torch::Tensor& tc_loss, const torch::Tensor& ner_loss, const torch::Tensor& grad_norm,
                    StepMetrics& m);
  void build_optimizer();

  TrainConfig config_;
  ProcessGroup* group_ = nullptr;
  // Set during the step's NER pass when its backward is the step's last (see step()): that backward then starts
  // the all-reduce of each gradient bucket as soon as it is complete.
  OverlappedGradientAverage* overlap_ = nullptr;
  LoadedModel loaded_;
  torch::Device device_;
  torch::nn::Linear ner_head_{nullptr};
  std::vector<torch::Tensor> shared_;      // backbone parameters that train (PCGrad's shared set)
  std::vector<torch::Tensor> trainable_;   // everything the optimiser updates
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::string optimizer_impl_ = "plain";
  // Optimiser step (1-based) of the first non-finite loss, -1 while none; on the device, read only when asked.
  torch::Tensor first_nonfinite_;
  int64_t step_ = 0, micro_step_ = 0;
};

}  // namespace mtpf
