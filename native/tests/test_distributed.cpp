// Data parallelism on c10d (Gloo on localhost): 2 ranks at global batch B train exactly as 1 rank at B (losses
// and every parameter after 5 steps), for each strategy the paper compares; a rank that dies stops the others
// with an error, not a hang. The ranks are separate processes (tools/dist_worker.cpp), as torchrun starts them.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "distributed.h"
#include "errors.h"
#include "losses.h"
#include "safetensors.h"
#include "test_util.h"
#include "torch_compat.h"

extern char** environ;

using namespace mtpf;

namespace {

// A port nothing listens on now (the kernel's choice); the ranks bind it a moment later.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

struct Rank {
  pid_t pid = -1;
  std::string err_file;
};

Rank spawn_rank(const std::vector<std::string>& args, const std::string& err_file) {
  std::vector<char*> argv;
  std::string exe = MTPF_DIST_WORKER;
  argv.push_back(exe.data());
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Rank r;
  r.err_file = err_file;
  if (posix_spawn(&r.pid, exe.c_str(), &actions, nullptr, argv.data(), environ) != 0) r.pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return r;
}

// Exit status, or -1 after `seconds` (the process is then killed): a hang is a failure, not a stuck test.
int wait_rank(const Rank& r, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (waitpid(r.pid, &status, WNOHANG) == r.pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(r.pid, SIGKILL);
  waitpid(r.pid, &status, 0);
  return -1;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `world` ranks; returns rank 0's output file.
std::string run_job(const std::filesystem::path& model, const std::string& strategy, bool pcgrad, int world,
                    int64_t chunk) {
  const auto out = model / (strategy + (pcgrad ? "-pcgrad" : "") + "-w" + std::to_string(world) + ".safetensors");
  const std::string port = std::to_string(free_port());
  std::vector<Rank> ranks;
  for (int r = 0; r < world; ++r)
    ranks.push_back(spawn_rank({model.string(), strategy, pcgrad ? "1" : "0", std::to_string(r), std::to_string(world),
                                port, "5", out.string(), std::to_string(chunk)},
                               (model / ("rank" + std::to_string(r) + ".err")).string()));
  for (auto& r : ranks) {
    EXPECT_GE(r.pid, 0) << "cannot start " << MTPF_DIST_WORKER;
    const int code = wait_rank(r, 120);
    EXPECT_EQ(code, 0) << strategy << ", " << world << " ranks: a rank failed: " << slurp(r.err_file);
  }
  return out.string();
}

class Distributed : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

}  // namespace

TEST(DistributedLoss, ShardedInfoNceAveragesToTheFullBatchLoss) {
  torch::manual_seed(3);
  auto a = torch::randn({8, 16}, torch::kFloat64), p = torch::randn({8, 16}, torch::kFloat64);
  auto full = info_nce_loss(a, p, 0.05);
  auto sharded = (info_nce_loss_sharded(a.slice(0, 0, 4), p, 0, 0.05) +
                  info_nce_loss_sharded(a.slice(0, 4, 8), p, 4, 0.05)) / 2;
  EXPECT_NEAR(full.item<double>(), sharded.item<double>(), 1e-12);
  EXPECT_THROW(info_nce_loss_sharded(a.slice(0, 0, 4), p, 6, 0.05), Error);
}

TEST_P(Distributed, TwoRanksTrainAsOneRankOnTheSameGlobalBatch) {
  if (!distributed_available(torch::Device(torch::kCPU)))
    GTEST_SKIP() << "SKIPPED: " << distributed_unavailable_reason(torch::Device(torch::kCPU));
  const auto& [strategy, pcgrad] = GetParam();
  auto model = test::write_tiny_model("bert", "dist-" + strategy + (pcgrad ? "-pcgrad" : ""));
  // One rank: GradCache in chunks of 4 of its 8 pairs; two ranks: chunks of 2 of their 4 (chunking changes memory,
  // not the result, so it may differ between the runs).
  auto one = safetensors_read(run_job(model, strategy, pcgrad, 1, 4)).tensors;
  auto two = safetensors_read(run_job(model, strategy, pcgrad, 2, 2)).tensors;
  ASSERT_EQ(one.size(), two.size());
  auto m1 = one.at("metrics"), m2 = two.at("metrics");
  EXPECT_TRUE(torch::allclose(m1.nan_to_num(0), m2.nan_to_num(0), 1e-5, 1e-5))
      << "losses (tc, ner, grad norm) per step, 1 rank:\n" << m1 << "\n2 ranks:\n" << m2;
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, t] : one) {
    if (name == "metrics") continue;
    const double d = (t - two.at(name)).abs().max().item<double>();
    if (d > worst) worst = d, worst_name = name;
  }
  EXPECT_LT(worst, 1e-5) << "largest parameter difference after 5 steps: " << worst_name;
  // The run moved the parameters (the comparison is not of two untouched models).
  auto start = safetensors_read((model / "model.safetensors").string()).tensors;
  bool moved = false;
  for (const auto& [name, t] : start) {
    auto it = one.find("model." + name);
    if (it != one.end() && !torch::equal(it->second, t)) moved = true;
  }
  EXPECT_TRUE(moved);
}

INSTANTIATE_TEST_SUITE_P(Strategies, Distributed,
                         ::testing::Values(std::make_tuple(std::string("pf-tc"), false),
                                           std::make_tuple(std::string("pf-ner"), false),
                                           std::make_tuple(std::string("mtpf"), true),
                                           std::make_tuple(std::string("mtpf-tpl"), false)),
                         [](const auto& info) {
                           auto name = std::get<0>(info.param) + (std::get<1>(info.param) ? "_pcgrad" : "");
                           for (auto& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

// Gradients all-reduced during the backward (the default) or after it (MTPF_DIST_OVERLAP=0): the same sums.
TEST(DistributedOverlap, OverlappedAndAfterwardsAveragingTrainTheSame) {
  if (!distributed_available(torch::Device(torch::kCPU)))
    GTEST_SKIP() << "SKIPPED: " << distributed_unavailable_reason(torch::Device(torch::kCPU));
  auto model = test::write_tiny_model("bert", "dist-overlap");
  auto overlapped = safetensors_read(run_job(model, "mtpf-tpl", false, 2, 0)).tensors;
  setenv("MTPF_DIST_OVERLAP", "0", 1);
  const auto path = run_job(model, "mtpf-tpl", false, 2, 0);  // the same file name: read before the next run
  unsetenv("MTPF_DIST_OVERLAP");
  auto after = safetensors_read(path).tensors;
  ASSERT_EQ(overlapped.size(), after.size());
  for (const auto& [name, t] : overlapped)
    EXPECT_TRUE(torch::allclose(t, after.at(name), 1e-7, 1e-7)) << name;
}

TEST(DistributedFaults, ARankThatDiesStopsTheOthersWithAnError) {
  if (!distributed_available(torch::Device(torch::kCPU)))
    GTEST_SKIP() << "SKIPPED: " << distributed_unavailable_reason(torch::Device(torch::kCPU));
  auto model = test::write_tiny_model("bert", "dist-fault");
  const std::string port = std::to_string(free_port()), out = (model / "out.safetensors").string();
  auto survivor = spawn_rank({model.string(), "mtpf-tpl", "0", "0", "2", port, "5", out, "0"},
                             (model / "rank0.err").string());
  auto dying = spawn_rank({model.string(), "mtpf-tpl", "0", "1", "2", port, "5", out, "0", "2"},
                          (model / "rank1.err").string());
  EXPECT_EQ(wait_rank(dying, 120), 9);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_rank(survivor, 90);  // the worker's collective timeout is 60 s; a closed peer fails at once
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto err = slurp(survivor.err_file);
  EXPECT_EQ(code, 1) << "rank 0 should fail, not hang or succeed: " << err;
  EXPECT_NE(err.find("rank 0 of 2 (gloo)"), std::string::npos) << err;
  EXPECT_NE(err.find("failed"), std::string::npos) << err;
  EXPECT_LT(waited, 70) << err;
}

TEST(DistributedSettings, RejectsBadSettingsNamingThem) {
  EXPECT_THROW(DistributedConfig::from_json({{"rank", 2}, {"world_size", 2}}), Error);
  EXPECT_THROW(DistributedConfig::from_json({{"world_size", 0}}), Error);
  EXPECT_THROW(DistributedConfig::from_json({{"master_port", 70000}}), Error);
  EXPECT_THROW(DistributedConfig::from_json({{"backend", "mpi"}}), Error);
  EXPECT_THROW(DistributedConfig::from_json({{"ranks", 2}}), Error);
  try {
    DistributedConfig::from_json({{"world_size", 1.5}});
    FAIL() << "a fractional world size was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("world_size"), std::string::npos) << e.what();
  }
  EXPECT_THROW(DistributedConfig::from_json({{"overlap", "yes"}}), std::exception);
  auto c = DistributedConfig::from_json(
      {{"rank", 1}, {"world_size", 4}, {"agent_store", true}, {"restart_count", 2}, {"overlap", false}});
  EXPECT_FALSE(c.overlap);
  EXPECT_EQ(DistributedConfig::from_json(c.to_json()).to_json(), c.to_json());
}

// The overlapped averaging on a job of one rank (the all-reduce is then the identity, so every gradient must come
// out as plain backward leaves it): buckets start during the backward as their gradients complete, a gradient
// completed by an earlier backward is reduced too, and one no backward reached stays undefined.
TEST(DistributedOverlap, BucketsStartDuringTheBackwardAndAverageEveryGradient) {
  if (!distributed_available(torch::Device(torch::kCPU)))
    GTEST_SKIP() << "SKIPPED: " << distributed_unavailable_reason(torch::Device(torch::kCPU));
  DistributedConfig config;
  config.master_port = free_port();
  config.timeout_s = 30;
  ProcessGroup group(config, torch::Device(torch::kCPU));
  torch::manual_seed(0);
  torch::nn::Sequential net(torch::nn::Linear(6, 8), torch::nn::Tanh(), torch::nn::Linear(8, 8), torch::nn::Tanh(),
                            torch::nn::Linear(8, 3));
  auto done = torch::randn({5}, torch::requires_grad());    // its gradient comes from an earlier backward
  auto unused = torch::randn({4}, torch::requires_grad());  // no backward reaches it
  std::vector<torch::Tensor> params = net->parameters();
  params.push_back(done);
  params.push_back(unused);
  auto x = torch::randn({7, 6});
  auto backward_once = [&](OverlappedGradientAverage* overlap) {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    (done * 3).sum().backward();
    auto loss = net->forward(x).pow(2).mean();
    if (overlap) overlap->arm(loss);
    loss.backward();
  };
  backward_once(nullptr);
  std::vector<torch::Tensor> plain;
  for (auto& p : params) plain.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());

  for (const bool armed : {true, false}) {
    SCOPED_TRACE(armed ? "armed" : "not armed: all after the backward");
    OverlappedGradientAverage overlap(group, params, /*bucket_bytes=*/64);  // a bucket or two per tensor
    backward_once(armed ? &overlap : nullptr);
    overlap.finish();
#if MTPF_TORCH_AT_LEAST(2, 1)
    if (armed) EXPECT_GE(overlap.started_early(), 6) << "buckets started before finish()";
#endif
    if (!armed) EXPECT_EQ(overlap.started_early(), 0);
    for (size_t i = 0; i < params.size(); ++i) {
      if (!plain[i].defined()) {
        EXPECT_FALSE(params[i].grad().defined()) << "parameter " << i;
        continue;
      }
      ASSERT_TRUE(params[i].grad().defined()) << "parameter " << i;
      EXPECT_TRUE(torch::equal(params[i].grad(), plain[i])) << "parameter " << i;
    }
  }
  // The hooks left with the object: a later backward triggers nothing.
  backward_once(nullptr);
  for (size_t i = 0; i + 1 < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i].grad(), plain[i]));
}
