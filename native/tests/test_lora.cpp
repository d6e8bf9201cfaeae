#include <gtest/gtest.h>

#include <map>

#include "errors.h"
#include "lora.h"
#include "model_folder.h"
#include "safetensors.h"
#include "test_util.h"

using namespace mtpf;
using torch::Tensor;

namespace {

double max_diff(const Tensor& a, const Tensor& b) { return (a - b).abs().max().item<double>(); }

// ---- The kernel: fused vs the plain three-matmul form, float64 ----

struct KernelCase {
  std::string name;
  std::vector<int64_t> x_shape;  // [..., in]
  int64_t out, r;
  bool bias;
  // requires_grad of x, weight, bias, lora_A, lora_B
  bool gx, gw, gb, ga, gbb;
};

void PrintTo(const KernelCase& c, std::ostream* os) { *os << c.name; }

std::vector<Tensor> kernel_inputs(const KernelCase& c) {
  torch::manual_seed(3);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const int64_t in = c.x_shape.back();
  // B is random (not PEFT's zeros) so that every gradient is non-trivial.
  return {torch::randn(c.x_shape, f64).requires_grad_(c.gx), torch::randn({c.out, in}, f64).requires_grad_(c.gw),
          c.bias ? torch::randn({c.out}, f64).requires_grad_(c.gb) : Tensor(),
          torch::randn({c.r, in}, f64).requires_grad_(c.ga), torch::randn({c.out, c.r}, f64).requires_grad_(c.gbb)};
}

const KernelCase kKernelCases[] = {
    {"matrix_all_grads", {5, 7}, 6, 3, true, true, true, true, true, true},
    {"batch_seq_all_grads", {2, 4, 7}, 6, 3, true, true, true, true, true, true},
    {"no_bias", {2, 3, 7}, 5, 2, false, true, true, false, true, true},
    {"frozen_backbone_pf_l", {2, 4, 7}, 6, 3, true, true, false, false, true, true},
    {"frozen_adapter", {2, 4, 7}, 6, 3, true, true, true, true, false, false},
    {"input_grad_only", {3, 2, 7}, 6, 3, true, true, false, false, false, false},
    {"rank_one_leaf_input", {4, 9}, 4, 1, true, false, true, true, true, true},
};

class LoraKernel : public ::testing::TestWithParam<KernelCase> {};

TEST_P(LoraKernel, FusedEqualsReferenceValuesAndGradients) {
  const KernelCase& c = GetParam();
  auto fused_in = kernel_inputs(c), ref_in = kernel_inputs(c);
  const double scaling = 1.75;
  auto y_fused = lora_linear_fused(fused_in[0], fused_in[1], fused_in[2], fused_in[3], fused_in[4], scaling);
  auto y_ref = lora_linear_reference(ref_in[0], ref_in[1], ref_in[2], ref_in[3], ref_in[4], scaling);
  ASSERT_EQ(y_fused.sizes(), y_ref.sizes());
  EXPECT_LT(max_diff(y_fused, y_ref), 1e-12);
  auto g = torch::randn(y_ref.sizes(), y_ref.options());
  (y_fused * g).sum().backward();
  (y_ref * g).sum().backward();
  const char* names[] = {"x", "weight", "bias", "lora_A", "lora_B"};
  for (int i = 0; i < 5; ++i) {
    if (!ref_in[i].defined()) continue;
    const Tensor &gf = fused_in[i].grad(), &gr = ref_in[i].grad();
    ASSERT_EQ(gf.defined(), gr.defined()) << names[i];
    ASSERT_EQ(gf.defined(), ref_in[i].requires_grad()) << names[i];
    if (gr.defined()) EXPECT_LT(max_diff(gf, gr), 1e-12) << names[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, LoraKernel, ::testing::ValuesIn(kKernelCases),
                         [](const auto& info) { return info.param.name; });

// Routed rows: two adapters on rows [1, 4) and [6, 10) of 11 (rows 0, 4, 5 and 10 base only), each adapter with
// its own rank and scaling, against the plain form row block by row block; one adapter frozen, then no bias.
TEST(LoraKernel, RoutedEqualsReferenceValuesAndGradients) {
  for (bool bias : {true, false}) {
    auto make = [&] {
      torch::manual_seed(4);
      auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
      std::vector<Tensor> t{torch::randn({11, 7}, f64).requires_grad_(), torch::randn({6, 7}, f64).requires_grad_(),
                            bias ? torch::randn({6}, f64).requires_grad_() : Tensor(),
                            torch::randn({3, 7}, f64).requires_grad_(), torch::randn({6, 3}, f64).requires_grad_(),
                            torch::randn({2, 7}, f64).requires_grad_(!bias), torch::randn({6, 2}, f64).requires_grad_(!bias)};
      return t;
    };
    auto fused_in = make(), ref_in = make();
    auto routed = [](const std::vector<Tensor>& t) {
      return std::vector<RoutedLora>{{t[3], t[4], 1.5, 1, 4}, {t[5], t[6], 0.25, 6, 10}};
    };
    auto y_fused = lora_linear_routed(fused_in[0], fused_in[1], fused_in[2], routed(fused_in));
    auto y_ref = lora_linear_routed_reference(ref_in[0], ref_in[1], ref_in[2], routed(ref_in));
    ASSERT_EQ(y_fused.sizes(), y_ref.sizes());
    EXPECT_LT(max_diff(y_fused, y_ref), 1e-12);
    auto g = torch::randn(y_ref.sizes(), y_ref.options());
    (y_fused * g).sum().backward();
    (y_ref * g).sum().backward();
    for (size_t i = 0; i < ref_in.size(); ++i) {
      if (!ref_in[i].defined()) continue;
      ASSERT_EQ(fused_in[i].grad().defined(), ref_in[i].requires_grad()) << "input " << i << " bias " << bias;
      if (ref_in[i].requires_grad()) EXPECT_LT(max_diff(fused_in[i].grad(), ref_in[i].grad()), 1e-12) << "input " << i;
    }
  }
  auto x = torch::randn({4, 7}), w = torch::randn({6, 7});
  EXPECT_NE(test::error_of([&] { lora_linear_routed(x, w, {}, {{torch::randn({2, 7}), torch::randn({6, 2}), 1.0, 2, 5}}); })
                .find("outside the input's 4 rows"), std::string::npos);
}

// gradcheck: the analytic gradients of the fused backward against central finite differences.
TEST(LoraKernelGradcheck, FiniteDifferences) {
  KernelCase c{"fd", {2, 3, 4}, 3, 2, true, true, true, true, true, true};
  auto in = kernel_inputs(c);
  auto g = torch::randn({2, 3, 3}, torch::kFloat64);
  auto loss = [&] { return (lora_linear_fused(in[0], in[1], in[2], in[3], in[4], 0.5) * g).sum(); };
  loss().backward();
  const double eps = 1e-6;
  for (int i = 0; i < 5; ++i) {
    auto analytic = in[i].grad().clone();
    auto flat = in[i].detach().view(-1);  // shares storage with the leaf
    for (int64_t k = 0; k < flat.numel(); ++k) {
      torch::NoGradGuard ng;
      const double v = flat[k].item<double>();
      flat[k] = v + eps;
      const double up = loss().item<double>();
      flat[k] = v - eps;
      const double down = loss().item<double>();
      flat[k] = v;
      const double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(analytic.view(-1)[k].item<double>(), numeric, 1e-6) << "input " << i << "[" << k << "]";
    }
  }
}

// ---- LoraLinear ----

TEST(LoraLinear, PeftInitNamesAndScaling) {
  torch::manual_seed(0);
  LoraLinear lin(16, 8);
  lin->add_adapter("tc", test::lora_config(4));
  lin->add_adapter("rs", test::lora_config(4, 8, 0, true));
  EXPECT_DOUBLE_EQ(lin->adapter("tc").scaling, 2.0);
  EXPECT_DOUBLE_EQ(lin->adapter("rs").scaling, 4.0);
  auto params = lin->named_parameters();
  std::vector<std::string> keys = params.keys();
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"bias", "lora_A.rs.weight", "lora_A.tc.weight", "lora_B.rs.weight",
                                            "lora_B.tc.weight", "weight"}));
  // kaiming_uniform_(a = sqrt(5)) on [r, in]: bound gain * sqrt(3 / in) = 1 / sqrt(in).
  const auto& a = params["lora_A.tc.weight"];
  EXPECT_EQ(a.sizes(), torch::IntArrayRef({4, 16}));
  EXPECT_LE(a.abs().max().item<double>(), 0.25);
  EXPECT_GT(a.abs().max().item<double>(), 0.15);
  EXPECT_EQ(params["lora_B.tc.weight"].sizes(), torch::IntArrayRef({8, 4}));
  EXPECT_EQ(params["lora_B.tc.weight"].abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(a.requires_grad());

  EXPECT_NE(test::error_of([&] { lin->add_adapter("a.b", {}); }).find("no '.'"), std::string::npos);
  EXPECT_NE(test::error_of([&] { lin->add_adapter("tc", {}); }).find("already exists"), std::string::npos);
  EXPECT_NE(test::error_of([&] { lin->add_adapter("z", test::lora_config(0)); }).find("r must be positive"), std::string::npos);
  lin->remove_adapter("rs");
  EXPECT_EQ(lin->named_parameters().size(), 4u);
  EXPECT_EQ(lin->adapter_names(), std::vector<std::string>{"tc"});
}

TEST(LoraLinear, MergedForwardEqualsUnmerged) {
  torch::manual_seed(1);
  LoraLinear lin(12, 10);
  lin->to(torch::kFloat64);
  lin->add_adapter("ner", test::lora_config(3, 6));
  { torch::NoGradGuard ng; lin->named_parameters()["lora_B.ner.weight"].normal_(); }
  lin->eval();
  auto x = torch::randn({2, 5, 12}, torch::kFloat64);
  auto w0 = lin->weight.detach().clone();
  ActiveAdapter scope("ner");
  auto unmerged = lin->forward(x);
  EXPECT_GT(max_diff(unmerged, torch::nn::functional::linear(x, lin->weight, lin->bias)), 1e-3);  // adapter matters
  lin->merge("ner");
  EXPECT_TRUE(lin->adapter("ner").merged);
  EXPECT_LT(max_diff(lin->forward(x), unmerged), 1e-12);  // not applied twice
  EXPECT_NE(test::error_of([&] { lin->merge("ner"); }).find("already merged"), std::string::npos);
  lin->unmerge("ner");
  EXPECT_LT(max_diff(lin->weight, w0), 1e-12);
  EXPECT_LT(max_diff(lin->forward(x), unmerged), 1e-12);
}

TEST(LoraLinear, DropoutTakesThePlainPathFusedOtherwise) {
  torch::manual_seed(2);
  LoraLinear lin(8, 6);
  lin->to(torch::kFloat64);
  lin->add_adapter("tc", test::lora_config(2, 4, 0.5));
  { torch::NoGradGuard ng; lin->named_parameters()["lora_B.tc.weight"].normal_(); }
  auto x = torch::randn({3, 4, 8}, torch::kFloat64);
  ActiveAdapter scope("tc");
  lin->train();
  torch::manual_seed(9);
  auto train_out = lin->forward(x);
  torch::manual_seed(9);
  EXPECT_LT(max_diff(train_out, lin->forward_reference(x)), 1e-12);  // same dropout mask: the plain path ran
  lin->eval();
  auto eval_out = lin->forward(x);
  EXPECT_GT(max_diff(eval_out, train_out), 1e-3);
  EXPECT_LT(max_diff(eval_out, lin->forward_reference(x)), 1e-12);
}

// ---- Model-level: injection, routing, trainable flags ----

Tensor run(EncoderModel& model, bool hidden_states = false, EncoderOutput* out = nullptr) {
  auto ids = torch::tensor({{2, 5, 9, 11, 3}, {2, 7, 3, 0, 0}}, torch::kLong);
  auto mask = torch::tensor({{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}, torch::kLong);
  auto o = model.forward(ids, mask, {}, hidden_states);
  if (out) *out = o;
  return o.last_hidden_state;
}

void randomize_adapter(torch::nn::Module& model, const std::string& name) {
  torch::NoGradGuard ng;
  for (auto& p : lora_adapter_parameters(model, name)) p.value().normal_(0.0, 0.1);
}

struct InjectCase {
  std::string name, arch;
  int num_layers;
  std::vector<int> layers;
  std::vector<std::string> expected;
};

void PrintTo(const InjectCase& c, std::ostream* os) { *os << c.name; }

const InjectCase kInjectCases[] = {
    {"bert_last_two", "bert", 4, {-2, -1},
     {"encoder.layer.2.attention.self.query",
      "encoder.layer.2.attention.self.key",
      "encoder.layer.2.intermediate.dense",
      "encoder.layer.2.output.dense",
      "encoder.layer.3.attention.self.query",
      "encoder.layer.3.attention.self.key",
      "encoder.layer.3.intermediate.dense",
      "encoder.layer.3.output.dense"}},
    {"bert_all", "bert", 2, {},
     {"encoder.layer.0.attention.self.query",
      "encoder.layer.0.attention.self.key",
      "encoder.layer.0.intermediate.dense",
      "encoder.layer.0.output.dense",
      "encoder.layer.1.attention.self.query",
      "encoder.layer.1.attention.self.key",
      "encoder.layer.1.intermediate.dense",
      "encoder.layer.1.output.dense"}},
    {"roberta_first", "roberta", 2, {0},
     {"encoder.layer.0.attention.self.query",
      "encoder.layer.0.attention.self.key",
      "encoder.layer.0.intermediate.dense",
      "encoder.layer.0.output.dense"}},
    {"distilbert_last_two", "distilbert", 4, {2, -1},
     {"transformer.layer.2.attention.q_lin",
      "transformer.layer.2.attention.k_lin",
      "transformer.layer.2.ffn.lin1",
      "transformer.layer.2.ffn.lin2",
      "transformer.layer.3.attention.q_lin",
      "transformer.layer.3.attention.k_lin",
      "transformer.layer.3.ffn.lin1",
      "transformer.layer.3.ffn.lin2"}},
};

class LoraInject : public ::testing::TestWithParam<InjectCase> {};

TEST_P(LoraInject, TargetsExactlyTheExpectedModules) {
  const InjectCase& c = GetParam();
  auto model = test::tiny_model(c.arch, {{c.arch == "distilbert" ? "n_layers" : "num_hidden_layers", c.num_layers}});
  auto base = run(*model).clone();
  // LoraLinear is a torch::nn::Linear, so HF's init (encoder_model_init_weights) still reaches it: bias 0, std 0.02.
  const Tensor w = model->named_parameters()[c.expected.front() + ".weight"];
  EXPECT_EQ(model->named_parameters()[c.expected.front() + ".bias"].abs().sum().item<double>(), 0.0);
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.004);
  auto got = lora_inject(*model, "tc", test::lora_config(4), lora_default_targets(model->config()), c.layers);
  EXPECT_EQ(got, c.expected);
  EXPECT_EQ(lora_adapter_modules(*model, "tc"), c.expected);
  auto params = model->named_parameters();
  EXPECT_EQ(lora_adapter_parameters(*model, "tc").size(), 2 * c.expected.size());
  for (const auto& m : c.expected) {
    EXPECT_TRUE(params.contains(m + ".lora_A.tc.weight")) << m;
    EXPECT_TRUE(params.contains(m + ".lora_B.tc.weight")) << m;
    EXPECT_TRUE(params.contains(m + ".weight")) << m;  // base names unchanged
  }
  // lora_B = 0: the injected model gives the base output, on the fused path.
  ActiveAdapter scope("tc");
  EXPECT_TRUE(torch::equal(run(*model), base)) << max_diff(run(*model), base);
}

INSTANTIATE_TEST_SUITE_P(Cases, LoraInject, ::testing::ValuesIn(kInjectCases),
                         [](const auto& info) { return info.param.name; });

TEST(LoraInjectErrors, ClearMessages) {
  auto model = test::tiny_model("bert");
  auto inject = [&](std::vector<std::string> targets, std::vector<int> layers) {
    return test::error_of([&] { lora_inject(*model, "x", {}, targets, layers); });
  };
  auto err = inject({"attention.self.qurey"}, {});
  EXPECT_NE(err.find("target 'attention.self.qurey' matches no linear"), std::string::npos) << err;
  EXPECT_NE(err.find("attention.output.dense"), std::string::npos) << err;  // lists what exists
  EXPECT_NE(inject({"query"}, {}).find("matches no linear"), std::string::npos);  // relative path, not a suffix
  EXPECT_NE(inject({"output.dense"}, {2}).find("layer 2 is out of range"), std::string::npos);
  EXPECT_NE(inject({"output.dense"}, {-3}).find("out of range"), std::string::npos);
  EXPECT_NE(inject({}, {}).find("no target modules"), std::string::npos);
  EXPECT_TRUE(lora_adapter_names(*model).empty());  // nothing half-injected
  EXPECT_NE(test::error_of([&] { lora_merge(*model, "x"); }).find("no module holds LoRA adapter 'x'"), std::string::npos);
}

TEST(LoraInject, ReinjectKeepsExistingAndRefusesOtherRank) {
  auto model = test::tiny_model("bert");
  const std::vector<std::string> q = {"attention.self.query"};
  lora_inject(*model, "ner", test::lora_config(4), q, {-1});
  randomize_adapter(*model, "ner");
  auto before = model->named_parameters()["encoder.layer.1.attention.self.query.lora_B.ner.weight"].clone();
  auto got = lora_inject(*model, "ner", test::lora_config(4), q, {});  // widen to every layer: layer 1 keeps its weights
  EXPECT_EQ(got.size(), 2u);
  auto params = model->named_parameters();
  EXPECT_TRUE(torch::equal(params["encoder.layer.1.attention.self.query.lora_B.ner.weight"], before));
  EXPECT_EQ(params["encoder.layer.0.attention.self.query.lora_B.ner.weight"].abs().sum().item<double>(), 0.0);
  EXPECT_NE(test::error_of([&] { lora_inject(*model, "ner", test::lora_config(8), q, {}); }).find("another r"), std::string::npos);
}

TEST(LoraRouting, ActiveAdapterPicksWhichAdapterTrains) {
  auto model = test::tiny_model("bert");
  EncoderOutput base_out;
  auto base = run(*model, true, &base_out).detach().clone();
  auto targets = lora_default_targets(model->config());
  lora_inject(*model, "tc", test::lora_config(4), targets, {});
  lora_inject(*model, "ner", test::lora_config(4), targets, {-1});
  randomize_adapter(*model, "tc");
  randomize_adapter(*model, "ner");
  EXPECT_EQ(lora_adapter_names(*model), (std::vector<std::string>{"ner", "tc"}));

  auto grads_defined = [&](const std::string& name) {
    int n = 0;
    for (auto& p : lora_adapter_parameters(*model, name)) n += p.value().grad().defined();
    return n;
  };
  {
    ActiveAdapter scope("tc");
    EXPECT_EQ(ActiveAdapter::current(), "tc");
    {
      ActiveAdapter inner(ActiveAdapter::kNone);
      EXPECT_EQ(ActiveAdapter::current(), "");
    }
    EXPECT_EQ(ActiveAdapter::current(), "tc");
    auto h = run(*model);
    EXPECT_GT(max_diff(h, base), 1e-4);
    h.pow(2).sum().backward();
  }
  EXPECT_EQ(ActiveAdapter::current(), "");
  EXPECT_EQ(grads_defined("tc"), 16);  // 8 modules x (A, B)
  EXPECT_EQ(grads_defined("ner"), 0);
  for (auto& p : lora_adapter_parameters(*model, "tc"))
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  // The backbone trains too (task-primary LoRAs).
  EXPECT_TRUE(model->named_parameters()["encoder.layer.0.attention.self.query.weight"].grad().defined());

  // No active adapter: exactly the base model, and no adapter gradients.
  model->zero_grad();
  for (auto& p : lora_adapter_parameters(*model, "tc")) p.value().mutable_grad() = Tensor();
  auto h = run(*model);
  EXPECT_TRUE(torch::equal(h, base));
  h.sum().backward();
  EXPECT_EQ(grads_defined("tc") + grads_defined("ner"), 0);

  // "ner" lives on the last layer only: with it active, layer 0 runs base only.
  ActiveAdapter scope("ner");
  EncoderOutput out;
  run(*model, true, &out);
  EXPECT_TRUE(torch::equal(out.hidden_states[1], base_out.hidden_states[1]));
  EXPECT_GT(max_diff(out.last_hidden_state, base), 1e-4);
}

// One forward with rows routed to two adapters equals one forward per adapter, packed or not: the outputs at real
// tokens, and the gradients of a loss on each row group — the ner rows' loss reaches no tc parameter.
TEST(LoraRouting, RoutedRowsEqualOneForwardPerAdapter) {
  auto model = test::tiny_model("bert");
  model->eval();
  auto targets = lora_default_targets(model->config());
  lora_inject(*model, "tc", test::lora_config(4), targets, {});
  lora_inject(*model, "ner", test::lora_config(2), targets, {-1});
  randomize_adapter(*model, "tc");
  randomize_adapter(*model, "ner");
  auto ids = torch::tensor({{2, 5, 9, 11, 3}, {2, 7, 3, 0, 0}, {2, 8, 8, 6, 3}, {2, 4, 3, 0, 0}, {2, 9, 3, 0, 0}},
                           torch::kLong);
  auto mask = ids.ne(0).to(torch::kLong);
  auto rows = [](const Tensor& t, int64_t begin, int64_t end) { return t.slice(0, begin, end); };
  auto grads = [&] {
    std::map<std::string, Tensor> out;
    for (auto& p : model->named_parameters())
      out[p.key()] = p.value().grad().defined() ? p.value().grad().clone() : torch::zeros_like(p.value());
    model->zero_grad();
    return out;
  };
  // A fixed random projection of the outputs (a sum of squares would be near constant after the last LayerNorm,
  // its gradients rounding noise), weighted differently per row group so that a routing mistake cannot cancel out.
  torch::manual_seed(8);
  const auto projection = torch::randn({5, 5, model->config().hidden_size});
  auto loss = [&](const Tensor& h, int64_t first_row, double w) {
    return (h * projection.slice(0, first_row, first_row + h.size(0))).sum() * w;
  };
  for (bool pack : {false, true}) {
    model->set_pack_padding(pack);
    model->zero_grad();
    Tensor h_tc, h_ner;
    {
      ActiveAdapter scope("tc");
      h_tc = model->forward(rows(ids, 0, 2), rows(mask, 0, 2), {}, false).last_hidden_state;
      loss(h_tc, 0, 1.0).backward();
    }
    {
      ActiveAdapter scope("ner");
      h_ner = model->forward(rows(ids, 2, 5), rows(mask, 2, 5), {}, false).last_hidden_state;
      loss(h_ner, 2, 0.5).backward();
    }
    auto expected = grads();
    Tensor h;
    {
      ActiveAdapter ignored("tc");  // routing overrides it
      AdapterRouting routing({{"tc", 2}, {"ner", 3}});
      h = model->forward(ids, mask, {}, false).last_hidden_state;
      (loss(rows(h, 0, 2), 0, 1.0) + loss(rows(h, 2, 5), 2, 0.5)).backward();
    }
    auto real = mask.unsqueeze(-1).to(torch::kFloat32);
    EXPECT_LT(max_diff(rows(h, 0, 2) * rows(real, 0, 2), h_tc * rows(real, 0, 2)), 1e-5) << "pack " << pack;
    EXPECT_LT(max_diff(rows(h, 2, 5) * rows(real, 2, 5), h_ner * rows(real, 2, 5)), 1e-5) << "pack " << pack;
    auto got = grads();
    for (auto& [name, g] : expected)
      EXPECT_LT((got.at(name) - g).norm().item<double>(), 1e-5 * std::max(1e-3, g.norm().item<double>())) << name << " pack " << pack;
    // Only the ner rows' loss: no tc adapter parameter gets a gradient.
    {
      AdapterRouting routing({{"tc", 2}, {"ner", 3}});
      loss(rows(model->forward(ids, mask, {}, false).last_hidden_state, 2, 5), 2, 1.0).backward();
    }
    for (auto& p : lora_adapter_parameters(*model, "tc"))
      EXPECT_TRUE(!p.value().grad().defined() || p.value().grad().abs().max().item<double>() == 0.0) << p.key();
    model->zero_grad();
  }
  model->set_pack_padding(false);
  AdapterRouting too_many({{"tc", 4}, {"ner", 3}});
  EXPECT_NE(test::error_of([&] { model->forward(ids, mask, {}, false); }).find("routing covers 7 rows but the batch has 5"),
            std::string::npos);
}

TEST(LoraRouting, TrainableFlagsAreIndependentOfTheBackbone) {
  auto model = test::tiny_model("distilbert");
  auto targets = lora_default_targets(model->config());
  lora_inject(*model, "ner", test::lora_config(2), targets, {}, /*trainable=*/false);
  for (auto& p : lora_adapter_parameters(*model, "ner")) EXPECT_FALSE(p.value().requires_grad()) << p.key();
  lora_set_trainable(*model, "ner", true);
  randomize_adapter(*model, "ner");
  // pf-l: backbone frozen, the adapter trains.
  for (auto& p : model->named_parameters())
    if (!lora_is_adapter_key(p.key())) p.value().set_requires_grad(false);
  ActiveAdapter scope("ner");
  run(*model).sum().backward();
  for (auto& p : model->named_parameters())
    EXPECT_EQ(p.value().grad().defined(), lora_is_adapter_key(p.key())) << p.key();
  lora_remove(*model, "ner");
  EXPECT_TRUE(lora_adapter_names(*model).empty());
  for (auto& p : model->named_parameters()) EXPECT_FALSE(lora_is_adapter_key(p.key())) << p.key();
}

TEST(LoraModel, MergeUnmergeAcrossTheModel) {
  auto model = test::tiny_model("bert");
  lora_inject(*model, "ner", test::lora_config(4), lora_default_targets(model->config()), {});
  randomize_adapter(*model, "ner");
  auto w = model->named_parameters()["encoder.layer.1.output.dense.weight"].detach().clone();
  ActiveAdapter scope("ner");
  auto unmerged = run(*model).detach().clone();
  lora_merge(*model, "ner");
  EXPECT_LT(max_diff(run(*model), unmerged), 1e-5);
  {
    ActiveAdapter none(ActiveAdapter::kNone);  // the merged weights carry the adapter even with none active
    EXPECT_LT(max_diff(run(*model), unmerged), 1e-5);
  }
  lora_unmerge(*model, "ner");
  EXPECT_LT(max_diff(model->named_parameters()["encoder.layer.1.output.dense.weight"], w), 1e-6);
  EXPECT_NE(test::error_of([&] { lora_unmerge(*model, "ner"); }).find("is not merged"), std::string::npos);
}

TEST(LoraModel, CheckpointIoSkipsAdapterTensors) {
  auto dir = test::write_tiny_model("bert", "lora-ckpt");
  auto loaded = model_folder_load(dir.string());
  lora_inject(*loaded.model, "tc", test::lora_config(2), {"attention.self.query"}, {});
  // Base weights load into an injected model: the adapters are not "missing".
  auto file = safetensors_read((dir / "model.safetensors").string()).tensors;
  EXPECT_NO_THROW(model_load_state(*loaded.model, file, "model.safetensors", nullptr));
  // And a save writes base weights only.
  auto out = test::temp_dir("lora-ckpt-out");
  model_folder_save(loaded, out.string());
  for (auto& [key, t] : safetensors_read((out / "model.safetensors").string()).tensors)
    EXPECT_FALSE(lora_is_adapter_key(key)) << key;
  EXPECT_TRUE(lora_is_adapter_key("encoder.layer.0.attention.self.query.lora_A.tc.weight"));
  EXPECT_FALSE(lora_is_adapter_key("encoder.layer.0.attention.self.query.weight"));
}

TEST(LoraModel, LayerOfModuleName) {
  std::string path;
  EXPECT_EQ(lora_layer_of("encoder.layer.11.attention.output.dense", &path), 11);
  EXPECT_EQ(path, "attention.output.dense");
  EXPECT_EQ(lora_layer_of("transformer.layer.0.ffn.lin1", &path), 0);
  EXPECT_EQ(path, "ffn.lin1");
  EXPECT_EQ(lora_layer_of("embeddings.word_embeddings"), -1);
}

}  // namespace
