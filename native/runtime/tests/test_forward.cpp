// The whole forward against the naive reference on tiny random models (bert, roberta, distilbert): padding
// invariance, pooling, threads, int8's error bound.
#include <cmath>
#include <random>

#include "mtpf/runtime.h"
#include "test_util.h"

namespace mtpf::rt {
namespace {

using test::max_abs_diff;
using test::TinyModel;
using test::write_tiny_model;

// A right-padded batch of random sequences of the given lengths (ids avoid the pad id, as a tokenizer's do).
struct Batch {
  int batch, seq;
  std::vector<int32_t> ids, mask, types;
  std::vector<std::vector<int>> rows, row_types;
};

Batch make_batch(const TinyModel& m, const std::vector<int>& lengths, uint32_t seed) {
  std::mt19937 rng(seed);
  Batch b;
  b.batch = static_cast<int>(lengths.size());
  b.seq = 0;
  for (int l : lengths) b.seq = std::max(b.seq, l);
  b.ids.assign(static_cast<size_t>(b.batch) * b.seq, m.pad);
  b.mask.assign(b.ids.size(), 0);
  b.types.assign(b.ids.size(), 0);
  for (int r = 0; r < b.batch; ++r) {
    std::vector<int> row, types;
    for (int t = 0; t < lengths[r]; ++t) {
      const int id = 2 + static_cast<int>(rng() % (m.vocab - 2));
      const int ty = m.type_vocab > 1 && t > lengths[r] / 2 ? 1 : 0;
      row.push_back(id);
      types.push_back(ty);
      b.ids[r * b.seq + t] = id;
      b.mask[r * b.seq + t] = 1;
      b.types[r * b.seq + t] = ty;
    }
    b.rows.push_back(row);
    b.row_types.push_back(types);
  }
  return b;
}

TEST(Forward, MatchesTheNaiveReferenceForEveryArchitecture) {
  for (const std::string type : {"bert", "roberta", "distilbert"}) {
    SCOPED_TRACE(type);
    TinyModel m = write_tiny_model(type, 11, type == "bert" ? "bert." : "");
    Backbone bb(m.dir.string(), "fp32");
    EXPECT_EQ(bb.model_type(), type);
    EXPECT_EQ(bb.hidden_size(), m.hidden);
    EXPECT_EQ(bb.num_layers(), m.layers);
    EXPECT_EQ(bb.max_sequence_length(), type == "roberta" ? m.max_pos - 2 : m.max_pos);
    Batch b = make_batch(m, {7, 1, 12, 3}, 5);
    std::vector<float> out(static_cast<size_t>(b.batch) * b.seq * m.hidden, 99.0f);
    bb.last_hidden_state(b.ids.data(), b.mask.data(), b.types.data(), nullptr, b.batch, b.seq, out.data());
    for (int r = 0; r < b.batch; ++r) {
      auto ref = test::reference_forward(m, m.weights, b.rows[r], b.row_types[r]);
      EXPECT_LT(max_abs_diff(out.data() + r * b.seq * m.hidden, ref.data(), ref.size()), 1e-4) << "row " << r;
      for (int t = static_cast<int>(b.rows[r].size()); t < b.seq; ++t)
        for (int i = 0; i < m.hidden; ++i) ASSERT_EQ(out[(r * b.seq + t) * m.hidden + i], 0.0f);
    }
  }
}

TEST(Forward, PaddingAndBatchCompanionsDoNotChangeASequence) {
  TinyModel m = write_tiny_model("bert", 12);
  Backbone bb(m.dir.string(), "fp32");
  Batch alone = make_batch(m, {9}, 6);
  std::vector<float> single(9 * m.hidden);
  bb.last_hidden_state(alone.ids.data(), alone.mask.data(), alone.types.data(), nullptr, 1, 9, single.data());
  // The same sequence as row 1 of a batch padded to 30, between a long and a short one.
  Batch big = make_batch(m, {30, 9, 2}, 7);
  for (int t = 0; t < 9; ++t) {
    big.ids[1 * big.seq + t] = alone.ids[t];
    big.types[1 * big.seq + t] = alone.types[t];
  }
  std::vector<float> out(static_cast<size_t>(3) * big.seq * m.hidden);
  bb.last_hidden_state(big.ids.data(), big.mask.data(), big.types.data(), nullptr, 3, big.seq, out.data());
  EXPECT_LT(max_abs_diff(out.data() + big.seq * m.hidden, single.data(), single.size()), 1e-5);
}

TEST(Forward, EmbedPoolsMeanOrClsAndNormalizes) {
  TinyModel m = write_tiny_model("distilbert", 13);
  Backbone bb(m.dir.string(), "fp32");
  Batch b = make_batch(m, {5, 11, 0}, 8);  // an all-pad row pools to zeros
  const int H = m.hidden;
  std::vector<float> hidden(static_cast<size_t>(b.batch) * b.seq * H), mean(b.batch * H), cls(b.batch * H),
      norm(b.batch * H);
  bb.last_hidden_state(b.ids.data(), b.mask.data(), nullptr, nullptr, b.batch, b.seq, hidden.data());
  bb.embed(b.ids.data(), b.mask.data(), nullptr, nullptr, b.batch, b.seq, "mean", false, mean.data());
  bb.embed(b.ids.data(), b.mask.data(), nullptr, nullptr, b.batch, b.seq, "cls", false, cls.data());
  bb.embed(b.ids.data(), b.mask.data(), nullptr, nullptr, b.batch, b.seq, "mean", true, norm.data());
  for (int r = 0; r < b.batch; ++r) {
    const int len = static_cast<int>(b.rows[r].size());
    double n2 = 0;
    for (int i = 0; i < H; ++i) {
      double s = 0;
      for (int t = 0; t < len; ++t) s += hidden[(r * b.seq + t) * H + i];
      const float want = len ? static_cast<float>(s / len) : 0.0f;
      EXPECT_NEAR(mean[r * H + i], want, 1e-5);
      EXPECT_EQ(cls[r * H + i], len ? hidden[r * b.seq * H + i] : 0.0f);
      n2 += double(mean[r * H + i]) * mean[r * H + i];
    }
    for (int i = 0; i < H && len; ++i) EXPECT_NEAR(norm[r * H + i], mean[r * H + i] / std::sqrt(n2), 1e-5);
  }
}

TEST(Forward, ThreadCountDoesNotChangeResults) {
  TinyModel m = write_tiny_model("bert", 14);
  Backbone bb(m.dir.string(), "fp32");
  Batch b = make_batch(m, {20, 3, 17, 8, 1}, 9);
  std::vector<float> one(static_cast<size_t>(b.batch) * m.hidden), three(one.size());
  bb.set_num_threads(1);
  EXPECT_EQ(bb.num_threads(), 1);
  bb.embed(b.ids.data(), b.mask.data(), b.types.data(), nullptr, b.batch, b.seq, "mean", false, one.data());
  bb.set_num_threads(3);
  bb.embed(b.ids.data(), b.mask.data(), b.types.data(), nullptr, b.batch, b.seq, "mean", false, three.data());
  EXPECT_LT(max_abs_diff(one.data(), three.data(), one.size()), 1e-5);
}

TEST(Forward, Int8WeightsStayCloseToFp32AndTakeAQuarterOfTheMemory) {
  TinyModel m = write_tiny_model("bert", 15);
  Backbone fp(m.dir.string(), "fp32"), q8(m.dir.string(), "int8");
  Batch b = make_batch(m, {16, 9}, 10);
  std::vector<float> a(static_cast<size_t>(b.batch) * m.hidden), c(a.size());
  fp.embed(b.ids.data(), b.mask.data(), nullptr, nullptr, b.batch, b.seq, "mean", true, a.data());
  q8.embed(b.ids.data(), b.mask.data(), nullptr, nullptr, b.batch, b.seq, "mean", true, c.data());
  for (int r = 0; r < b.batch; ++r) {
    double dot = 0;
    for (int i = 0; i < m.hidden; ++i) dot += double(a[r * m.hidden + i]) * c[r * m.hidden + i];
    EXPECT_GT(dot, 0.999) << "cosine of int8 vs fp32 embedding, row " << r;
  }
  EXPECT_LT(max_abs_diff(a.data(), c.data(), a.size()), 0.05);
  EXPECT_LT(q8.weight_bytes(), fp.weight_bytes());
}

}  // namespace
}  // namespace mtpf::rt
