#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "errors.h"
#include "peft.h"
#include "safetensors.h"
#include "test_util.h"

using namespace mtpf;
using torch::Tensor;
namespace fs = std::filesystem;

namespace {

// Last hidden state of two fixed rows (one padded).
Tensor forward_two_rows(EncoderModel& model) {
  auto ids = torch::tensor({{2, 5, 9, 11, 3}, {2, 7, 3, 0, 0}}, torch::kLong);
  auto mask = torch::tensor({{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}, torch::kLong);
  return model.forward(ids, mask, {}, false).last_hidden_state;
}

// A model with adapter "ner" (random A and B) on the last layer's default targets, saved as PEFT into a new folder.
fs::path save_adapter(EncoderModel& model, const std::string& name) {
  lora_inject(model, "ner", test::lora_config(4, 8), lora_default_targets(model.config()), {-1});
  {
    torch::NoGradGuard ng;
    for (auto& p : lora_adapter_parameters(model, "ner")) p.value().normal_(0.0, 0.1);
  }
  auto dir = test::temp_dir(name);
  peft_save(model, "ner", dir.string(), {"tiny-" + model.config().model_type, "FEATURE_EXTRACTION"});
  return dir;
}

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(std::ifstream(path)); }
void write_json(const fs::path& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

class PeftArch : public ::testing::TestWithParam<std::string> {};

TEST_P(PeftArch, SaveLoadRoundTrip) {
  auto a = test::tiny_model(GetParam());
  auto dir = save_adapter(*a, "peft-rt");
  const auto modules = lora_adapter_modules(*a, "ner");
  ASSERT_EQ(modules.size(), 4u);

  // adapter_config.json: what PEFT's LoraConfig reads.
  auto j = read_json(dir / "adapter_config.json");
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["r"], 4);
  EXPECT_TRUE(j["lora_alpha"].is_number_integer());
  EXPECT_EQ(j["lora_alpha"], 8);
  EXPECT_EQ(j["lora_dropout"], 0.0);
  EXPECT_EQ(j["use_rslora"], false);
  EXPECT_EQ(j["target_modules"].get<std::vector<std::string>>(), modules);
  EXPECT_EQ(j["bias"], "none");
  EXPECT_EQ(j["task_type"], "FEATURE_EXTRACTION");
  EXPECT_EQ(j["base_model_name_or_path"], "tiny-" + GetParam());
  EXPECT_EQ(j["inference_mode"], true);
  EXPECT_EQ(j["init_lora_weights"], true);
  EXPECT_EQ(j["fan_in_fan_out"], false);
  EXPECT_TRUE(j["modules_to_save"].is_null());
  EXPECT_TRUE(j["layers_to_transform"].is_null());

  // adapter_model.safetensors: PEFT's saved keys, no adapter name.
  auto file = safetensors_read((dir / "adapter_model.safetensors").string());
  std::set<std::string> expected;
  for (const auto& m : modules)
    for (const char* ab : {".lora_A.weight", ".lora_B.weight"}) expected.insert("base_model.model." + m + ab);
  std::set<std::string> keys;
  for (auto& [k, t] : file.tensors) keys.insert(k);
  EXPECT_EQ(keys, expected);
  const std::string q =
      GetParam() == "distilbert" ? "transformer.layer.1.attention.q_lin" : "encoder.layer.1.attention.self.query";
  EXPECT_EQ(file.tensors.at("base_model.model." + q + ".lora_A.weight").sizes(), torch::IntArrayRef({4, 32}));

  // Load into a fresh model under another name: same tensors, same outputs.
  auto b = test::tiny_model(GetParam());
  auto loaded = peft_load(*b, dir.string(), "task", /*is_trainable=*/true);
  EXPECT_EQ(loaded, modules);
  auto pa = lora_adapter_parameters(*a, "ner"), pb = lora_adapter_parameters(*b, "task");
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& m : modules)
    for (const char* ab : {".lora_A.", ".lora_B."}) {
      const auto& tb = pb[m + ab + "task.weight"];
      EXPECT_TRUE(torch::equal(pa[m + ab + "ner.weight"], tb)) << m << ab;
      EXPECT_TRUE(tb.requires_grad());
    }
  Tensor ya, yb;
  {
    ActiveAdapter s("ner");
    ya = forward_two_rows(*a);
  }
  {
    ActiveAdapter s("task");
    yb = forward_two_rows(*b);
  }
  EXPECT_TRUE(torch::equal(ya, yb));
  EXPECT_GT((ya - forward_two_rows(*b)).abs().max().item<double>(), 1e-4);  // and the adapter matters

  // PEFT's default is_trainable=false: frozen adapter.
  auto c = test::tiny_model(GetParam());
  peft_load(*c, dir.string(), "ner");
  for (auto& p : lora_adapter_parameters(*c, "ner")) EXPECT_FALSE(p.value().requires_grad()) << p.key();
}

INSTANTIATE_TEST_SUITE_P(Architectures, PeftArch, ::testing::Values("bert", "distilbert"));

TEST(PeftLoad, RefusesWhatDoesNotFit) {
  auto a = test::tiny_model("bert");
  auto dir = save_adapter(*a, "peft-bad");
  auto load = [](EncoderModel& m, const fs::path& d) { return test::error_of([&] { peft_load(m, d.string(), "x"); }); };
  const std::string a_key = "base_model.model.encoder.layer.1.attention.self.key.lora_A.weight";

  // Another rank in the config than in the file.
  auto j = read_json(dir / "adapter_config.json");
  j["r"] = 2;
  write_json(dir / "adapter_config.json", j);
  auto fresh = test::tiny_model("bert");
  auto err = load(*fresh, dir);
  EXPECT_NE(err.find("'" + a_key + "' has shape [4, 32] but r=2"), std::string::npos) << err;
  EXPECT_TRUE(lora_adapter_names(*fresh).empty()) << "nothing may change on a refused load";
  j["r"] = 4;
  write_json(dir / "adapter_config.json", j);

  // A backbone of another width.
  auto wide = test::tiny_model("bert", {{"hidden_size", 48}});
  err = load(*wide, dir);
  EXPECT_NE(err.find("'" + a_key + "' has shape [4, 32]"), std::string::npos) << err;
  EXPECT_NE(err.find("in_features 48"), std::string::npos) << err;

  // Fewer layers: the last layer's modules do not exist.
  auto shallow = test::tiny_model("bert", {{"num_hidden_layers", 1}});
  err = load(*shallow, dir);
  EXPECT_NE(err.find("which is not a linear of this model"), std::string::npos) << err;

  // The name is taken already.
  err = test::error_of([&] { peft_load(*a, dir.string(), "ner"); });
  EXPECT_NE(err.find("already has a LoRA adapter named 'ner'"), std::string::npos) << err;

  // target_modules selecting a module without weights.
  auto targets = j["target_modules"];
  j["target_modules"].push_back("encoder.layer.0.attention.self.query");
  write_json(dir / "adapter_config.json", j);
  err = load(*fresh, dir);
  EXPECT_NE(err.find("targets 'encoder.layer.0.attention.self.query' but"), std::string::npos) << err;
  j["target_modules"] = targets;

  // Not LoRA.
  j["peft_type"] = "IA3";
  write_json(dir / "adapter_config.json", j);
  err = load(*fresh, dir);
  EXPECT_NE(err.find("peft_type is \"IA3\""), std::string::npos) << err;
  j["peft_type"] = "LORA";
  write_json(dir / "adapter_config.json", j);

  // A truncated weights file (safetensors_read refuses it).
  const auto weights = dir / "adapter_model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) - 8);
  err = load(*fresh, dir);
  EXPECT_NE(err.find("adapter_model.safetensors"), std::string::npos) << err;
  EXPECT_TRUE(lora_adapter_names(*fresh).empty());

  fs::remove(dir / "adapter_config.json");
  EXPECT_NE(load(*fresh, dir).find("adapter_config.json: file not found"), std::string::npos);
}

// A folder as PEFT writes it for BertForTokenClassification: suffix target_modules, "bert." in the keys,
// layers_to_transform, and the classifier under modules_to_save.
TEST(PeftLoad, ReadsPeftStyleFolders) {
  auto model = test::tiny_model("bert");
  auto dir = test::temp_dir("peft-hf");
  torch::manual_seed(5);
  std::map<std::string, Tensor> tensors;
  for (const char* m : {"query", "value"}) {
    const std::string base = std::string("base_model.model.bert.encoder.layer.0.attention.self.") + m;
    tensors[base + ".lora_A.weight"] = torch::randn({2, 32});
    tensors[base + ".lora_B.weight"] = torch::randn({32, 2}).to(torch::kBFloat16);
  }
  tensors["base_model.model.classifier.weight"] = torch::randn({5, 32});
  safetensors_write((dir / "adapter_model.safetensors").string(), tensors);
  write_json(dir / "adapter_config.json", {{"peft_type", "LORA"},
                                           {"r", 2},
                                           {"lora_alpha", 16},
                                           {"target_modules", {"query", "value"}},
                                           {"layers_to_transform", {0}},
                                           {"modules_to_save", {"classifier"}},
                                           {"task_type", "TOKEN_CLS"},
                                           {"bias", "none"}});
  auto got = peft_load(*model, dir.string(), "ner");
  EXPECT_EQ(got, (std::vector<std::string>{"encoder.layer.0.attention.self.query",
                                           "encoder.layer.0.attention.self.value"}));
  auto params = model->named_parameters();
  auto& b = params["encoder.layer.0.attention.self.value.lora_B.ner.weight"];
  EXPECT_EQ(b.scalar_type(), torch::kFloat32);
  const auto& saved = tensors["base_model.model.bert.encoder.layer.0.attention.self.value.lora_B.weight"];
  EXPECT_TRUE(torch::equal(b, saved.to(torch::kFloat32)));
  auto cfg = peft_read_config(dir.string());
  EXPECT_EQ(cfg.scaling(), 8.0);
  EXPECT_EQ(cfg.task_type, "TOKEN_CLS");
  EXPECT_EQ(cfg.modules_to_save, std::vector<std::string>{"classifier"});
}

TEST(PeftHead, SaveLoadRoundTripAndChecks) {
  auto dir = test::temp_dir("peft-head");
  auto w = torch::randn({3, 32}), b = torch::randn({3});
  peft_save_head(dir.string(), "ner", w, b, {"O", "B-PER", "I-PER"});
  EXPECT_TRUE(fs::exists(dir / "head_ner.safetensors"));
  EXPECT_EQ(read_json(dir / "head_ner.json")["labels"].size(), 3u);
  auto head = peft_load_head(dir.string(), "ner");
  EXPECT_TRUE(torch::equal(head.weight, w));
  EXPECT_TRUE(torch::equal(head.bias, b));
  EXPECT_EQ(head.labels, (std::vector<std::string>{"O", "B-PER", "I-PER"}));

  EXPECT_NE(test::error_of([&] { peft_save_head(dir.string(), "tc", w, b, {"a", "b"}); }).find("2 labels for 3"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { peft_save_head(dir.string(), "tc", w, torch::randn({4}), {}); }).find("bias must be [3]"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { peft_save_head(dir.string(), "../x", w, b, {}); }).find("head name"), std::string::npos);
  EXPECT_NE(test::error_of([&] { peft_load_head(dir.string(), "absent"); }).find("head_absent.json: file not found"),
            std::string::npos);
  // A weights file that disagrees with its JSON.
  safetensors_write((dir / "head_ner.safetensors").string(), {{"weight", torch::randn({2, 32})}, {"bias", b}});
  EXPECT_NE(test::error_of([&] { peft_load_head(dir.string(), "ner"); }).find("tensor 'weight' has shape [2, 32]"),
            std::string::npos);
}

}  // namespace
