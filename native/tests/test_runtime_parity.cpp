// Parity of the libtorch-free runtime (native/runtime) with the libtorch core: the same model folder and the same
// PEFT adapter + head, produced by the core's own training session (ner-adapt, a few steps, so B is non-zero), must
// give the same last hidden states, pooled embeddings and token logits (max |diff| <= 1e-4 in fp32), with and
// without adapters and in mixed-adapter batches. A real-model check runs on bge-small-en-v1.5 when it is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "mtpf/api.h"
#include "mtpf/runtime.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

constexpr float kTolerance = 1e-4f;

// A right-padded batch, as int64 for the core and int32 for the runtime.
struct Batch {
  int batch = 0, seq = 0;
  std::vector<int64_t> ids, mask;
  std::vector<int32_t> ids32, mask32;
  std::vector<int> lengths;
};

Batch make_batch(const std::vector<std::vector<int>>& rows) {
  Batch b;
  b.batch = static_cast<int>(rows.size());
  for (const auto& r : rows) b.seq = std::max(b.seq, static_cast<int>(r.size()));
  b.ids.assign(static_cast<size_t>(b.batch) * b.seq, 0);
  b.mask.assign(b.ids.size(), 0);
  for (int i = 0; i < b.batch; ++i) {
    b.lengths.push_back(static_cast<int>(rows[i].size()));
    for (size_t t = 0; t < rows[i].size(); ++t) {
      b.ids[i * b.seq + t] = rows[i][t];
      b.mask[i * b.seq + t] = 1;
    }
  }
  b.ids32.assign(b.ids.begin(), b.ids.end());
  b.mask32.assign(b.mask.begin(), b.mask.end());
  return b;
}

Batch random_batch(const std::vector<int>& lengths, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int>> rows;
  for (int len : lengths) {
    std::vector<int> r;
    for (int t = 0; t < len; ++t) r.push_back(5 + static_cast<int>(rng() % (vocab - 5)));
    rows.push_back(r);
  }
  return make_batch(rows);
}

// Max |a - b| over the real (unpadded) positions of [batch, seq, width] arrays.
float max_diff_real(const Batch& b, const std::vector<float>& a, const std::vector<float>& c, int width,
                    int only_row = -1) {
  float m = 0;
  for (int i = 0; i < b.batch; ++i) {
    if (only_row >= 0 && i != only_row) continue;
    for (int t = 0; t < b.lengths[i]; ++t)
      for (int k = 0; k < width; ++k) {
        const size_t at = (static_cast<size_t>(i) * b.seq + t) * width + k;
        m = std::max(m, std::fabs(a[at] - c[at]));
      }
  }
  return m;
}

// A ner-adapt session (LoRA r 4 on query, key and the MLP of every layer, stage 2: LoRA + head) trained a few
// steps on random labels, then exported as a PEFT folder with head_ner beside it.
std::unique_ptr<mtpf::Trainer> train_adapter(const std::string& model_dir, const std::string& out, int vocab,
                                             uint64_t seed, int rank = 4) {
  const nlohmann::json config = {{"strategy", "ner-adapt"},
                                 {"seed", seed},
                                 {"ner", {{"classes", 5}}},
                                 {"lora", {{"r", rank}, {"alpha", 2 * rank}, {"last_layers", 0}}},
                                 {"optimizer", {{"lr", 1e-2}, {"total_steps", 10}}},
                                 {"adapt", {{"stage", 2}}}};
  auto trainer = std::make_unique<mtpf::Trainer>(model_dir, config.dump());
  std::mt19937 rng(static_cast<uint32_t>(seed));
  for (int step = 0; step < 3; ++step) {
    const int n = 4, len = 8;
    std::vector<int64_t> ids(n * len), mask(n * len, 1), labels(n * len);
    for (int i = 0; i < n * len; ++i) {
      ids[i] = 5 + rng() % (vocab - 5);
      labels[i] = rng() % 5;
    }
    mtpf::StepBatch batch;
    batch.ner_ids = ids.data();
    batch.ner_mask = mask.data();
    batch.ner_labels = labels.data();
    batch.ner_rows = n;
    batch.ner_len = len;
    trainer->step(batch);
  }
  trainer->export_adapter("ner", out);
  return trainer;
}

// Checks one max |diff| against the tolerance and prints it (the figures go into the runtime's notes).
void expect_close(float diff, const std::string& what) {
  std::printf("[ parity   ] %-48s max|diff| %.3g\n", what.c_str(), diff);
  EXPECT_LE(diff, kTolerance) << what;
}

// Runs every comparison of one model folder against the core. adapters: trained sessions and their folders.
void check_parity(const std::string& model_dir, const Batch& b,
                  const std::vector<std::pair<mtpf::Trainer*, std::string>>& adapters) {
  mtpf::Encoder core(model_dir, "cpu", "fp32");
  mtpf::rt::Backbone rt(model_dir, "fp32");
  rt.set_num_threads(2);
  const int H = rt.hidden_size();
  ASSERT_EQ(H, core.hidden_size());
  const size_t n = static_cast<size_t>(b.batch) * b.seq * H;

  // Without adapter: last hidden state and pooled embeddings.
  std::vector<float> want(n), got(n);
  core.last_hidden_state(b.ids.data(), b.mask.data(), nullptr, b.batch, b.seq, want.data());
  rt.last_hidden_state(b.ids32.data(), b.mask32.data(), nullptr, nullptr, b.batch, b.seq, got.data());
  expect_close(max_diff_real(b, want, got, H), "last_hidden_state, no adapter");
  for (const char* pooling : {"mean", "cls"})
    for (bool normalize : {false, true}) {
      std::vector<float> pw(static_cast<size_t>(b.batch) * H), pg(pw.size());
      core.pooled(b.ids.data(), b.mask.data(), nullptr, b.batch, b.seq, pooling, normalize, pw.data());
      rt.embed(b.ids32.data(), b.mask32.data(), nullptr, nullptr, b.batch, b.seq, pooling, normalize, pg.data());
      float m = 0;
      for (size_t i = 0; i < pw.size(); ++i) m = std::max(m, std::fabs(pw[i] - pg[i]));
      expect_close(m, std::string("embed ") + pooling + (normalize ? " normalized" : ""));
    }

  // Each adapter alone: hidden states (core: the session's model with the ner LoRA active) and token logits.
  std::vector<std::vector<float>> adapter_hidden;
  std::vector<int32_t> slots;
  for (size_t a = 0; a < adapters.size(); ++a) {
    const std::string name = "ner" + std::to_string(a);
    rt.load_adapter(name, adapters[a].second, "ner");
    slots.push_back(rt.adapter_id(name));
    std::vector<float> w(n), g(n);
    adapters[a].first->token_states(b.ids.data(), b.mask.data(), b.batch, b.seq, "ner", w.data());
    std::vector<int32_t> same(b.batch, slots.back());
    rt.last_hidden_state(b.ids32.data(), b.mask32.data(), nullptr, same.data(), b.batch, b.seq, g.data());
    expect_close(max_diff_real(b, w, g, H), "last_hidden_state with adapter " + std::to_string(a));
    EXPECT_GT(max_diff_real(b, w, want, H), 1e-3) << "adapter " << a << " changes nothing (B still zero?)";
    const int C = rt.head_classes(name);
    ASSERT_EQ(C, 5);
    std::vector<float> lw(static_cast<size_t>(b.batch) * b.seq * C), lg(lw.size());
    adapters[a].first->ner_logits(b.ids.data(), b.mask.data(), b.batch, b.seq, lw.data());
    rt.token_logits(b.ids32.data(), b.mask32.data(), nullptr, same.data(), b.batch, b.seq, C, lg.data());
    expect_close(max_diff_real(b, lw, lg, C), "token_logits with adapter " + std::to_string(a));
    // The torch Encoder with the same folder loaded by name: what inference runs, without a training session.
    core.load_adapter(name, adapters[a].second, "ner");
    ASSERT_EQ(core.head_classes(name), C);
    std::vector<float> e(n), le(lw.size());
    core.last_hidden_state(b.ids.data(), b.mask.data(), nullptr, b.batch, b.seq, e.data(), name);
    expect_close(max_diff_real(b, w, e, H), "core Encoder last_hidden_state with adapter " + std::to_string(a));
    core.token_logits(b.ids.data(), b.mask.data(), nullptr, b.batch, b.seq, name, le.data());
    expect_close(max_diff_real(b, lw, le, C), "core Encoder token_logits with adapter " + std::to_string(a));
    adapter_hidden.push_back(w);
  }
  // The adapters stay apart: the base model is unchanged with them loaded, and an unloaded name is gone.
  std::vector<float> base_again(n);
  core.last_hidden_state(b.ids.data(), b.mask.data(), nullptr, b.batch, b.seq, base_again.data());
  EXPECT_EQ(max_diff_real(b, want, base_again, H), 0.0f);
  if (!adapters.empty()) {
    EXPECT_THROW(core.load_adapter("ner0", adapters[0].second, "ner"), std::exception);  // loaded already
    core.unload_adapter("ner0");
    EXPECT_THROW(core.last_hidden_state(b.ids.data(), b.mask.data(), nullptr, b.batch, b.seq, base_again.data(), "ner0"),
                 std::exception);
    EXPECT_THROW(core.load_adapter("x", "/nonexistent/adapter", "ner"), std::exception);
  }

  // Mixed batch: row i uses slot (i % (adapters + 1)) - 1, i.e. none, adapter 0, adapter 1, ...
  std::vector<int32_t> mixed(b.batch);
  for (int i = 0; i < b.batch; ++i) {
    const int k = i % static_cast<int>(adapters.size() + 1) - 1;
    mixed[i] = k < 0 ? -1 : slots[k];
  }
  rt.last_hidden_state(b.ids32.data(), b.mask32.data(), nullptr, mixed.data(), b.batch, b.seq, got.data());
  for (int i = 0; i < b.batch; ++i) {
    const int k = i % static_cast<int>(adapters.size() + 1) - 1;
    expect_close(max_diff_real(b, k < 0 ? want : adapter_hidden[k], got, H, i),
                 "mixed batch, row " + std::to_string(i) + (k < 0 ? " (no adapter)" : " (adapter " + std::to_string(k) + ")"));
  }
}

TEST(RuntimeParity, RandomBertAndDistilBertWithTrainedAdapters) {
  for (const std::string type : {"bert", "distilbert"}) {
    SCOPED_TRACE(type);
    const auto dir = mtpf::test::temp_dir("parity-" + type);
    nlohmann::json config = mtpf::test::tiny_config(type);
    std::ofstream(dir / "config.json") << config.dump();
    mtpf::model_init_random((dir / "config.json").string(), (dir / "model").string(), 5);
    const std::string model = (dir / "model").string();
    auto a = train_adapter(model, (dir / "a").string(), 100, 11);
    auto c = train_adapter(model, (dir / "c").string(), 100, 12);
    const Batch b = random_batch({8, 5, 12, 3, 1, 9}, 100, 3);
    check_parity(model, b, {{a.get(), (dir / "a").string()}, {c.get(), (dir / "c").string()}});
  }
}

// Greedy longest-match WordPiece over vocab.txt after lower-casing and splitting off punctuation: real sub-word
// ids for real sentences (both engines see the same ids, so it need not equal HF's tokenizer in every corner).
std::vector<int> wordpiece(const std::string& text, const std::unordered_map<std::string, int>& vocab) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (std::isspace(u) || std::ispunct(u)) {
      if (!cur.empty()) words.push_back(cur);
      cur.clear();
      if (std::ispunct(u)) words.push_back(std::string(1, ch));
    } else {
      cur += static_cast<char>(std::tolower(u));
    }
  }
  if (!cur.empty()) words.push_back(cur);
  std::vector<int> ids = {vocab.at("[CLS]")};
  for (const auto& w : words) {
    size_t start = 0;
    std::vector<int> pieces;
    while (start < w.size()) {
      size_t end = w.size();
      int found = -1;
      for (; end > start; --end) {
        auto it = vocab.find((start ? "##" : "") + w.substr(start, end - start));
        if (it != vocab.end()) {
          found = it->second;
          break;
        }
      }
      if (found < 0) {
        pieces = {vocab.at("[UNK]")};
        break;
      }
      pieces.push_back(found);
      start = end;
    }
    ids.insert(ids.end(), pieces.begin(), pieces.end());
  }
  ids.push_back(vocab.at("[SEP]"));
  return ids;
}

TEST(RuntimeParity, RealModelBgeSmall) {
  const char* env = std::getenv("MTPF_MODELS_DIR");
  const fs::path models = env ? fs::path(env) : fs::path(__FILE__).parent_path().parent_path().parent_path() / "models";
  const fs::path model = models / "bge-small-en-v15";
  if (!fs::exists(model / "model.safetensors"))
    GTEST_SKIP() << "SKIPPED: " << model.string() << " is absent (./mtpf models pull bge-small-en-v15, or set MTPF_MODELS_DIR)";
  std::unordered_map<std::string, int> vocab;
  {
    std::ifstream in(model / "vocab.txt");
    std::string line;
    for (int i = 0; std::getline(in, line); ++i) vocab[line] = i;
  }
  const std::vector<std::string> sentences = {
      "Angela Merkel met Emmanuel Macron in Paris on Tuesday.",
      "EU rejects German call to boycott British lamb.",
      "The quick brown fox jumps over the lazy dog near the riverbank, while children watch from the bridge.",
      "How do I reset my card?",
      "Peter Blackburn",
      "Shares of Apple Inc. rose 3% after the company reported record quarterly revenue in Cupertino, California."};
  std::vector<std::vector<int>> rows;
  for (const auto& s : sentences) rows.push_back(wordpiece(s, vocab));
  const Batch b = make_batch(rows);
  const auto dir = mtpf::test::temp_dir("parity-bge");
  auto a = train_adapter(model.string(), (dir / "a").string(), static_cast<int>(vocab.size()), 21, 8);
  check_parity(model.string(), b, {{a.get(), (dir / "a").string()}});
}

}  // namespace
