// The one-call training step: routing of gradients between task-primary LoRAs, frozen backbones, PCGrad,
// schedules, and exact resume from a checkpoint.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "errors.h"
#include "lora.h"
#include "pcgrad.h"
#include "precision.h"
#include "test_util.h"
#include "train_session.h"

using namespace mtpf;

namespace {

StepInputs batch(uint64_t seed, bool tc, bool ner) {
  torch::manual_seed(seed);
  StepInputs in;
  if (tc) {
    in.tc_a_ids = torch::randint(5, 100, {6, 7}, torch::kLong);
    in.tc_a_mask = torch::ones({6, 7}, torch::kLong);
    in.tc_a_mask.index_put_({0, torch::indexing::Slice(4)}, 0);
    in.tc_b_ids = torch::randint(5, 100, {6, 9}, torch::kLong);
    in.tc_b_mask = torch::ones({6, 9}, torch::kLong);
  }
  if (ner) {
    in.ner_ids = torch::randint(5, 100, {4, 8}, torch::kLong);
    in.ner_mask = torch::ones({4, 8}, torch::kLong);
    in.ner_labels = torch::randint(0, 5, {4, 8}, torch::kLong);
    in.ner_labels.index_put_({torch::indexing::Slice(), 0}, -100);
  }
  return in;
}

TrainConfig tiny_config(const std::string& strategy) {
  TrainConfig c;
  c.strategy = strategy;
  c.ner_classes = 5;
  c.lora.r = 4;
  c.lora.lora_alpha = 8;
  c.lr = 1e-2;
  c.total_steps = 10;
  c.chunk_size = 4;  // GradCache on the 6-pair batch
  return c;
}

std::map<std::string, torch::Tensor> snapshot(TrainSession& s) {
  std::map<std::string, torch::Tensor> out;
  for (auto& p : s.model().named_parameters()) out[p.key()] = p.value().detach().clone();
  if (s.ner_head())
    for (auto& p : s.ner_head()->named_parameters()) out["ner_head." + p.key()] = p.value().detach().clone();
  return out;
}

bool moved(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b,
           const std::function<bool(const std::string&)>& which) {
  for (auto& [k, v] : a)
    if (which(k) && !torch::equal(v, b.at(k))) return true;
  return false;
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(TrainSession, TcOnlyStepLeavesNerLoraAndHeadUnchanged) {
  auto dir = test::write_tiny_model("bert", "ts-route");
  TrainSession s(dir.string(), tiny_config("mtpf-tpl"));
  auto before = snapshot(s);
  s.step(batch(1, true, false), false);
  auto after = snapshot(s);
  EXPECT_FALSE(moved(before, after, [](auto& k) { return has(k, ".lora_") && has(k, ".ner."); }));
  EXPECT_FALSE(moved(before, after, [](auto& k) { return has(k, "ner_head."); }));
  EXPECT_TRUE(moved(before, after, [](auto& k) { return has(k, ".lora_B.tc."); }));
  EXPECT_TRUE(moved(before, after, [](auto& k) { return !has(k, ".lora_") && !has(k, "ner_head."); }));
  // And the other way round.
  before = after;
  s.step(batch(2, false, true), false);
  after = snapshot(s);
  EXPECT_FALSE(moved(before, after, [](auto& k) { return has(k, ".lora_") && has(k, ".tc."); }));
  EXPECT_TRUE(moved(before, after, [](auto& k) { return has(k, ".lora_B.ner."); }));
  EXPECT_TRUE(moved(before, after, [](auto& k) { return has(k, "ner_head."); }));
}

TEST(TrainSession, TaskPrimaryLorasSitOnTheLastLayersOnly) {
  auto dir = test::write_tiny_model("bert", "ts-layers");
  TrainSession s(dir.string(), tiny_config("mtpf-tpl"));
  auto mods = lora_adapter_modules(s.model(), "tc");
  ASSERT_EQ(mods.size(), 4u * 2u);  // query, key, intermediate.dense, output.dense on the last 2 of 2 layers
  auto names = lora_adapter_names(s.model());
  EXPECT_EQ(names, (std::vector<std::string>{"ner", "tc"}));
}

TEST(TrainSession, PfLFreezesTheBackbone) {
  auto dir = test::write_tiny_model("bert", "ts-pfl");
  TrainSession s(dir.string(), tiny_config("pf-l"));
  auto before = snapshot(s);
  s.step(batch(3, true, true), false);
  auto after = snapshot(s);
  EXPECT_FALSE(moved(before, after, [](auto& k) { return !has(k, ".lora_") && !has(k, "ner_head."); }));
  EXPECT_TRUE(moved(before, after, [](auto& k) { return has(k, ".lora_B."); }));
}

TEST(TrainSession, MtpfMeasuresGradientCosineAndPcgradRuns) {
  auto dir = test::write_tiny_model("bert", "ts-pcgrad");
  auto c = tiny_config("mtpf");
  c.pcgrad = true;
  TrainSession s(dir.string(), c);
  auto m = s.step(batch(4, true, true), true);
  EXPECT_TRUE(std::isfinite(m.tc_loss));
  EXPECT_TRUE(std::isfinite(m.ner_loss));
  EXPECT_GE(m.grad_cosine, -1.0);
  EXPECT_LE(m.grad_cosine, 1.0);
  EXPECT_TRUE(m.optimizer_stepped);
  EXPECT_THROW(TrainSession(dir.string(), tiny_config("pf-tc")).step(batch(5, false, true), false), Error);
}

TEST(TrainSession, ResumeReplaysTheUninterruptedRun) {
  auto dir = test::write_tiny_model("bert", "ts-resume");
  auto c = tiny_config("mtpf-tpl");
  c.lora.lora_dropout = 0.1;  // randomness inside the step must replay too
  c.warmup_steps = 2;
  std::vector<double> straight;
  {
    TrainSession s(dir.string(), c);
    for (int i = 0; i < 4; ++i) {
      auto m = s.step(batch(10 + i, true, true), false);
      straight.push_back(m.tc_loss + m.ner_loss);
    }
  }
  auto ckpt = test::temp_dir("ts-ckpt") / "step-2";
  {
    TrainSession s(dir.string(), c);
    for (int i = 0; i < 2; ++i) s.step(batch(10 + i, true, true), false);
    s.save_checkpoint(ckpt.string(), {{"sampler", 2}});
  }
  TrainSession r(dir.string(), c);
  auto extra = r.load_checkpoint(ckpt.string());
  EXPECT_EQ(extra["sampler"], 2);
  EXPECT_EQ(r.optimizer_steps(), 2);
  for (int i = 2; i < 4; ++i) {
    auto m = r.step(batch(10 + i, true, true), false);
    EXPECT_DOUBLE_EQ(m.tc_loss + m.ner_loss, straight[i]) << "step " << i;
  }
  // A checkpoint of before the nested config schema (its state.json holds the flat one) still resumes, and one of
  // another configuration is still refused.
  nlohmann::json state;
  std::ifstream(ckpt / "state.json") >> state;
  state["config"] = {{"strategy", "mtpf-tpl"}, {"last_layers", c.last_layers}, {"lora_r", c.lora.r},
                     {"ner_classes", c.ner_classes}, {"tc_weight", 1.0}};
  std::ofstream(ckpt / "state.json") << state.dump();
  TrainSession flat(dir.string(), c);
  flat.load_checkpoint(ckpt.string());
  EXPECT_EQ(flat.optimizer_steps(), 2);
  state["config"]["lora_r"] = c.lora.r + 1;
  std::ofstream(ckpt / "state.json") << state.dump();
  TrainSession other(dir.string(), c);
  EXPECT_THROW(other.load_checkpoint(ckpt.string()), Error);
}

TEST(TrainSession, ExportsBackboneAndPeftAdapters) {
  auto dir = test::write_tiny_model("bert", "ts-export");
  TrainSession s(dir.string(), tiny_config("mtpf-tpl"));
  s.step(batch(6, true, true), false);
  auto out = test::temp_dir("ts-out");
  s.export_backbone((out / "backbone").string());
  s.export_adapter("tc", (out / "tc").string());
  s.export_adapter("ner", (out / "ner").string());
  EXPECT_TRUE(std::filesystem::exists(out / "tc" / "adapter_model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(out / "ner" / "head_ner.safetensors"));
  auto backbone = model_folder_load((out / "backbone").string());  // no LoRA keys inside
  EXPECT_TRUE(lora_adapter_names(*backbone.model).empty());
}

TEST(LrSchedule, WarmupThenDecay) {
  TrainConfig c;
  c.lr = 1.0;
  c.warmup_steps = 4;
  c.total_steps = 14;
  EXPECT_DOUBLE_EQ(lr_at(c, 0), 0.25);
  EXPECT_DOUBLE_EQ(lr_at(c, 3), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(c, 9), 0.5);
  EXPECT_DOUBLE_EQ(lr_at(c, 14), 0.0);
  c.schedule = "cosine";
  EXPECT_NEAR(lr_at(c, 9), 0.5, 1e-12);
  c.schedule = "constant";
  EXPECT_DOUBLE_EQ(lr_at(c, 13), 1.0);
}

TEST(PcGrad, ProjectsOnlyConflictingGradients) {
  std::mt19937_64 rng(0);
  // Conflicting: g1 = (1, 0), g2 = (-1, 1). g1' = g1 - (g1.g2/|g2|^2) g2 = (0.5, 0.5); g2' = g2 - (-1/1) g1 = (0, 1).
  auto out = pcgrad_combine({{torch::tensor({1.0, 0.0})}, {torch::tensor({-1.0, 1.0})}}, rng);
  EXPECT_TRUE(torch::allclose(out[0], torch::tensor({0.5, 1.5})));
  // Agreeing gradients are summed untouched.
  out = pcgrad_combine({{torch::tensor({1.0, 0.0})}, {torch::tensor({1.0, 1.0})}}, rng);
  EXPECT_TRUE(torch::allclose(out[0], torch::tensor({2.0, 1.0})));
  EXPECT_NEAR(gradient_cosine({torch::tensor({1.0, 0.0})}, {torch::tensor({0.0, 2.0})}), 0.0, 1e-12);
}

TEST(TrainSession, NerAdaptTrainsTheHeadFirstThenLoraAndHead) {
  auto dir = test::write_tiny_model("bert", "ts-adapt");
  auto c = tiny_config("ner-adapt");
  c.last_layers = 0;  // LoRA on every layer, as downstream adaptation does
  TrainSession s(dir.string(), c);
  EXPECT_EQ(lora_adapter_modules(s.model(), "ner").size(), 4u * 2u);
  auto before = snapshot(s);
  s.step(batch(7, false, true), false);
  auto after = snapshot(s);
  EXPECT_FALSE(moved(before, after, [](auto& k) { return !has(k, "ner_head."); }));  // stage 1: head only
  EXPECT_TRUE(moved(before, after, [](auto& k) { return has(k, "ner_head."); }));
  s.set_stage(2, 1e-2, 10, 0);
  before = after;
  s.step(batch(8, false, true), false);
  after = snapshot(s);
  EXPECT_TRUE(moved(before, after, [](auto& k) { return has(k, ".lora_B.ner."); }));
  EXPECT_FALSE(moved(before, after, [](auto& k) { return !has(k, ".lora_") && !has(k, "ner_head."); }));
  auto logits = s.ner_logits(batch(9, false, true).ner_ids, torch::ones({4, 8}, torch::kLong));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{4, 8, 5}));
}

TEST(TrainSession, NerAdaptStartsFromATaskPrimaryAdapter) {
  auto dir = test::write_tiny_model("bert", "ts-seed");
  auto out = test::temp_dir("ts-seed-out");
  {
    auto tpl_config = tiny_config("mtpf-tpl");
    tpl_config.last_layers = 1;  // task-primary LoRA on the last of the 2 layers only
    TrainSession tpl(dir.string(), tpl_config);
    for (int i = 0; i < 2; ++i) tpl.step(batch(20 + i, true, true), false);
    tpl.export_adapter("ner", (out / "ner").string());
  }
  auto c = tiny_config("ner-adapt");
  c.last_layers = 0;
  c.adapter_init = (out / "ner").string();
  TrainSession s(dir.string(), c);
  // The last layer carries the task-primary weights (B no longer zero); the first layer starts from PEFT's init.
  auto params = s.model().named_parameters();
  EXPECT_GT(params["encoder.layer.1.attention.self.query.lora_B.ner.weight"].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(params["encoder.layer.0.attention.self.query.lora_B.ner.weight"].abs().sum().item<double>(), 0.0);
}

TEST(Precision, AutoIsBf16ExactlyWhereTheCpuHasBf16MatrixUnits) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  if (!cpuinfo) GTEST_SKIP() << "SKIPPED: no /proc/cpuinfo to check the CPU's flags against";
  const std::string text((std::istreambuf_iterator<char>(cpuinfo)), std::istreambuf_iterator<char>());
  const bool units = text.find(" avx512_bf16") != std::string::npos;
  EXPECT_EQ(has_bf16_matrix_units(torch::kCPU), units);
  EXPECT_EQ(resolve_precision("auto", torch::kCPU), units ? "bf16" : "fp32");
  EXPECT_EQ(resolve_precision("fp32", torch::kCPU), "fp32");
  EXPECT_EQ(resolve_precision("bf16", torch::kCPU), "bf16");
  EXPECT_THROW(resolve_precision("fp16", torch::kCPU), Error);
  // A session resolves it when it opens, and says which one runs.
  auto c = tiny_config("pf-ner");
  c.precision = "auto";
  TrainSession s(test::write_tiny_model("bert", "precision-auto").string(), c);
  EXPECT_EQ(s.config().precision, units ? "bf16" : "fp32");
}

TEST(TrainConfig, StrictLikeTheJavaRunConfig) {
  auto refused = [](const nlohmann::json& j, const std::string& named) {
    try {
      TrainConfig::from_json(j);
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
  };
  refused({{"strategy", "pf-tc"}, {"learning_rate", 1e-4}}, "'learning_rate'");
  refused({{"optimizer", {{"learning_rate", 1e-4}}}}, "'optimizer.learning_rate'");
  refused({{"lr", 1e-4}}, "'lr'");  // the flat schema of before: its keys are unknown now
  refused({{"optimizer", {{"lr", "fast"}}}}, "'optimizer.lr' has the wrong type");
  refused({{"lora", 8}}, "'lora' must be an object");
  refused({{"tc", {{"temperature", 0}}}}, "tc.temperature");
  // The sections and keys of the run config (run.yaml) where a field is in both.
  auto j = TrainConfig::from_json({{"tc", {{"temperature", 0.1}, {"chunk_size", 0}}},
                                   {"lora", {{"r", 4}, {"alpha", 8}, {"targets", {"query"}}}},
                                   {"optimizer", {{"lr", 1e-3}, {"warmup_steps", 5}}}});
  EXPECT_EQ(j.temperature, 0.1);
  EXPECT_EQ(j.chunk_size, 0);
  EXPECT_EQ(j.lora.r, 4);
  EXPECT_EQ(j.lora_targets, std::vector<std::string>{"query"});
  EXPECT_EQ(j.lr, 1e-3);
  EXPECT_EQ(j.warmup_steps, 5);
  EXPECT_EQ(TrainConfig{}.to_json().at("optimizer").at("beta2"), 0.999);
  auto c = tiny_config("ner-adapt");
  c.stage = 1;
  c.adapter_init = "/some/adapter";
  c.load_head = true;
  auto back = TrainConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_TRUE(back.load_head);
}
