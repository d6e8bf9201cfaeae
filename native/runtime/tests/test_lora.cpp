// Adapters: forward with an adapter == forward of the backbone with W + scaling * B A merged; mixed-adapter batches
// == one adapter at a time; heads; loading, replacing and unloading; memory.
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <thread>

#include "mtpf/runtime.h"
#include "test_util.h"

namespace mtpf::rt {
namespace {

using test::max_abs_diff;
using test::TinyAdapter;
using test::TinyModel;
using test::write_adapter;
using test::write_tiny_model;

struct Inputs {
  int batch, seq;
  std::vector<int32_t> ids, mask;
  std::vector<std::vector<int>> rows;
};

Inputs make_inputs(const TinyModel& m, const std::vector<int>& lengths, uint32_t seed) {
  std::mt19937 rng(seed);
  Inputs in{static_cast<int>(lengths.size()), 0, {}, {}, {}};
  for (int l : lengths) in.seq = std::max(in.seq, l);
  in.ids.assign(static_cast<size_t>(in.batch) * in.seq, m.pad);
  in.mask.assign(in.ids.size(), 0);
  for (int r = 0; r < in.batch; ++r) {
    std::vector<int> row;
    for (int t = 0; t < lengths[r]; ++t) {
      row.push_back(2 + static_cast<int>(rng() % (m.vocab - 2)));
      in.ids[r * in.seq + t] = row.back();
      in.mask[r * in.seq + t] = 1;
    }
    in.rows.push_back(row);
  }
  return in;
}

// Table of adapter shapes: targets, layers, rank, alpha, rsLoRA, checkpoint key prefix.
struct AdapterCase {
  const char* model;
  std::vector<std::string> roles;
  std::vector<int> layers;
  int r;
  double alpha;
  bool rslora;
  const char* key_prefix;
};
const AdapterCase kAdapterCases[] = {
    {"bert", {"query", "key", "intermediate", "output"}, {}, 4, 8, false, ""},  // the core's default targets
    {"bert", {"value", "attention_output"}, {1}, 2, 3, true, "bert."},
    {"roberta", {"query", "output"}, {0}, 8, 16, false, "roberta."},
    {"distilbert", {"query", "key", "intermediate", "output"}, {}, 4, 8, false, ""},
    {"distilbert", {"value", "attention_output"}, {1}, 3, 5, false, "distilbert."},
};

TEST(Lora, AdapterForwardEqualsMergedWeightsForward) {
  for (const auto& c : kAdapterCases) {
    SCOPED_TRACE(std::string(c.model) + " r=" + std::to_string(c.r) + " prefix " + c.key_prefix);
    TinyModel m = write_tiny_model(c.model, 21);
    TinyAdapter a = write_adapter(m, 22, c.roles, c.layers, c.r, c.alpha, c.rslora, 0, c.key_prefix);
    Backbone bb(m.dir.string(), "fp32");
    bb.load_adapter("a", a.dir.string(), "");
    const int32_t slot = bb.adapter_id("a");
    // A merged copy of the model, as a second backbone.
    TinyModel merged = m;
    merged.dir = test::temp_dir("merged");
    merged.weights = test::merged_weights(m, a);
    safetensors_write_f32((merged.dir / "model.safetensors").string(), merged.weights);
    test::write_json(merged.dir / "config.json", m.config);
    Backbone mb(merged.dir.string(), "fp32");
    Inputs in = make_inputs(m, {6, 13, 1}, 23);
    const size_t n = static_cast<size_t>(in.batch) * in.seq * m.hidden;
    std::vector<float> with(n), merged_out(n), base(n);
    std::vector<int32_t> slots(in.batch, slot);
    bb.last_hidden_state(in.ids.data(), in.mask.data(), nullptr, slots.data(), in.batch, in.seq, with.data());
    mb.last_hidden_state(in.ids.data(), in.mask.data(), nullptr, nullptr, in.batch, in.seq, merged_out.data());
    bb.last_hidden_state(in.ids.data(), in.mask.data(), nullptr, nullptr, in.batch, in.seq, base.data());
    EXPECT_LT(max_abs_diff(with.data(), merged_out.data(), n), 1e-4);
    EXPECT_GT(max_abs_diff(with.data(), base.data(), n), 1e-2);  // the adapter does something
    // And the naive reference on merged weights.
    for (int r = 0; r < in.batch; ++r) {
      auto ref = test::reference_forward(m, merged.weights, in.rows[r]);
      EXPECT_LT(max_abs_diff(with.data() + r * in.seq * m.hidden, ref.data(), ref.size()), 1e-4);
    }
  }
}

TEST(Lora, MixedAdapterBatchEqualsOneAdapterAtATime) {
  for (const std::string weights : {"fp32", "int8"}) {
    SCOPED_TRACE(weights);
    TinyModel m = write_tiny_model("bert", 31);
    Backbone bb(m.dir.string(), weights);
    // Five adapters of different ranks and targets (so their A rows interleave in the stacks).
    std::vector<int32_t> ids;
    for (int k = 0; k < 5; ++k) {
      TinyAdapter a = write_adapter(m, 40 + k, k % 2 ? std::vector<std::string>{"query", "output"}
                                                     : std::vector<std::string>{"key", "value", "intermediate"},
                                    {}, 2 + k, 4.0 + k);
      bb.load_adapter("a" + std::to_string(k), a.dir.string(), "");
      ids.push_back(bb.adapter_id("a" + std::to_string(k)));
    }
    Inputs in = make_inputs(m, {5, 9, 3, 12, 7, 1, 8, 4}, 32);
    const std::vector<int32_t> slots = {ids[4], -1, ids[0], ids[2], ids[4], ids[1], -1, ids[0]};
    const size_t per_row = static_cast<size_t>(in.seq) * m.hidden;
    std::vector<float> mixed(in.batch * per_row);
    bb.last_hidden_state(in.ids.data(), in.mask.data(), nullptr, slots.data(), in.batch, in.seq, mixed.data());
    for (int r = 0; r < in.batch; ++r) {
      std::vector<float> one(per_row);
      bb.last_hidden_state(in.ids.data() + r * in.seq, in.mask.data() + r * in.seq, nullptr, &slots[r], 1, in.seq,
                           one.data());
      EXPECT_LT(max_abs_diff(mixed.data() + r * per_row, one.data(), per_row), 1e-5) << "row " << r;
    }
  }
}

TEST(Lora, ManyLoadedAdaptersAndUnloadKeepEachAdapterExact) {
  TinyModel m = write_tiny_model("distilbert", 33);
  Backbone bb(m.dir.string(), "fp32");
  const std::vector<std::string> roles = {"query", "key", "intermediate", "output"};
  std::vector<TinyAdapter> adapters;
  for (int k = 0; k < 12; ++k) {
    adapters.push_back(write_adapter(m, 50 + k, roles, {}, 4, 8));
    bb.load_adapter("n" + std::to_string(k), adapters.back().dir.string(), "");
  }
  Inputs in = make_inputs(m, {10, 6}, 34);
  auto run = [&](Backbone& b, int32_t slot) {
    std::vector<float> out(static_cast<size_t>(in.batch) * m.hidden);
    std::vector<int32_t> s(in.batch, slot);
    b.embed(in.ids.data(), in.mask.data(), nullptr, s.data(), in.batch, in.seq, "mean", false, out.data());
    return out;
  };
  // The last adapter alone (its A rows sit after eleven unused ones), then after unloading others.
  Backbone single(m.dir.string(), "fp32");
  single.load_adapter("x", adapters[11].dir.string(), "");
  const auto want = run(single, single.adapter_id("x"));
  auto got = run(bb, bb.adapter_id("n11"));
  EXPECT_LT(max_abs_diff(got.data(), want.data(), want.size()), 1e-5);
  for (int k = 0; k < 11; k += 2) bb.unload_adapter("n" + std::to_string(k));
  got = run(bb, bb.adapter_id("n11"));
  EXPECT_LT(max_abs_diff(got.data(), want.data(), want.size()), 1e-5);
  // A slot freed by unload is reused; replacing an adapter under the same name takes effect.
  bb.load_adapter("late", adapters[11].dir.string(), "");
  EXPECT_EQ(bb.adapter_id("late"), 0);
  got = run(bb, bb.adapter_id("late"));
  EXPECT_LT(max_abs_diff(got.data(), want.data(), want.size()), 1e-5);
  bb.load_adapter("n11", adapters[1].dir.string(), "");
  single.load_adapter("x", adapters[1].dir.string(), "");
  got = run(bb, bb.adapter_id("n11"));
  const auto want1 = run(single, single.adapter_id("x"));
  EXPECT_LT(max_abs_diff(got.data(), want1.data(), want1.size()), 1e-5);
  EXPECT_EQ(bb.adapter_names(), "late\nn1\nn11\nn3\nn5\nn7\nn9");
}

TEST(Lora, TokenLogitsApplyEachSequencesHead) {
  TinyModel m = write_tiny_model("bert", 35);
  Backbone bb(m.dir.string(), "fp32");
  TinyAdapter a = write_adapter(m, 36, {"query", "key"}, {}, 4, 8, false, 5);
  TinyAdapter b = write_adapter(m, 37, {"intermediate"}, {}, 2, 2, false, 3);
  bb.load_adapter("a", a.dir.string(), "ner");
  bb.load_adapter("b", b.dir.string(), "ner");
  EXPECT_EQ(bb.head_classes("a"), 5);
  EXPECT_EQ(bb.head_labels("b"), "O\nB-T1\nI-T2");
  Inputs in = make_inputs(m, {4, 7, 2}, 38);
  const std::vector<int32_t> slots = {bb.adapter_id("b"), bb.adapter_id("a"), bb.adapter_id("b")};
  const int C = 6;
  std::vector<float> logits(static_cast<size_t>(in.batch) * in.seq * C), hidden(static_cast<size_t>(in.batch) * in.seq * m.hidden);
  bb.token_logits(in.ids.data(), in.mask.data(), nullptr, slots.data(), in.batch, in.seq, C, logits.data());
  bb.last_hidden_state(in.ids.data(), in.mask.data(), nullptr, slots.data(), in.batch, in.seq, hidden.data());
  for (int r = 0; r < in.batch; ++r) {
    const TinyAdapter& ad = slots[r] == bb.adapter_id("a") ? a : b;
    const int classes = static_cast<int>(ad.head_bias.size());
    for (int t = 0; t < in.seq; ++t)
      for (int c = 0; c < C; ++c) {
        const float got = logits[(r * in.seq + t) * C + c];
        if (t >= static_cast<int>(in.rows[r].size())) {
          EXPECT_EQ(got, 0.0f);
        } else if (c >= classes) {
          EXPECT_EQ(got, -std::numeric_limits<float>::infinity());
        } else {
          double want = ad.head_bias[c];
          for (int i = 0; i < m.hidden; ++i)
            want += double(ad.head_weight[c * m.hidden + i]) * hidden[(r * in.seq + t) * m.hidden + i];
          EXPECT_NEAR(got, want, 1e-4);
        }
      }
  }
  EXPECT_GT(bb.adapter_bytes("a"), 0);
  EXPECT_LT(bb.adapter_bytes("b"), bb.adapter_bytes("a"));
}

TEST(Lora, AdapterBytesCountLoraAndHead) {
  TinyModel m = write_tiny_model("bert", 39);
  Backbone bb(m.dir.string(), "fp32");
  TinyAdapter a = write_adapter(m, 40, {"query"}, {0}, 4, 8, false, 3);
  bb.load_adapter("a", a.dir.string(), "ner");
  // A [4, 32] + B [32, 4] + head [3, 32] + [3], in fp32.
  EXPECT_EQ(bb.adapter_bytes("a"), 4LL * (4 * 32 + 32 * 4 + 3 * 32 + 3));
}

}  // namespace
}  // namespace mtpf::rt

namespace mtpf::rt {
namespace {

// Forwards from several threads at once, while another thread loads and unloads adapters, give exactly what one
// thread alone gets.
TEST(Lora, ConcurrentForwardsAndAdapterLoadsAgree) {
  TinyModel m = write_tiny_model("bert", 81);
  Backbone bb(m.dir.string(), "fp32");
  bb.set_num_threads(2);
  TinyAdapter a = write_adapter(m, 82, {"query", "intermediate"});
  TinyAdapter other = write_adapter(m, 83, {"key"});
  bb.load_adapter("a", a.dir.string(), "");
  const int32_t slot = bb.adapter_id("a");
  Inputs in = make_inputs(m, {9, 4, 13}, 84);
  const std::vector<int32_t> slots = {slot, -1, slot};
  const size_t n = static_cast<size_t>(in.batch) * m.hidden;
  std::vector<float> want(n);
  bb.embed(in.ids.data(), in.mask.data(), nullptr, slots.data(), in.batch, in.seq, "mean", false, want.data());
  std::atomic<int> mismatches{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&] {
      std::vector<float> got(n);
      for (int i = 0; i < 20; ++i) {
        bb.embed(in.ids.data(), in.mask.data(), nullptr, slots.data(), in.batch, in.seq, "mean", false, got.data());
        if (max_abs_diff(got.data(), want.data(), n) > 1e-5) ++mismatches;
      }
    });
  std::thread loader([&] {
    for (int i = 0; !stop; ++i) {
      bb.load_adapter("other", other.dir.string(), "");
      bb.unload_adapter("other");
    }
  });
  for (auto& w : workers) w.join();
  stop = true;
  loader.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// 16 callers share one backbone, each with its own mix of adapters per sequence (pooled and token-logit calls),
// while another thread keeps loading and unloading adapters (named and, by their slots, reused): every caller gets,
// every time, exactly what it got alone. ThreadSanitizer runs this too (scripts/test-sanitizers.sh).
TEST(Lora, SixteenCallersWithMixedAdaptersWhileAdaptersComeAndGo) {
  TinyModel m = write_tiny_model("bert", 91);
  Backbone bb(m.dir.string(), "fp32");
  bb.set_num_threads(2);
  TinyAdapter a = write_adapter(m, 92, {"query", "intermediate"}, {}, 4, 8, false, 5);
  TinyAdapter b = write_adapter(m, 93, {"key", "output"}, {}, 2, 2, false, 3);
  TinyAdapter churn = write_adapter(m, 94, {"value"}, {}, 2, 4, false, 4);
  bb.load_adapter("a", a.dir.string(), "ner");
  bb.load_adapter("b", b.dir.string(), "ner");
  const int32_t A = bb.adapter_id("a"), B = bb.adapter_id("b");
  constexpr int kCallers = 16, kCalls = 12, C = 6;
  struct Case {
    Inputs in;
    std::vector<int32_t> slots;
    std::vector<float> pooled, logits;
  };
  std::vector<Case> cases;
  for (int t = 0; t < kCallers; ++t) {
    Case c{make_inputs(m, {3 + t % 5, 9, 1 + t % 7, 12}, 100 + t), {}, {}, {}};
    const int32_t mixes[4][4] = {{A, B, B, A}, {-1, -1, B, -1}, {B, A, A, B}, {A, -1, A, -1}};
    c.slots.assign(mixes[t % 4], mixes[t % 4] + 4);
    c.pooled.resize(static_cast<size_t>(c.in.batch) * m.hidden);
    c.logits.resize(static_cast<size_t>(c.in.batch) * c.in.seq * C);
    bb.embed(c.in.ids.data(), c.in.mask.data(), nullptr, c.slots.data(), c.in.batch, c.in.seq, "mean", true,
             c.pooled.data());
    if (t % 2 == 0)  // token logits need a head on every sequence's adapter: mixes 0 and 2
      bb.token_logits(c.in.ids.data(), c.in.mask.data(), nullptr, c.slots.data(), c.in.batch, c.in.seq, C,
                      c.logits.data());
    cases.push_back(std::move(c));
  }
  std::atomic<int> mismatches{0}, errors{0}, churned{0};
  std::atomic<bool> stop{false};
  std::thread loader([&] {
    for (int i = 0; !stop; ++i) {
      const std::string name = "churn" + std::to_string(i % 3);
      bb.load_adapter(name, churn.dir.string(), i % 2 ? "ner" : "");
      bb.unload_adapter(name);
      ++churned;
    }
  });
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t)
    callers.emplace_back([&, t] {
      const Case& c = cases[t];
      std::vector<float> pooled(c.pooled.size()), logits(c.logits.size());
      try {
        for (int i = 0; i < kCalls; ++i) {
          bb.embed(c.in.ids.data(), c.in.mask.data(), nullptr, c.slots.data(), c.in.batch, c.in.seq, "mean", true,
                   pooled.data());
          if (max_abs_diff(pooled.data(), c.pooled.data(), pooled.size()) > 1e-5) ++mismatches;
          if (t % 2 == 1) continue;
          bb.token_logits(c.in.ids.data(), c.in.mask.data(), nullptr, c.slots.data(), c.in.batch, c.in.seq, C,
                          logits.data());
          if (max_abs_diff(logits.data(), c.logits.data(), logits.size()) > 1e-5) ++mismatches;
        }
      } catch (const std::exception& e) {
        ++errors;
        ADD_FAILURE() << "caller " << t << ": " << e.what();
      }
    });
  for (auto& c : callers) c.join();
  stop = true;
  loader.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(churned.load(), 0);
}

}  // namespace
}  // namespace mtpf::rt
