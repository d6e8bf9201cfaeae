// The pre-finetuning losses against explicit formulas, and GradCache against the plain loss (value and every
// parameter gradient, dropout on).
#include <gtest/gtest.h>

#include <cmath>

#include "encoder_model.h"
#include "errors.h"
#include "grad_cache.h"
#include "losses.h"
#include "pooling.h"
#include "test_util.h"
#include "torch_compat.h"

using namespace mtpf;

namespace {

// -1/B sum_i log softmax_j(cos(a_i, p_j) / tau)[i], with plain loops in double.
double info_nce_by_hand(const torch::Tensor& a, const torch::Tensor& p, double tau) {
  auto an = a.to(torch::kFloat64), pn = p.to(torch::kFloat64);
  const int64_t b = a.size(0);
  double total = 0;
  for (int64_t i = 0; i < b; ++i) {
    std::vector<double> logits;
    for (int64_t j = 0; j < b; ++j) {
      double dot = (an[i] * pn[j]).sum().item<double>();
      logits.push_back(dot / (an[i].norm().item<double>() * pn[j].norm().item<double>()) / tau);
    }
    double denom = 0;
    for (double l : logits) denom += std::exp(l);
    total += -(logits[i] - std::log(denom));
  }
  return total / b;
}

void set_cpu_autocast(bool on) {
#if MTPF_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(at::kCPU, on);
#else
  at::autocast::set_cpu_enabled(on);
#endif
}

}  // namespace

TEST(InfoNceLoss, MatchesExplicitFormula) {
  torch::manual_seed(0);
  auto a = torch::randn({6, 8}, torch::kFloat64), p = torch::randn({6, 8}, torch::kFloat64);
  for (double tau : {0.05, 0.5}) {
    EXPECT_NEAR(info_nce_loss(a, p, tau).item<double>(), info_nce_by_hand(a, p, tau), 1e-10) << tau;
    // Symmetric: the mean of both directions.
    double both = (info_nce_by_hand(a, p, tau) + info_nce_by_hand(p, a, tau)) / 2;
    EXPECT_NEAR(info_nce_loss(a, p, tau, /*symmetric=*/true).item<double>(), both, 1e-10) << tau;
  }
  // Only directions matter: scaling the embeddings changes nothing.
  EXPECT_NEAR(info_nce_loss(a * 3, p * 0.1).item<double>(), info_nce_loss(a, p).item<double>(), 1e-12);
}

TEST(InfoNceLoss, KnownValues) {
  const int64_t b = 5;
  // All anchors alike, all positives alike: no pair is distinguishable, loss = log B.
  auto same = torch::ones({b, 4});
  EXPECT_NEAR(info_nce_loss(same, same).item<double>(), std::log(static_cast<double>(b)), 1e-5);
  // Orthonormal pairs: logit 1/tau = 20 on the diagonal, 0 elsewhere.
  auto eye = torch::eye(b);
  EXPECT_NEAR(info_nce_loss(eye, eye).item<double>(), std::log1p((b - 1) * std::exp(-20.0)), 1e-7);
}

TEST(InfoNceLoss, ComputesInFp32UnderAutocast) {
  torch::manual_seed(1);
  auto a = torch::randn({16, 32}), p = a + 0.3 * torch::randn({16, 32});
  auto a16 = a.to(torch::kBFloat16), p16 = p.to(torch::kBFloat16);
  auto expected = info_nce_loss(a16.to(torch::kFloat32), p16.to(torch::kFloat32)).item<double>();
  set_cpu_autocast(true);
  auto lowered = torch::mm(a, p.t()).scalar_type();  // autocast is really on: a plain matmul goes bf16
  auto loss = info_nce_loss(a16, p16);
  auto loss_fp32_inputs = info_nce_loss(a, p);
  set_cpu_autocast(false);
  EXPECT_EQ(lowered, torch::kBFloat16);
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(loss.item<double>(), expected, 1e-6);
  EXPECT_NEAR(loss_fp32_inputs.item<double>(), info_nce_loss(a, p).item<double>(), 1e-6);
}

TEST(InfoNceLoss, RejectsBadInputs) {
  EXPECT_THROW(info_nce_loss(torch::randn({4, 8}), torch::randn({5, 8})), Error);
  EXPECT_THROW(info_nce_loss(torch::randn({4}), torch::randn({4})), Error);
  EXPECT_THROW(info_nce_loss(torch::randn({4, 8}), torch::randn({4, 8}), 0.0), Error);
}

TEST(TokenClassificationLoss, MeanOverLabelledTokens) {
  torch::manual_seed(2);
  auto logits = torch::randn({2, 4, 3}, torch::kFloat64).requires_grad_(true);
  auto labels = torch::tensor({{-100, 2, -100, 0}, {1, -100, 1, -100}}, torch::kLong);
  auto loss = token_classification_loss(logits, labels);
  auto logp = torch::log_softmax(logits.detach(), -1);
  double sum = 0;
  int count = 0;
  for (int n = 0; n < 2; ++n)
    for (int t = 0; t < 4; ++t) {
      auto l = labels[n][t].item<int64_t>();
      if (l == -100) continue;
      sum -= logp[n][t][l].item<double>();
      ++count;
    }
  EXPECT_NEAR(loss.item<double>(), sum / count, 1e-12);
  // The same as HF's CrossEntropyLoss(ignore_index=-100) on the flattened tokens, gradients included.
  auto ref_logits = logits.detach().clone().requires_grad_(true);
  auto ref = torch::nn::functional::cross_entropy(ref_logits.view({-1, 3}), labels.view({-1}));
  loss.backward();
  ref.backward();
  EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-12);
  EXPECT_LT((logits.grad() - ref_logits.grad()).abs().max().item<double>(), 1e-12);
}

TEST(TokenClassificationLoss, NoLabelledTokenIsZeroWithGradient) {
  auto logits = torch::randn({2, 3, 4}).requires_grad_(true);
  auto labels = torch::full({2, 3}, -100, torch::kLong);
  auto loss = token_classification_loss(logits, labels);
  EXPECT_EQ(loss.item<double>(), 0.0);
  ASSERT_TRUE(loss.requires_grad());
  loss.backward();
  ASSERT_TRUE(logits.grad().defined());
  EXPECT_EQ(logits.grad().abs().sum().item<double>(), 0.0);
}

TEST(TokenClassificationLoss, RejectsBadLabels) {
  auto logits = torch::randn({1, 3, 4});
  EXPECT_THROW(token_classification_loss(logits, torch::tensor({{0, 4, -100}}, torch::kLong)), Error);
  EXPECT_THROW(token_classification_loss(logits, torch::tensor({{0, -1, -100}}, torch::kLong)), Error);
  EXPECT_THROW(token_classification_loss(logits, torch::zeros({1, 4}, torch::kLong)), Error);
  EXPECT_THROW(token_classification_loss(logits, torch::zeros({1, 3}, torch::kInt)), Error);
}

namespace {

// A tiny BERT in float64 and a batch of (anchor, positive) token sequences with some padding.
struct TinyPairs {
  std::shared_ptr<EncoderModel> model;
  torch::Tensor ids[2], mask[2];

  TinyPairs(int64_t batch, int64_t seq) {
    torch::manual_seed(11);
    model = encoder_model_create(config_from_json(test::tiny_config("bert"), "tiny"));
    model->to(torch::kFloat64);
    for (int s = 0; s < 2; ++s) {
      ids[s] = torch::randint(3, 100, {batch, seq}, torch::kLong);
      mask[s] = torch::ones({batch, seq}, torch::kLong);
      for (int64_t i = 0; i < batch; ++i) mask[s].index_put_({i, torch::indexing::Slice(seq - i % 4)}, 0);
    }
  }

  ChunkEmbedFn side(int s) {
    return [this, s](int64_t begin, int64_t end) {
      auto m = mask[s].slice(0, begin, end);
      return mean_pool(model->forward(ids[s].slice(0, begin, end), m, {}, false).last_hidden_state, m);
    };
  }

  std::vector<torch::Tensor> take_grads() {
    std::vector<torch::Tensor> grads;
    for (auto& p : model->parameters()) {
      grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
      p.mutable_grad() = torch::Tensor();
    }
    return grads;
  }
};

void expect_same_grads(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LT((a[i] - b[i]).abs().max().item<double>(), tol) << "parameter " << i;
    total += a[i].abs().sum().item<double>();
  }
  EXPECT_GT(total, 0.0);  // gradients reached the parameters
}

}  // namespace

TEST(GradCache, EqualsPlainLossWithDropout) {
  const int64_t batch = 12, chunk = 5;  // chunks of 5, 5, 2
  TinyPairs pairs(batch, 9);
  pairs.model->train();
  for (bool symmetric : {false, true}) {
    // The plain loss: the same chunked forward (so dropout draws the same masks), with grad all along.
    torch::manual_seed(42);
    std::vector<torch::Tensor> emb;
    for (int s = 0; s < 2; ++s) {
      std::vector<torch::Tensor> parts;
      for (int64_t b = 0; b < batch; b += chunk) parts.push_back(pairs.side(s)(b, std::min(batch, b + chunk)));
      emb.push_back(torch::cat(parts));
    }
    auto plain = info_nce_loss(emb[0], emb[1], 0.05, symmetric);
    plain.backward();
    auto after_plain = torch::rand({4});  // the RNG stream right after the batch's forward passes
    auto plain_grads = pairs.take_grads();

    torch::manual_seed(42);
    auto cached = test::cached_info_nce_loss(pairs.side(0), pairs.side(1), batch, chunk, 0.05, symmetric);
    auto after_cached = torch::rand({4});
    auto cached_grads = pairs.take_grads();

    EXPECT_FALSE(cached.requires_grad());
    EXPECT_NEAR(cached.item<double>(), plain.item<double>(), 1e-12) << "symmetric " << symmetric;
    expect_same_grads(plain_grads, cached_grads, 1e-10);
    EXPECT_TRUE(torch::equal(after_plain, after_cached));  // the RNG continues as if each chunk ran once
  }
  // Dropout is really on: another seed gives another loss.
  torch::manual_seed(43);
  auto other = test::cached_info_nce_loss(pairs.side(0), pairs.side(1), batch, chunk);
  torch::manual_seed(42);
  auto again = test::cached_info_nce_loss(pairs.side(0), pairs.side(1), batch, chunk);
  pairs.take_grads();
  EXPECT_GT(std::abs(other.item<double>() - again.item<double>()), 1e-6);
}

TEST(GradCache, EqualsFullBatchLossWithoutDropout) {
  const int64_t batch = 12;
  TinyPairs pairs(batch, 9);
  pairs.model->eval();
  auto plain = info_nce_loss(pairs.side(0)(0, batch), pairs.side(1)(0, batch));
  plain.backward();
  auto plain_grads = pairs.take_grads();
  for (int64_t chunk : {1, 5, 12, 64}) {
    auto cached = test::cached_info_nce_loss(pairs.side(0), pairs.side(1), batch, chunk);
    EXPECT_NEAR(cached.item<double>(), plain.item<double>(), 1e-12) << chunk;
    expect_same_grads(plain_grads, pairs.take_grads(), 1e-10);
  }
}

TEST(GradCache, RejectsBadArguments) {
  auto embed = [](int64_t b, int64_t e) { return torch::randn({e - b, 4}); };
  EXPECT_THROW(test::cached_info_nce_loss(embed, embed, 0, 4), Error);
  EXPECT_THROW(test::cached_info_nce_loss(embed, embed, 8, 0), Error);
  auto short_rows = [](int64_t b, int64_t e) { return torch::randn({1, 4}); };
  EXPECT_THROW(test::cached_info_nce_loss(short_rows, embed, 8, 4), Error);
  // Nothing trainable behind the embeddings: pass 2 has nothing to backpropagate into.
  EXPECT_THROW(test::cached_info_nce_loss(embed, embed, 8, 4), Error);
}
