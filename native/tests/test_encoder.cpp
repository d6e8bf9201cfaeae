#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "attention.h"
#include "dropout.h"
#include "errors.h"
#include "model_folder.h"
#include "pooling.h"
#include "safetensors.h"
#include "test_util.h"

using namespace mtpf;

// Below 128 tokens the CPU takes the plain form, from 128 the flash kernel (libtorch >= 2.0): both lengths.
class Attention : public ::testing::TestWithParam<int64_t> {};

TEST_P(Attention, FastPathEqualsReferenceInValuesAndGradients) {
  const int64_t seq = GetParam(), cut = seq / 2;
  torch::manual_seed(1);
  auto q = torch::randn({2, 4, seq, 8}), k = torch::randn({2, 4, seq, 8}), v = torch::randn({2, 4, seq, 8});
  auto mask = torch::ones({2, seq}, torch::kLong);
  mask.index_put_({1, torch::indexing::Slice(cut)}, 0);
  auto bias = attention_mask_bias(mask, torch::kFloat32);
  auto run = [&](bool fast) {
    auto qq = q.clone().requires_grad_(), kk = k.clone().requires_grad_(), vv = v.clone().requires_grad_();
    auto out = fast ? attention(qq, kk, vv, bias, 0.0) : attention_reference(qq, kk, vv, bias, 0.0);
    (out * out).sum().backward();
    return std::vector<torch::Tensor>{out.detach(), qq.grad(), kk.grad(), vv.grad()};
  };
  auto fast = run(true), ref = run(false);
  for (size_t i = 0; i < fast.size(); ++i) EXPECT_LT((fast[i] - ref[i]).abs().max().item<double>(), 1e-4) << i;
  // Padded keys get no weight: changing them leaves the output unchanged.
  auto k2 = k.clone(), v2 = v.clone();
  k2.index_put_({1, torch::indexing::Slice(), torch::indexing::Slice(cut)}, 100.0);
  v2.index_put_({1, torch::indexing::Slice(), torch::indexing::Slice(cut)}, -100.0);
  EXPECT_LT((attention(q, k2, v2, bias, 0.0) - fast[0]).abs().max().item<double>(), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Lengths, Attention, ::testing::Values(7, 130));

TEST(Dropout, KeepsOneMinusPScalesAndReplaysUnderTheSeed) {
  // The keep fraction is 1 - p within 5 sigma, masks differ between seeds and repeat for one seed.
  const int64_t n = 1 << 20;
  for (double p : {0.1, 0.5}) {
    auto keep = dropout_keep_mask(n, p, 1234);
    const double kept = keep.sum().item<double>() / n, sigma = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(kept, 1 - p, 5 * sigma) << p;
    EXPECT_TRUE(torch::equal(keep, dropout_keep_mask(n, p, 1234)));
    EXPECT_FALSE(torch::equal(keep, dropout_keep_mask(n, p, 1235)));
    // Neighbouring elements are independent: P(both kept) = (1 - p)^2.
    auto both = keep.slice(0, 0, n - 1).logical_and(keep.slice(0, 1, n)).sum().item<double>() / (n - 1);
    EXPECT_NEAR(both, (1 - p) * (1 - p), 6 * std::sqrt((1 - p) * (1 - p) / n));
  }
  auto x = torch::randn({64, 33}, torch::requires_grad());
  torch::manual_seed(5);
  auto y = mtpf::dropout(x, 0.25, true);
  torch::manual_seed(5);
  EXPECT_TRUE(torch::equal(y, mtpf::dropout(x, 0.25, true))) << "torch::manual_seed replays the mask";
  auto kept = y.ne(0);
  EXPECT_TRUE(torch::allclose(y.masked_select(kept), x.masked_select(kept) / 0.75));
  y.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), kept.to(torch::kFloat32) / 0.75)) << "gradient: the same mask and scale";
  EXPECT_TRUE(torch::equal(mtpf::dropout(x, 0.25, false), x));
  EXPECT_TRUE(torch::equal(mtpf::dropout(x, 0.0, true), x));
}

TEST(Dropout, OnePassKernelEqualsTheTwoProductsInEveryDtype) {
  // The kept elements and the gradient are x * keep * scale bit for bit, as libtorch's two products round them,
  // on a non-contiguous input too.
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kFloat16}) {
    auto x = (torch::rand({40, 70}, torch::kFloat64) + 0.5).to(dtype).t().requires_grad_();
    torch::manual_seed(9);
    auto y = mtpf::dropout(x, 0.1, true);
    auto keep = y.ne(0);
    const double scale = 1.0 / 0.9;
    EXPECT_TRUE(torch::equal(y, x.detach() * keep * scale)) << dtype;
    auto g = torch::randn({70, 40}, torch::kFloat64).to(dtype);
    y.backward(g);
    EXPECT_TRUE(torch::equal(x.grad(), g * keep * scale)) << dtype;
  }
}

TEST(Pooling, MeanIgnoresPaddingAndNormalizes) {
  auto h = torch::tensor({1.f, 2.f, 3.f, 4.f, 100.f, 100.f}).view({1, 3, 2});
  auto m = torch::tensor({1, 1, 0}, torch::kLong).view({1, 3});
  auto p = mean_pool(h, m);
  EXPECT_FLOAT_EQ(p[0][0].item<float>(), 2.f);
  EXPECT_FLOAT_EQ(p[0][1].item<float>(), 3.f);
  EXPECT_NEAR(l2_normalize(p).norm().item<double>(), 1.0, 1e-6);
}

class EncoderArch : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderArch, SaveLoadRoundTripAndPaddingInvariance) {
  auto dir = test::write_tiny_model(GetParam(), "rt");
  auto a = model_folder_load(dir.string());
  auto out_dir = test::temp_dir("rt-out");
  model_folder_save(a, out_dir.string());
  auto b = model_folder_load(out_dir.string());
  auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();

  // A padded sequence gives the same states on its real tokens as the unpadded one.
  torch::NoGradGuard ng;
  auto ids = torch::tensor({{2, 5, 9, 11, 3}}, torch::kLong);
  auto mask = torch::ones({1, 5}, torch::kLong);
  auto pad_id = a.model->config().pad_token_id;
  auto ids_pad = torch::cat({ids, torch::full({1, 3}, pad_id, torch::kLong)}, 1);
  auto mask_pad = torch::cat({mask, torch::zeros({1, 3}, torch::kLong)}, 1);
  auto h = a.model->forward(ids, mask, {}, false).last_hidden_state;
  auto hp = a.model->forward(ids_pad, mask_pad, {}, true);
  EXPECT_LT((hp.last_hidden_state.slice(1, 0, 5) - h).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(hp.hidden_states.size(), static_cast<size_t>(a.model->config().num_hidden_layers + 1));
  EXPECT_TRUE(torch::equal(hp.hidden_states.back(), hp.last_hidden_state));
}

TEST_P(EncoderArch, PackedLayersEqualPaddedOnRealTokensInValuesAndGradients) {
  auto dir = test::write_tiny_model(GetParam(), "packed");
  auto m = model_folder_load(dir.string()).model;
  m->eval();  // dropout draws differ between the layouts; everything else must agree
  torch::manual_seed(3);
  auto ids = torch::randint(4, 100, {3, 9}, torch::kLong);
  auto mask = torch::ones({3, 9}, torch::kLong);
  mask.index_put_({0, torch::indexing::Slice(4)}, 0);  // short row
  mask.index_put_({1, 2}, 0);                           // a hole inside a row
  auto run = [&](bool pack) {
    m->zero_grad();
    m->set_pack_padding(pack);
    auto out = m->forward(ids, mask, {}, true);
    mean_pool(out.last_hidden_state, mask).pow(2).sum().backward();
    std::map<std::string, torch::Tensor> grads;
    for (auto& p : m->named_parameters()) grads[p.key()] = p.value().grad().clone();
    return std::make_pair(out, grads);
  };
  auto [padded, padded_grads] = run(false);
  auto [packed, packed_grads] = run(true);
  m->set_pack_padding(false);
  auto real = mask.unsqueeze(-1).to(torch::kFloat32);
  ASSERT_EQ(packed.hidden_states.size(), padded.hidden_states.size());
  for (size_t i = 0; i < padded.hidden_states.size(); ++i)
    EXPECT_LT(((packed.hidden_states[i] - padded.hidden_states[i]) * real).abs().max().item<double>(), 1e-5) << i;
  EXPECT_EQ((packed.last_hidden_state * (1 - real)).abs().max().item<double>(), 0.0) << "packed: zeros at padding";
  for (auto& [name, g] : padded_grads)
    EXPECT_LT((packed_grads.at(name) - g).abs().max().item<double>(), 1e-5 * std::max(1.0, g.abs().max().item<double>()))
        << name;
}

INSTANTIATE_TEST_SUITE_P(Architectures, EncoderArch, ::testing::Values("bert", "roberta", "distilbert"));

TEST(Encoder, ParameterNamesMirrorHuggingFace) {
  auto bert = encoder_model_create(config_from_json(test::tiny_config("bert"), "t"));
  auto names = bert->named_parameters();
  for (const char* n : {"embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight",
                        "encoder.layer.1.attention.self.query.weight", "encoder.layer.0.attention.output.dense.bias",
                        "encoder.layer.0.attention.output.LayerNorm.bias", "encoder.layer.1.intermediate.dense.weight",
                        "encoder.layer.1.output.dense.weight", "encoder.layer.1.output.LayerNorm.weight"})
    EXPECT_TRUE(names.contains(n)) << n;
  auto distil = encoder_model_create(config_from_json(test::tiny_config("distilbert"), "t"));
  auto dn = distil->named_parameters();
  for (const char* n : {"transformer.layer.1.attention.q_lin.weight", "transformer.layer.0.sa_layer_norm.weight",
                        "transformer.layer.0.ffn.lin1.weight", "transformer.layer.0.output_layer_norm.bias"})
    EXPECT_TRUE(dn.contains(n)) << n;
}

TEST(Encoder, RobertaPositionsStartAfterPaddingIdx) {
  // With pad_token_id 1 the first real token uses position row 2, as in HF.
  auto cfg = config_from_json(test::tiny_config("roberta"), "t");
  auto model = encoder_model_create(cfg);
  model->eval();
  torch::NoGradGuard ng;
  auto ids = torch::tensor({{0, 5, 2}}, torch::kLong);
  auto mask = torch::ones({1, 3}, torch::kLong);
  auto before = model->forward(ids, mask, {}, false).last_hidden_state.clone();
  // Rows 0 and 1 of the position table are never used for real tokens: changing them changes nothing.
  auto& pos = model->named_parameters()["embeddings.position_embeddings.weight"];
  pos.slice(0, 0, 2).fill_(50.0);
  auto after = model->forward(ids, mask, {}, false).last_hidden_state;
  EXPECT_TRUE(torch::allclose(before, after));
}

static std::string load_error(const std::filesystem::path& dir) {
  try {
    model_folder_load(dir.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelFolder, ClearErrors) {
  auto dir = test::write_tiny_model("bert", "errs");
  EXPECT_NE(load_error(dir / "absent").find("not found"), std::string::npos);

  // Unknown architecture.
  auto cfg = test::tiny_config("bert");
  cfg["model_type"] = "gpt2";
  { std::ofstream(dir / "config.json") << cfg.dump(); }
  auto err = load_error(dir);
  EXPECT_NE(err.find("unknown architecture model_type 'gpt2'"), std::string::npos) << err;
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;

  // Shape that does not match the config.
  cfg = test::tiny_config("bert");
  cfg["intermediate_size"] = 48;
  { std::ofstream(dir / "config.json") << cfg.dump(); }
  err = load_error(dir);
  EXPECT_NE(err.find("intermediate.dense.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("config.json implies"), std::string::npos) << err;

  // Missing config.json, missing weights.
  std::filesystem::remove(dir / "config.json");
  EXPECT_NE(load_error(dir).find("config.json"), std::string::npos);
  { std::ofstream(dir / "config.json") << test::tiny_config("bert").dump(); }
  std::filesystem::remove(dir / "model.safetensors");
  EXPECT_NE(load_error(dir).find("no model.safetensors"), std::string::npos);
}

TEST(ModelFolder, PrefixedAndHalfPrecisionCheckpointsLoad) {
  auto dir = test::write_tiny_model("bert", "prefix");
  auto st = safetensors_read((dir / "model.safetensors").string());
  std::map<std::string, torch::Tensor> renamed;
  for (auto& [k, t] : st.tensors) renamed["bert." + k] = t.to(torch::kBFloat16);
  renamed["classifier.weight"] = torch::zeros({3, 32});
  safetensors_write((dir / "model.safetensors").string(), renamed);
  auto m = model_folder_load(dir.string());
  EXPECT_TRUE(m.extras.count("classifier.weight"));
  EXPECT_TRUE(torch::allclose(m.model->named_parameters()["embeddings.word_embeddings.weight"],
                              st.tensors.at("embeddings.word_embeddings.weight").to(torch::kBFloat16).to(torch::kFloat32)));
}
