// The public, torch-free API: what Java calls. Errors must surface as exceptions with clear messages.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include <vector>

#include "mtpf/api.h"
#include "test_util.h"

using namespace mtpf;

static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(Api, PooledEqualsMeanOfLastHiddenState) {
  auto dir = test::write_tiny_model("bert", "api");
  Encoder enc(dir.string(), "cpu", "fp32");
  EXPECT_EQ(enc.model_type(), "bert");
  const int B = 2, T = 4, H = enc.hidden_size();
  std::vector<int64_t> ids = {2, 5, 6, 3, 2, 7, 3, 0}, mask = {1, 1, 1, 1, 1, 1, 1, 0};
  std::vector<float> hidden(B * T * H), pooled(B * H);
  enc.last_hidden_state(ids.data(), mask.data(), nullptr, B, T, hidden.data());
  enc.pooled(ids.data(), mask.data(), nullptr, B, T, "mean", false, pooled.data());
  for (int h = 0; h < H; ++h) {
    float expect = (hidden[(1 * T + 0) * H + h] + hidden[(1 * T + 1) * H + h] + hidden[(1 * T + 2) * H + h]) / 3;
    EXPECT_NEAR(pooled[H + h], expect, 1e-5);
  }
  int layers[] = {-1, 0};
  std::vector<float> both(B * T * H * 2);
  enc.hidden_states(ids.data(), mask.data(), nullptr, B, T, layers, 2, both.data());
  EXPECT_FLOAT_EQ(both[0], hidden[0]);
}

TEST(Api, Bf16AutocastOnTheCpuStaysCloseToFp32) {
  auto dir = test::write_tiny_model("bert", "api-bf16");
  Encoder fp32(dir.string(), "cpu", "fp32"), bf16(dir.string(), "cpu", "bf16");
  const int B = 2, T = 4, H = fp32.hidden_size();
  std::vector<int64_t> ids = {2, 5, 6, 3, 2, 7, 3, 0}, mask = {1, 1, 1, 1, 1, 1, 1, 0};
  std::vector<float> a(B * H), b(B * H);
  fp32.pooled(ids.data(), mask.data(), nullptr, B, T, "mean", false, a.data());
  bf16.pooled(ids.data(), mask.data(), nullptr, B, T, "mean", false, b.data());
  double diff = 0, norm = 0;
  for (int i = 0; i < B * H; ++i) diff += (a[i] - b[i]) * (a[i] - b[i]), norm += a[i] * a[i];
  EXPECT_GT(diff, 0.0);                          // bf16 did run
  EXPECT_LT(std::sqrt(diff / norm), 2e-2);       // and stayed close
}

TEST(Api, BadInputsThrowWithReasons) {
  auto dir = test::write_tiny_model("bert", "api-bad");
  Encoder enc(dir.string(), "cpu", "fp32");
  std::vector<int64_t> ids = {2, 500, 3}, mask = {1, 1, 1};
  std::vector<float> out(3 * enc.hidden_size());
  EXPECT_NE(error_of([&] { enc.last_hidden_state(ids.data(), mask.data(), nullptr, 1, 3, out.data()); })
                .find("outside the vocabulary"),
            std::string::npos);
  ids[1] = 5;
  mask[1] = 2;
  EXPECT_NE(error_of([&] { enc.last_hidden_state(ids.data(), mask.data(), nullptr, 1, 3, out.data()); })
                .find("must be 0 or 1"),
            std::string::npos);
  std::vector<int64_t> long_ids(100, 5), long_mask(100, 1);
  std::vector<float> long_out(100 * enc.hidden_size());
  EXPECT_NE(error_of([&] { enc.last_hidden_state(long_ids.data(), long_mask.data(), nullptr, 1, 100, long_out.data()); })
                .find("exceeds the model's maximum"),
            std::string::npos);
  EXPECT_NE(error_of([] { Encoder e("/nonexistent/model", "cpu", "fp32"); }).find("not found"), std::string::npos);
  EXPECT_NE(error_of([&] { Encoder e(dir.string(), "tpu", "fp32"); }).find("unknown device"), std::string::npos);
  EXPECT_NE(error_of([&] { Encoder e(dir.string(), "cpu", "fp16"); }).find("unknown precision"), std::string::npos);
  EXPECT_NE(error_of([] { set_num_threads(0); }).find("positive"), std::string::npos);
}

// One training step through the API's struct: a good one runs; each bad field is refused, named.
TEST(Api, StepBatchIsCheckedOnceNamingTheField) {
  auto dir = test::write_tiny_model("bert", "api-step");
  Trainer trainer(dir.string(), R"({"strategy": "mtpf", "ner": {"classes": 5}, "tc": {"chunk_size": 0}})");
  std::vector<int64_t> a = {2, 7, 9, 3, 2, 8, 3, 0}, am = {1, 1, 1, 1, 1, 1, 1, 0};  // 2 rows x 4
  std::vector<int64_t> p = {2, 11, 3, 2, 12, 3}, pm(6, 1);                            // 2 rows x 3
  std::vector<int64_t> n = {2, 5, 6, 3}, nm(4, 1), labels = {-100, 1, 4, -100};       // 1 row x 4
  auto good = [&] {
    StepBatch b;
    b.tc_anchor_ids = a.data(), b.tc_anchor_mask = am.data(), b.tc_anchor_len = 4;
    b.tc_positive_ids = p.data(), b.tc_positive_mask = pm.data(), b.tc_positive_len = 3;
    b.tc_rows = 2;
    b.ner_ids = n.data(), b.ner_mask = nm.data(), b.ner_labels = labels.data();
    b.ner_rows = 1, b.ner_len = 4;
    return b;
  };
  const StepResult r = trainer.step(good());
  EXPECT_TRUE(r.read && r.optimizer_stepped);
  EXPECT_TRUE(std::isfinite(r.tc_loss) && std::isfinite(r.ner_loss) && std::isfinite(r.grad_norm));
  EXPECT_TRUE(std::isnan(r.grad_cosine));  // not measured
  auto refused = [&](const std::function<void(StepBatch&)>& spoil, const std::string& named) {
    StepBatch b = good();
    spoil(b);
    std::string message;
    try {
      trainer.step(b);
    } catch (const std::exception& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(named), std::string::npos) << "expected '" << named << "', got '" << message << "'";
  };
  refused([](StepBatch& b) { b.tc_positive_mask = nullptr; }, "StepBatch.tc_positive_mask must not be null");
  refused([](StepBatch& b) { b.ner_len = 0; }, "StepBatch.ner_ids: length 0");
  refused([](StepBatch& b) { b.tc_rows = 0, b.ner_rows = 0; }, "step without any batch");
  std::vector<int64_t> far = {2, 100, 3, 0};
  refused([&](StepBatch& b) { b.ner_ids = far.data(); }, "NER batch: token id outside the vocabulary");
  std::vector<int64_t> bad_labels = {-100, 5, 0, -100};
  refused([&](StepBatch& b) { b.ner_labels = bad_labels.data(); }, "NER labels must be -100 or in [0, 5)");
  std::vector<int64_t> long_ids(2 * 80, 5), long_mask(2 * 80, 1);
  refused([&](StepBatch& b) { b.tc_anchor_ids = long_ids.data(), b.tc_anchor_mask = long_mask.data(), b.tc_anchor_len = 80; },
          "TC anchors: length 80 outside [1, 64]");
  // A NER-only strategy refuses a TC batch.
  Trainer ner_only(dir.string(), R"({"strategy": "pf-ner", "ner": {"classes": 5}})");
  StepBatch b = good();
  EXPECT_NE(error_of([&] { ner_only.step(b); }).find("takes no TC batch"), std::string::npos);
}
