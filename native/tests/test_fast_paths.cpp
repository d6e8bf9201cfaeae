// The fast paths of the training step against their references (issue 6, "Correctness first").
//
// FastPathCpu.*: what the CUDA levers change, checked on the CPU against the simple path: GradCache chunks cut to
// their real length, metrics read lazily with a non-finite loss still stopping the run, fused AdamW on the plain
// AdamW's own state. They run everywhere.
// CudaPath.*: the CUDA step (bf16 autocast and fp32) against the fp32 CPU step of the same weights and batches:
// losses and every parameter gradient, a 20-step loss curve, fused vs plain AdamW, lazy NaN detection, inference.
// Without a CUDA GPU they skip, saying so. scripts/gpu/run.sh runs them on the GPU host, beside the benchmark.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "errors.h"
#include "fused_adamw.h"
#include "grad_cache.h"
#include "losses.h"
#include "lora.h"
#include "model_folder.h"
#include "pooling.h"
#include "test_util.h"
#include "torch_compat.h"
#include "train_session.h"

using namespace mtpf;

namespace {

// A small BERT without dropout, so CPU and CUDA runs (whose RNGs differ) compute the same function.
std::filesystem::path write_model(const std::string& name) {
  auto config = test::tiny_config("bert");
  config["hidden_size"] = 64;
  config["num_attention_heads"] = 4;
  config["intermediate_size"] = 128;
  config["hidden_dropout_prob"] = 0.0;
  config["attention_probs_dropout_prob"] = 0.0;
  torch::manual_seed(11);
  auto dir = test::temp_dir(name);
  LoadedModel m;
  m.model = encoder_model_create(config_from_json(config, "tiny"));
  model_folder_save(m, dir.string());
  return dir;
}

// Rows of different lengths, right-padded and sorted by length, as TrainingData builds them.
torch::Tensor padded_mask(int64_t rows, int64_t seq, uint64_t seed) {
  torch::manual_seed(seed);
  auto lengths = std::get<0>(torch::randint(2, seq + 1, {rows}, torch::kLong).sort());
  return torch::arange(seq, torch::kLong).unsqueeze(0).lt(lengths.unsqueeze(1)).to(torch::kLong);
}

StepInputs batch(uint64_t seed, int64_t pairs, int64_t ner, int64_t seq, int64_t classes) {
  StepInputs in;
  if (pairs > 0) {
    in.tc_a_mask = padded_mask(pairs, seq, seed);
    in.tc_b_mask = padded_mask(pairs, seq, seed + 1);
    torch::manual_seed(seed);
    in.tc_a_ids = torch::randint(5, 100, {pairs, seq}, torch::kLong) * in.tc_a_mask;
    in.tc_b_ids = torch::randint(5, 100, {pairs, seq}, torch::kLong) * in.tc_b_mask;
  }
  if (ner > 0) {
    in.ner_mask = padded_mask(ner, seq, seed + 2);
    torch::manual_seed(seed + 3);
    in.ner_ids = torch::randint(5, 100, {ner, seq}, torch::kLong) * in.ner_mask;
    in.ner_labels = torch::randint(0, classes, {ner, seq}, torch::kLong).masked_fill(in.ner_mask.eq(0), -100);
    in.ner_labels.index_put_({torch::indexing::Slice(), 0}, -100);
  }
  return in;
}

TrainConfig config(const std::string& strategy) {
  TrainConfig c;
  c.strategy = strategy;
  c.ner_classes = 7;
  c.lora.r = 4;
  c.lora.lora_alpha = 8;
  c.lr = 1e-3;
  c.total_steps = 50;
  c.chunk_size = 0;
  c.seed = 5;
  return c;
}

std::map<std::string, torch::Tensor> parameters(TrainSession& s) {
  std::map<std::string, torch::Tensor> out;
  for (auto& p : s.model().named_parameters()) out[p.key()] = p.value();
  if (s.ner_head())
    for (auto& p : s.ner_head()->named_parameters()) out["ner_head." + p.key()] = p.value();
  return out;
}

double rel_err(const torch::Tensor& actual, const torch::Tensor& expected) {
  auto a = actual.detach().to(torch::kCPU, torch::kFloat64), e = expected.detach().to(torch::kCPU, torch::kFloat64);
  return (a - e).norm().item<double>() / std::max(e.norm().item<double>(), 1e-12);
}

// Gradient error of one tensor, relative to its own norm but never to less than `floor` (a share of all the
// gradients' norm): the attention key bias has a gradient that is exactly zero in exact arithmetic (softmax ignores
// a constant added to every score), so both sides hold rounding noise there and their ratio means nothing.
double grad_err(const torch::Tensor& actual, const torch::Tensor& expected, double floor) {
  auto a = actual.detach().to(torch::kCPU, torch::kFloat64), e = expected.detach().to(torch::kCPU, torch::kFloat64);
  return (a - e).norm().item<double>() / std::max(e.norm().item<double>(), floor);
}

// Parameters compared after optimiser steps: all but the key biases, whose zero-in-exact-arithmetic gradient
// (above) AdamW normalises into lr-sized steps of rounding noise.
// Trimmed and packed steps run other GEMM shapes than the padded one, so their gradients differ in the last bits;
// AdamW's first steps (m / sqrt(v) ~ sign(g)) lift that on near-zero entries to a few 1e-5 of a parameter
// (LoRA B, which starts at zero, most). The gradients themselves are compared at 1e-5
// (EncoderArch.PackedLayersEqualPaddedOnRealTokensInValuesAndGradients, and the losses and norms here).
constexpr double kAfterStepsTolerance = 5e-5;
bool comparable_after_steps(const std::string& name) {
  return name.find("attention.self.key.bias") == std::string::npos && name.find("attention.k_lin.bias") == std::string::npos;
}

bool has_cuda() { return torch::cuda::is_available(); }

#define SKIP_WITHOUT_CUDA() \
  if (!has_cuda()) GTEST_SKIP() << "SKIPPED: no CUDA GPU visible (libtorch " << TORCH_VERSION << "); runs in scripts/gpu/run.sh"

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// CPU: the levers against the simple path.

TEST(FastPathCpu, ChunkWidthIsTheLongestRowRoundedUp) {
  std::vector<int64_t> extents{3, 5, 9, 16};
  EXPECT_EQ(chunk_width(extents, 0, 2, 8, 16), 8);
  EXPECT_EQ(chunk_width(extents, 0, 2, 1, 16), 5);
  EXPECT_EQ(chunk_width(extents, 0, 2, 0, 16), 5);
  EXPECT_EQ(chunk_width(extents, 2, 3, 8, 16), 16);
  EXPECT_EQ(chunk_width(extents, 2, 3, 8, 12), 12);  // never past the batch's own width
  EXPECT_EQ(chunk_width({0, 0}, 0, 2, 8, 16), 8);    // all-padding rows still keep a column
  EXPECT_THROW(chunk_width(extents, 3, 5, 8, 16), Error);
  auto mask = torch::tensor({1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0}, torch::kLong).reshape({3, 4});
  EXPECT_EQ(row_extents(mask), (std::vector<int64_t>{2, 3, 0}));
  auto holes = torch::tensor({1, 0, 1, 0}, torch::kLong).reshape({1, 4});
  EXPECT_EQ(row_extents(holes), (std::vector<int64_t>{3}));  // up to the last real token, holes included
}

TEST(FastPathCpu, TrimmedChunksEqualTheUntrimmedCachedLoss) {
  auto dir = write_model("trim");
  auto loaded = model_folder_load(dir.string());
  auto& model = *loaded.model;
  const int64_t pairs = 6, seq = 12, chunk = 2;
  auto in = batch(3, pairs, 0, seq, 7);
  std::vector<int64_t> widths;
  TokenEmbedFn embed = [&](const torch::Tensor& ids, const torch::Tensor& mask) {
    widths.push_back(ids.size(1));
    return mean_pool(model.forward(ids, mask, {}, false).last_hidden_state, mask);
  };
  auto untrimmed = [&](const torch::Tensor& ids, const torch::Tensor& mask) -> ChunkEmbedFn {
    return [&, ids, mask](int64_t b, int64_t e) { return embed(ids.slice(0, b, e), mask.slice(0, b, e)); };
  };
  auto run = [&](const ChunkEmbedFn& a, const ChunkEmbedFn& p) {
    model.zero_grad();
    auto loss = test::cached_info_nce_loss(a, p, pairs, chunk);
    std::map<std::string, torch::Tensor> grads;
    for (auto& q : model.named_parameters())
      if (q.value().grad().defined()) grads[q.key()] = q.value().grad().clone();
    return std::make_pair(loss.item<double>(), grads);
  };
  auto [plain_loss, plain_grads] = run(untrimmed(in.tc_a_ids, in.tc_a_mask), untrimmed(in.tc_b_ids, in.tc_b_mask));
  widths.clear();
  auto [loss, grads] = run(trimmed_chunks(in.tc_a_ids, in.tc_a_mask, row_extents(in.tc_a_mask), 1, embed),
                           trimmed_chunks(in.tc_b_ids, in.tc_b_mask, row_extents(in.tc_b_mask), 1, embed));
  ASSERT_LT(*std::min_element(widths.begin(), widths.end()), seq) << "no chunk was trimmed: the test proves nothing";
  EXPECT_NEAR(loss, plain_loss, 1e-6 * std::abs(plain_loss));
  ASSERT_EQ(grads.size(), plain_grads.size());
  std::vector<torch::Tensor> all;
  for (auto& [name, g] : plain_grads) all.push_back(g.flatten());
  const double floor = 1e-3 * torch::cat(all).norm().item<double>();
  for (auto& [name, g] : plain_grads) EXPECT_LT(grad_err(grads.at(name), g, floor), 1e-5) << name;
}

TEST(FastPathCpu, BucketedSessionStepEqualsTheUntrimmedStep) {
  // Width 13 with pad_multiple 8: batches are widened to 16 and chunks cut to 8 or 16 columns.
  auto dir = write_model("bucket-session");
  auto c = config("mtpf-tpl");
  c.chunk_size = 3;
  auto reference = c;
  reference.trim_padding = false;
  TrainSession bucketed(dir.string(), c), untrimmed(dir.string(), reference);
  for (int i = 0; i < 2; ++i) {
    auto in = batch(30 + i, 6, 4, 13, 7);
    auto a = bucketed.step(in, false), b = untrimmed.step(in, false);
    EXPECT_NEAR(a.tc_loss, b.tc_loss, 1e-5 * std::abs(b.tc_loss)) << "step " << i;
    EXPECT_NEAR(a.ner_loss, b.ner_loss, 1e-5 * std::abs(b.ner_loss)) << "step " << i;
  }
  auto pa = parameters(bucketed), pb = parameters(untrimmed);
  for (auto& [name, p] : pb)
    if (comparable_after_steps(name)) EXPECT_LT(rel_err(pa.at(name), p), kAfterStepsTolerance) << name;
}

// chunk 2: GradCache over trimmed chunks; chunk 0: the plain loss, anchors and positives packed into one forward.
class TrimmedSessionStep : public ::testing::TestWithParam<int64_t> {};

TEST_P(TrimmedSessionStep, EqualsTheUntrimmedStep) {
  auto dir = write_model("trim-session-" + std::to_string(GetParam()));
  auto c = config("mtpf-tpl");
  c.chunk_size = GetParam();
  c.pad_multiple = 1;  // cut to the exact longest row, the strongest case
  auto untrimmed_config = c;
  untrimmed_config.trim_padding = false;
  TrainSession trimmed(dir.string(), c), untrimmed(dir.string(), untrimmed_config);
  for (int i = 0; i < 3; ++i) {
    auto in = batch(20 + i, 6, 4, 12, 7);
    auto a = trimmed.step(in, false), b = untrimmed.step(in, false);
    EXPECT_NEAR(a.tc_loss, b.tc_loss, 1e-5 * std::abs(b.tc_loss)) << "step " << i;
    EXPECT_NEAR(a.ner_loss, b.ner_loss, 1e-5 * std::abs(b.ner_loss)) << "step " << i;
    EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-4 * b.grad_norm) << "step " << i;
  }
  auto pa = parameters(trimmed), pb = parameters(untrimmed);
  for (auto& [name, p] : pb)
    if (comparable_after_steps(name)) EXPECT_LT(rel_err(pa.at(name), p), kAfterStepsTolerance) << name;
}

INSTANTIATE_TEST_SUITE_P(FastPathCpu, TrimmedSessionStep, ::testing::Values(2, 0));

// Both tasks in one forward (TrainConfig::joint_forward) against the two passes: losses, gradient norms and every
// parameter after 3 steps, with and without task-primary LoRAs, and a measured step (which takes the two passes).
class JointSessionStep : public ::testing::TestWithParam<std::string> {};

TEST_P(JointSessionStep, EqualsTheTwoPasses) {
  auto dir = write_model("joint-" + GetParam());
  auto c = config(GetParam());
  auto two_config = c;
  two_config.joint_forward = false;
  c.accumulation = two_config.accumulation = 2;  // the first micro-step leaves its gradients in place: compared
  TrainSession joint(dir.string(), c), two(dir.string(), two_config);
  {
    auto in = batch(39, 5, 4, 12, 7);
    joint.step(in, false);
    two.step(in, false);
    auto pa = parameters(joint), pb = parameters(two);
    double all = 0;
    for (auto& [name, p] : pb)
      if (p.grad().defined()) all += p.grad().pow(2).sum().item<double>();
    for (auto& [name, p] : pb) {
      ASSERT_EQ(pa.at(name).grad().defined(), p.grad().defined()) << name;
      if (p.grad().defined()) EXPECT_LT(grad_err(pa.at(name).grad(), p.grad(), 1e-3 * std::sqrt(all)), 1e-5) << name;
    }
  }
  for (int i = 0; i < 6; ++i) {
    auto in = batch(40 + i, 5, 4, 12, 7);
    const bool measure = i == 2;
    auto a = joint.step(in, measure), b = two.step(in, measure);
    EXPECT_NEAR(a.tc_loss, b.tc_loss, 1e-5 * std::abs(b.tc_loss)) << "step " << i;
    EXPECT_NEAR(a.ner_loss, b.ner_loss, 1e-5 * std::abs(b.ner_loss)) << "step " << i;
    if (!std::isnan(b.grad_norm)) EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-4 * b.grad_norm) << "step " << i;
  }
  auto pa = parameters(joint), pb = parameters(two);
  for (auto& [name, p] : pb)
    if (comparable_after_steps(name)) EXPECT_LT(rel_err(pa.at(name), p), kAfterStepsTolerance) << name;
}

INSTANTIATE_TEST_SUITE_P(FastPathCpu, JointSessionStep, ::testing::Values("mtpf-tpl", "mtpf"));

TEST(FastPathCpu, MetricsAreReadOnlyWhenAsked) {
  auto dir = write_model("lazy");
  TrainSession s(dir.string(), config("mtpf-tpl"));
  auto quiet = s.step(batch(1, 4, 4, 10, 7), /*measure=*/false, /*read=*/false);
  EXPECT_FALSE(quiet.read);
  EXPECT_TRUE(std::isnan(quiet.tc_loss) && std::isnan(quiet.ner_loss) && std::isnan(quiet.grad_norm));
  EXPECT_TRUE(quiet.optimizer_stepped);
  EXPECT_GT(quiet.lr, 0.0);  // host-side values are always there
  auto logged = s.step(batch(2, 4, 4, 10, 7), false, true);
  EXPECT_TRUE(logged.read);
  EXPECT_TRUE(std::isfinite(logged.tc_loss) && std::isfinite(logged.ner_loss) && std::isfinite(logged.grad_norm));
  EXPECT_GT(logged.grad_norm, 0.0);
  EXPECT_EQ(s.optimizer_steps(), 2);
}

// A NaN on a step that reads nothing still stops the run: the next step that reads, the next checkpoint and the
// exports fail naming the step it happened at, and no checkpoint of the damaged weights is written.
void non_finite_is_reported_later(const std::string& device) {
  auto dir = write_model("nan-" + device);
  auto c = config("mtpf-tpl");
  c.device = device;
  TrainSession s(dir.string(), c);
  s.step(batch(1, 4, 4, 10, 7), false, false);
  s.step(batch(2, 4, 4, 10, 7), false, false);
  auto good = test::temp_dir("nan-ckpt") / "step-2";
  s.save_checkpoint(good.string(), {});
  {
    torch::NoGradGuard no_grad;
    s.ner_head()->weight.fill_(std::nan(""));
  }
  auto third = s.step(batch(3, 4, 4, 10, 7), false, false);  // no sync, no error yet
  EXPECT_TRUE(third.optimizer_stepped);
  auto bad = test::temp_dir("nan-ckpt") / "step-3";
  try {
    s.save_checkpoint(bad.string(), {});
    ADD_FAILURE() << "checkpoint after a NaN loss was written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite loss at step 3"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(bad));
  EXPECT_THROW(s.export_backbone((test::temp_dir("nan-out") / "b").string()), Error);
  try {
    s.step(batch(4, 4, 4, 10, 7), false, true);
    ADD_FAILURE() << "a step that reads did not report the earlier NaN";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite loss at step 3 (noticed at step 4)"), std::string::npos)
        << e.what();
  }
  // Back at the last good checkpoint the run goes on.
  s.load_checkpoint(good.string());
  EXPECT_NO_THROW(s.check_finite());
  EXPECT_TRUE(std::isfinite(s.step(batch(3, 4, 4, 10, 7), false, true).ner_loss));
}

TEST(FastPathCpu, NonFiniteLossIsReportedAtTheNextReadNamingItsStep) { non_finite_is_reported_later("cpu"); }

TEST(FastPathCpu, NonFiniteLossOnAReadStepFailsAtOnce) {
  auto dir = write_model("nan-now");
  TrainSession s(dir.string(), config("pf-ner"));
  {
    torch::NoGradGuard no_grad;
    s.ner_head()->bias.fill_(std::numeric_limits<float>::infinity());
  }
  auto before = s.ner_head()->weight.clone();
  try {
    s.step(batch(1, 0, 4, 10, 7), false, true);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite loss at step 1 ("), std::string::npos) << e.what();
  }
  EXPECT_TRUE(torch::equal(before, s.ner_head()->weight)) << "the optimiser stepped on a non-finite loss";
  EXPECT_EQ(s.optimizer_steps(), 0);
}

TEST(FastPathCpu, AdamwStateSlotFindsTheOptimizersOwnState) {
  // fused_adamw_step works on torch::optim::AdamW's state map; its key must be the one AdamW itself uses.
  torch::manual_seed(1);
  std::vector<torch::Tensor> params{torch::randn({3, 4}, torch::requires_grad()), torch::randn({5}, torch::requires_grad())};
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-2));
  for (auto& p : params) p.mutable_grad() = torch::ones_like(p);
  opt.step();
  opt.step();
  ASSERT_EQ(opt.state().size(), 2u);
  for (auto& p : params) {
    auto& slot = adamw_state_slot(opt, p);
    ASSERT_TRUE(slot) << "state of a stepped parameter not found";
    EXPECT_EQ(static_cast<torch::optim::AdamWParamState&>(*slot).step(), 2);
  }
  EXPECT_EQ(opt.state().size(), 2u) << "the lookup created new entries: wrong key";
}

// Fused AdamW against the plain one: same parameters after three steps of a real session, on `device`.
void fused_matches_plain(const std::string& device) {
  auto dir = write_model("fused-" + device);
  auto c = config("mtpf-tpl");
  c.device = device;
  c.optimizer_impl = "plain";
  auto fc = c;
  fc.optimizer_impl = "fused";
  TrainSession plain(dir.string(), c), fused(dir.string(), fc);
  EXPECT_EQ(fused.optimizer_impl(), "fused");
  for (int i = 0; i < 3; ++i) {
    auto in = batch(40 + i, 4, i == 1 ? 0 : 4, 10, 7);  // step 2 without NER: the ner LoRA and head skip a step
    plain.step(in, false, false);
    fused.step(in, false, false);
  }
  double worst = 0;
  auto pp = parameters(plain), pf = parameters(fused);
  for (auto& [name, p] : pp) {
    if (!comparable_after_steps(name)) continue;  // on CUDA even two plain runs differ there (atomics)
    const double e = rel_err(pf.at(name), p);
    worst = std::max(worst, e);
    EXPECT_LT(e, 1e-5) << name;
  }
  std::printf("[fast-path] fused vs plain AdamW on %s: worst parameter rel err %.3g\n", device.c_str(), worst);
}

TEST(FastPathCpu, FusedAdamwMatchesPlainAdamw) {
  if (!fused_adamw_available(torch::kCPU))
    GTEST_SKIP() << "SKIPPED: at::_fused_adamw_ on CPU needs libtorch >= 2.4 (this is " << TORCH_VERSION << ")";
  fused_matches_plain("cpu");
  auto c = config("pf-ner");
  c.optimizer_impl = "auto";
  EXPECT_EQ(TrainSession(write_model("fused-auto").string(), c).optimizer_impl(), "fused") << "auto takes it";
}

TEST(FastPathCpu, FusedAdamwIsRefusedWhereUnavailable) {
  if (fused_adamw_available(torch::kCPU)) GTEST_SKIP() << "SKIPPED: this libtorch has a CPU fused AdamW";
  auto dir = write_model("fused-refused");
  auto c = config("pf-ner");
  c.optimizer_impl = "fused";
  EXPECT_THROW(TrainSession(dir.string(), c), Error);
  c.optimizer_impl = "auto";
  EXPECT_EQ(TrainSession(dir.string(), c).optimizer_impl(), "plain");
}

// ---------------------------------------------------------------------------------------------------------------
// CUDA: the fast step against the fp32 CPU reference.

namespace {

struct Case {
  std::string name, strategy, precision;
  int64_t pairs, ner, chunk;
  bool pcgrad;
};

// The CPU fp32 session and a `device` session with the same weights (LoRA B made non-zero, so every LoRA
// gradient is non-trivial), accumulation 2 so that after one call the gradients stay in .grad.
struct Pair {
  std::unique_ptr<TrainSession> cpu, gpu;
};

Pair make_sessions(const std::filesystem::path& dir, const Case& k, int64_t accumulation, const std::string& device) {
  auto c = config(k.strategy);
  c.pcgrad = k.pcgrad;
  c.chunk_size = k.chunk;
  c.accumulation = accumulation;
  if (k.strategy == "ner-adapt") {
    c.last_layers = 0;
    c.stage = 2;
  }
  Pair p;
  p.cpu = std::make_unique<TrainSession>(dir.string(), c);
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(99);
    for (auto& q : p.cpu->model().named_parameters())
      if (q.key().find(".lora_B.") != std::string::npos) q.value().normal_(0, 0.05);
  }
  auto ckpt = test::temp_dir("cuda-pair") / "start";
  p.cpu->save_checkpoint(ckpt.string(), {});
  auto gc = c;
  gc.device = device;
  gc.precision = k.precision;
  p.gpu = std::make_unique<TrainSession>(dir.string(), gc);
  p.gpu->load_checkpoint(ckpt.string());
  return p;
}

// One step (accumulation 2, so the gradients stay in .grad) of each case on `device` against the fp32 CPU step.
void step_matches_fp32_cpu(const std::string& device, const std::vector<Case>& cases) {
  auto dir = write_model("step-" + device);
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const bool bf16 = k.precision == "bf16";
    // InfoNCE's gradients (temperature 0.05) nearly cancel when summed over tokens and rows, which is what bias and
    // LayerNorm gradients are: bf16's rounding of each term (0.4%) then shows as several percent of the small sum
    // (measured with CPU autocast: up to 8% on one bias, 2% over all tensors; the NER loss alone: 0.9% / 0.3%).
    const bool tc = bf16 && k.pairs > 0;
    const double loss_tol = bf16 ? 1e-2 : 1e-5, total_tol = tc ? 3e-2 : bf16 ? 1e-2 : 1e-5,
                 tensor_tol = tc ? 1.5e-1 : bf16 ? 3e-2 : 1e-4;
    auto p = make_sessions(dir, k, /*accumulation=*/2, device);
    auto in = batch(7, k.pairs, k.ner, 16, 7);
    auto mc = p.cpu->step(in, false, true), mg = p.gpu->step(in, false, true);
    ASSERT_FALSE(mc.optimizer_stepped);
    if (k.pairs > 0) EXPECT_LT(std::abs(mg.tc_loss - mc.tc_loss) / std::abs(mc.tc_loss), loss_tol);
    if (k.ner > 0) EXPECT_LT(std::abs(mg.ner_loss - mc.ner_loss) / std::abs(mc.ner_loss), loss_tol);
    auto pc = parameters(*p.cpu), pg = parameters(*p.gpu);
    std::vector<torch::Tensor> all_c, all_g;
    for (auto& [name, q] : pc)
      if (q.grad().defined()) all_c.push_back(q.grad().flatten());
    ASSERT_FALSE(all_c.empty());
    const double floor = 1e-3 * torch::cat(all_c).norm().item<double>();
    all_c.clear();
    double worst = 0;
    std::string worst_name;
    for (auto& [name, q] : pc) {
      const auto& gg = pg.at(name).grad();
      ASSERT_EQ(q.grad().defined(), gg.defined()) << name;
      if (!q.grad().defined()) continue;
      const double e = grad_err(gg, q.grad(), floor);
      if (e > worst) worst = e, worst_name = name;
      EXPECT_LT(e, tensor_tol) << name;
      all_c.push_back(q.grad().flatten());
      all_g.push_back(gg.to(torch::kCPU, torch::kFloat32).flatten());
    }
    ASSERT_FALSE(all_c.empty());
    const double total = rel_err(torch::cat(all_g), torch::cat(all_c));
    EXPECT_LT(total, total_tol);
    std::printf("[%s-check] %-22s loss tc %.6g/%.6g ner %.6g/%.6g  grads: all %.3g, worst %.3g (%s), %zu tensors\n",
                device.c_str(), k.name.c_str(), mg.tc_loss, mc.tc_loss, mg.ner_loss, mc.ner_loss, total, worst,
                worst_name.c_str(), all_c.size());
  }
}

// 20 steps on `device` in bf16 against the fp32 CPU run: the curves stay within 3% and both fall.
void bf16_curve_tracks_fp32(const std::string& device) {
  auto dir = write_model("curve-" + device);
  auto p = make_sessions(dir, {"curve", "mtpf-tpl", "bf16", 8, 6, 0, false}, /*accumulation=*/1, device);
  double first = 0, last_cpu = 0, last_gpu = 0;
  for (int i = 0; i < 20; ++i) {
    auto in = batch(100 + i % 4, 8, 6, 16, 7);  // four batches cycled: the loss must fall
    auto mc = p.cpu->step(in, false, true), mg = p.gpu->step(in, false, true);
    const double lc = mc.tc_loss + mc.ner_loss, lg = mg.tc_loss + mg.ner_loss;
    if (i == 0) first = lc;
    last_cpu = lc;
    last_gpu = lg;
    EXPECT_NEAR(lg, lc, 0.03 * std::abs(lc)) << "step " << i + 1;
    std::printf("[%s-check] curve step %2d  fp32 cpu %.5f  bf16 %s %.5f\n", device.c_str(), i + 1, lc,
                device.c_str(), lg);
  }
  EXPECT_LT(last_cpu, first);
  EXPECT_LT(last_gpu, first);
}

// Inference on `device`, fp32 and bf16 autocast, against fp32 on the CPU.
void inference_matches_fp32_cpu(const std::string& device) {
  auto dir = write_model("infer-" + device);
  auto cpu = model_folder_load(dir.string()), dev = model_folder_load(dir.string());
  cpu.model->eval();
  dev.model->eval();
  const torch::Device d(device);
  dev.model->to(d);
  auto in = batch(9, 0, 5, 16, 7);
  torch::NoGradGuard no_grad;
  auto ref = cpu.model->forward(in.ner_ids, in.ner_mask, {}, false).last_hidden_state;
  for (const bool bf16 : {false, true}) {
    AutocastGuard autocast(bf16, d);
    auto out = dev.model->forward(in.ner_ids.to(d), in.ner_mask.to(d), {}, false).last_hidden_state;
    // Padding positions are not compared: what they hold is unspecified.
    auto keep = in.ner_mask.unsqueeze(-1).to(torch::kFloat32);
    const double e = rel_err(out.to(torch::kCPU, torch::kFloat32) * keep, ref * keep);
    EXPECT_LT(e, bf16 ? 1e-2 : 1e-5);
    std::printf("[%s-check] inference %s vs fp32 cpu: rel err %.3g\n", device.c_str(), bf16 ? "bf16" : "fp32", e);
  }
}

}  // namespace

TEST(CudaPath, StepMatchesTheFp32CpuReference) {
  SKIP_WITHOUT_CUDA();
  step_matches_fp32_cpu("cuda", {
      {"mtpf-tpl bf16", "mtpf-tpl", "bf16", 8, 6, 0, false},
      {"mtpf-tpl fp32", "mtpf-tpl", "fp32", 8, 6, 0, false},
      {"mtpf-tpl bf16 cached", "mtpf-tpl", "bf16", 8, 6, 3, false},
      {"mtpf pcgrad bf16", "mtpf", "bf16", 8, 6, 0, true},
      {"ner-adapt bf16", "ner-adapt", "bf16", 0, 6, 0, false},
      {"pf-ner fp32", "pf-ner", "fp32", 0, 6, 0, false},
  });
}

TEST(CudaPath, Bf16LossCurveTracksFp32For20Steps) {
  SKIP_WITHOUT_CUDA();
  bf16_curve_tracks_fp32("cuda");
}

TEST(CudaPath, FusedAdamwMatchesPlainAdamw) {
  SKIP_WITHOUT_CUDA();
  if (!fused_adamw_available(torch::kCUDA))
    GTEST_SKIP() << "SKIPPED: at::_fused_adamw_ needs libtorch >= 2.1 (this is " << TORCH_VERSION << ")";
  fused_matches_plain("cuda");
}

TEST(CudaPath, NonFiniteLossIsReportedAtTheNextRead) {
  SKIP_WITHOUT_CUDA();
  non_finite_is_reported_later("cuda");
}

TEST(CudaPath, Bf16InferenceMatchesFp32Cpu) {
  SKIP_WITHOUT_CUDA();
  inference_matches_fp32_cpu("cuda");
}

// ---------------------------------------------------------------------------------------------------------------
// bf16 autocast on the CPU: the same mixed-precision code as on the GPU (autocast guard, bf16 LoRA backward, fp32
// losses, the attention bias rebuilt in bf16), checked on every host against the fp32 CPU step.

TEST(Bf16CpuAutocast, StepMatchesTheFp32Step) {
  step_matches_fp32_cpu("cpu", {
      {"mtpf-tpl bf16", "mtpf-tpl", "bf16", 8, 6, 0, false},
      {"mtpf-tpl bf16 cached", "mtpf-tpl", "bf16", 8, 6, 3, false},
      {"mtpf pcgrad bf16", "mtpf", "bf16", 8, 6, 0, true},
      {"ner-adapt bf16", "ner-adapt", "bf16", 0, 6, 0, false},
      {"pf-ner bf16", "pf-ner", "bf16", 0, 6, 0, false},
      {"pf-tc bf16", "pf-tc", "bf16", 8, 0, 0, false},
  });
}

TEST(Bf16CpuAutocast, LossCurveTracksFp32For20Steps) { bf16_curve_tracks_fp32("cpu"); }

TEST(Bf16CpuAutocast, InferenceMatchesFp32) { inference_matches_fp32_cpu("cpu"); }
