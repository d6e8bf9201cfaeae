// Every refusal names its input and reason: bad model folders, bad adapters (rank or shape not matching the
// backbone, targets it does not have, truncated files, another architecture), bad inputs.
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mtpf/runtime.h"
#include "test_util.h"

namespace mtpf::rt {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TinyAdapter;
using test::TinyModel;
using test::write_adapter;
using test::write_json;
using test::write_tiny_model;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

TEST(Errors, BadModelFolders) {
  TinyModel m = write_tiny_model("bert", 61);
  expect_error([] { Backbone b("/nonexistent/model", "fp32"); }, {"/nonexistent/model", "not found"});
  expect_error([&] { Backbone b(m.dir.string(), "fp16"); }, {"fp16", "fp32 or int8"});
  // Wrong shape: a config that disagrees with the weights.
  auto cfg = m.config;
  cfg["intermediate_size"] = 48;
  write_json(m.dir / "config.json", cfg);
  expect_error([&] { Backbone b(m.dir.string(), "fp32"); }, {"model.safetensors", "intermediate.dense.weight", "[64, 32]", "[48, 32]"});
  cfg = m.config;
  cfg["model_type"] = "gpt2";
  write_json(m.dir / "config.json", cfg);
  expect_error([&] { Backbone b(m.dir.string(), "fp32"); }, {"config.json", "gpt2"});
  write_json(m.dir / "config.json", m.config);
  // Truncated weights file.
  const auto st = m.dir / "model.safetensors";
  fs::resize_file(st, fs::file_size(st) - 100);
  expect_error([&] { Backbone b(m.dir.string(), "fp32"); }, {"model.safetensors", "truncated"});
}

TEST(Errors, BadAdapters) {
  TinyModel m = write_tiny_model("bert", 62);
  Backbone bb(m.dir.string(), "fp32");
  const std::vector<std::string> roles = {"query", "intermediate"};
  struct Case {
    const char* what;
    std::function<void(const fs::path& dir)> damage;
    std::vector<std::string> message;
  };
  const std::vector<Case> cases = {
      {"rank in the config not matching the tensors",
       [](const fs::path& d) {
         auto j = read_json(d / "adapter_config.json");
         j["r"] = 8;
         write_json(d / "adapter_config.json", j);
       },
       {"lora_A.weight", "[4, 32]", "r=8", "[8, 32]"}},
      {"target module the backbone lacks",
       [](const fs::path& d) {
         auto j = read_json(d / "adapter_config.json");
         j["target_modules"].push_back("c_attn");
         write_json(d / "adapter_config.json", j);
       },
       {"adapter_config.json", "target module 'c_attn' does not exist"}},
      {"config targeting a module without weights",
       [](const fs::path& d) {
         auto j = read_json(d / "adapter_config.json");
         j["target_modules"].push_back("encoder.layer.0.attention.self.value");
         write_json(d / "adapter_config.json", j);
       },
       {"targets 'encoder.layer.0.attention.self.value'", "no lora_A/lora_B"}},
      {"weights for a module the config does not select",
       [](const fs::path& d) {
         auto j = read_json(d / "adapter_config.json");
         j["layers_to_transform"] = {0};
         write_json(d / "adapter_config.json", j);
       },
       {"encoder.layer.1.", "do not select"}},
      {"truncated weights",
       [](const fs::path& d) {
         fs::resize_file(d / "adapter_model.safetensors", fs::file_size(d / "adapter_model.safetensors") - 64);
       },
       {"adapter_model.safetensors", "truncated"}},
      {"not LoRA", [](const fs::path& d) {
         auto j = read_json(d / "adapter_config.json");
         j["peft_type"] = "IA3";
         write_json(d / "adapter_config.json", j);
       },
       {"adapter_config.json", "IA3"}},
      {"missing config", [](const fs::path& d) { fs::remove(d / "adapter_config.json"); },
       {"adapter_config.json", "not found"}},
      {"missing head", [](const fs::path& d) { fs::remove(d / "head_ner.json"); }, {"head_ner.json", "not found"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TinyAdapter a = write_adapter(m, 65, roles, {}, 4, 8, false, 3);
    c.damage(a.dir);
    expect_error([&] { bb.load_adapter("bad", a.dir.string(), "ner"); }, c.message);
    expect_error([&] { bb.adapter_id("bad"); }, {"unknown adapter 'bad'"});  // nothing half-loaded
  }
  // An adapter made for a DistilBERT, and one for a model with another hidden size.
  TinyModel distil = write_tiny_model("distilbert", 66);
  TinyAdapter da = write_adapter(distil, 67, {"query"});
  expect_error([&] { bb.load_adapter("d", da.dir.string(), ""); }, {"does not exist in this backbone"});
  // "Wrong base model" is judged by shapes: the same module names over hidden size 48.
  TinyModel wide = m;
  wide.hidden = 48;
  wide.intermediate = 96;
  TinyAdapter wa = write_adapter(wide, 69, {"query"});
  expect_error([&] { bb.load_adapter("w", wa.dir.string(), ""); }, {"lora_A.weight", "[4, 48]", "[4, 32]"});
  // A head over another hidden size.
  TinyAdapter wh = write_adapter(m, 70, {"query"}, {}, 4, 8, false, 3);
  auto meta = read_json(wh.dir / "head_ner.json");
  meta["in_features"] = 48;
  write_json(wh.dir / "head_ner.json", meta);
  expect_error([&] { bb.load_adapter("h", wh.dir.string(), "ner"); }, {"in_features 48", "hidden size is 32"});
}

TEST(Errors, BadInputs) {
  TinyModel m = write_tiny_model("bert", 71);
  Backbone bb(m.dir.string(), "fp32");
  TinyAdapter a = write_adapter(m, 72, {"query"});
  TinyAdapter h = write_adapter(m, 73, {"key"}, {}, 4, 8, false, 5);
  bb.load_adapter("plain", a.dir.string(), "");
  bb.load_adapter("tagger", h.dir.string(), "ner");
  std::vector<int32_t> ids = {5, 6, 7, 0, 8, 9, 0, 0}, mask = {1, 1, 1, 0, 1, 1, 0, 0};
  std::vector<float> out(2 * 4 * 32), logits(2 * 4 * 8);
  auto run = [&](const std::vector<int32_t>& i, const std::vector<int32_t>& mk, const int32_t* types,
                 const int32_t* slots, int seq) {
    bb.last_hidden_state(i.data(), mk.data(), types, slots, 2, seq, out.data());
  };
  run(ids, mask, nullptr, nullptr, 4);  // fine
  expect_error([&] { run(ids, {1, 0, 1, 0, 1, 1, 0, 0}, nullptr, nullptr, 4); },
               {"attention_mask row 0", "not right-padded", "position 2"});
  expect_error([&] { run({5, 6, 7, 0, 8, 100, 0, 0}, mask, nullptr, nullptr, 4); },
               {"input_ids[1][1] = 100", "vocabulary [0, 100)"});
  expect_error([&] { run({5, -1, 7, 0, 8, 9, 0, 0}, mask, nullptr, nullptr, 4); }, {"input_ids[0][1] = -1"});
  std::vector<int32_t> types = {0, 2, 0, 0, 0, 0, 0, 0};
  expect_error([&] { run(ids, mask, types.data(), nullptr, 4); }, {"token_type_ids[0][1] = 2"});
  std::vector<int32_t> slots = {0, 7};
  expect_error([&] { run(ids, mask, nullptr, slots.data(), 4); }, {"adapter_ids[1] = 7", "no adapter"});
  std::vector<int32_t> long_ids(2 * 70, 5), long_mask(2 * 70, 1);
  expect_error([&] { bb.last_hidden_state(long_ids.data(), long_mask.data(), nullptr, nullptr, 2, 70, out.data()); },
               {"sequence 0 has 70 tokens", "at most 64"});
  expect_error([&] { bb.embed(ids.data(), mask.data(), nullptr, nullptr, 2, 4, "max", false, out.data()); },
               {"pooling 'max'"});
  expect_error([&] { bb.adapter_id("nope"); }, {"unknown adapter 'nope'", "plain, tagger"});
  expect_error([&] { bb.unload_adapter("nope"); }, {"unknown adapter 'nope'"});
  // token_logits: heads required, out_classes wide enough.
  const int32_t tagger = bb.adapter_id("tagger"), plain = bb.adapter_id("plain");
  std::vector<int32_t> with_tagger = {tagger, tagger}, with_plain = {tagger, plain}, with_none = {-1, tagger};
  bb.token_logits(ids.data(), mask.data(), nullptr, with_tagger.data(), 2, 4, 8, logits.data());
  expect_error([&] { bb.token_logits(ids.data(), mask.data(), nullptr, with_tagger.data(), 2, 4, 4, logits.data()); },
               {"out_classes 4", "'tagger'", "5 classes"});
  expect_error([&] { bb.token_logits(ids.data(), mask.data(), nullptr, with_plain.data(), 2, 4, 8, logits.data()); },
               {"'plain'", "without a head"});
  expect_error([&] { bb.token_logits(ids.data(), mask.data(), nullptr, with_none.data(), 2, 4, 8, logits.data()); },
               {"sequence 0", "no adapter"});
  expect_error([&] { bb.token_logits(ids.data(), mask.data(), nullptr, nullptr, 2, 4, 8, logits.data()); },
               {"no adapter"});
  expect_error([&] { bb.set_num_threads(0); }, {"at least 1"});
}

}  // namespace
}  // namespace mtpf::rt
