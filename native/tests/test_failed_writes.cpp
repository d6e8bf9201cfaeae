// Failed writes, as a full disk makes them: a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) fails every write
// past its size with EFBIG midway through the file. Whatever fails must leave the previous file, checkpoint or
// export intact and loadable, no temporary behind, and an error naming the path.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>

#include "errors.h"
#include "model_folder.h"
#include "safetensors.h"
#include "test_util.h"
#include "train_session.h"

using namespace mtpf;
namespace fs = std::filesystem;

namespace {

// For the scope: files cannot grow past `bytes` (this test process only; ctest runs each test in its own).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_);
  }

 private:
  rlimit saved_{};
  void (*previous_)(int) = nullptr;
};

bool any_tmp(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) return true;
  return false;
}

StepInputs tc_batch(uint64_t seed) {
  torch::manual_seed(seed);
  StepInputs in;
  in.tc_a_ids = torch::randint(5, 100, {4, 6}, torch::kLong);
  in.tc_a_mask = torch::ones({4, 6}, torch::kLong);
  in.tc_b_ids = torch::randint(5, 100, {4, 6}, torch::kLong);
  in.tc_b_mask = torch::ones({4, 6}, torch::kLong);
  return in;
}

TrainConfig tc_config() {
  TrainConfig c;
  c.strategy = "pf-tc";
  c.lr = 1e-2;
  c.total_steps = 10;
  return c;
}

void expect_write_error(const std::function<void()>& write, const std::string& names) {
  try {
    write();
    ADD_FAILURE() << "the write into " << names << " did not fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(FailedWrites, SafetensorsKeepsThePreviousFile) {
  const fs::path dir = test::temp_dir("fw-safetensors");
  const std::string path = (dir / "model.safetensors").string();
  const auto small = torch::arange(6, torch::kFloat32).reshape({2, 3});
  safetensors_write(path, {{"w", small}});
  {
    FileSizeLimit limit(4096);
    expect_write_error([&] { safetensors_write(path, {{"w", torch::ones({64, 64})}}); }, path);
  }
  EXPECT_TRUE(torch::equal(safetensors_read(path).tensors.at("w"), small));
  EXPECT_FALSE(any_tmp(dir));
}

TEST(FailedWrites, CheckpointLeavesTheLastGoodOneLoadable) {
  const auto model = test::write_tiny_model("bert", "fw-ckpt-model");
  const fs::path dir = test::temp_dir("fw-ckpt");
  TrainSession s(model.string(), tc_config());
  s.step(tc_batch(1), false);
  s.save_checkpoint((dir / "step-1").string(), {{"sampler", 1}});
  s.step(tc_batch(2), false);
  {
    FileSizeLimit limit(2048);
    expect_write_error([&] { s.save_checkpoint((dir / "step-2").string(), {}); }, (dir / "step-2").string());
    // Saving over the good checkpoint's own folder fails the same way and keeps it.
    expect_write_error([&] { s.save_checkpoint((dir / "step-1").string(), {}); }, (dir / "step-1").string());
  }
  EXPECT_FALSE(fs::exists(dir / "step-2"));
  EXPECT_FALSE(any_tmp(dir));
  TrainSession resumed(model.string(), tc_config());
  EXPECT_EQ(resumed.load_checkpoint((dir / "step-1").string())["sampler"], 1);
  EXPECT_EQ(resumed.optimizer_steps(), 1);
}

TEST(FailedWrites, ExportKeepsThePreviousExport) {
  const auto model = test::write_tiny_model("bert", "fw-export-model");
  const fs::path out = test::temp_dir("fw-export");
  TrainSession s(model.string(), tc_config());
  s.export_backbone((out / "backbone").string());
  const auto before = safetensors_read((out / "backbone" / "model.safetensors").string()).tensors;
  s.step(tc_batch(3), false);
  {
    FileSizeLimit limit(2048);
    expect_write_error([&] { s.export_backbone((out / "backbone").string()); }, (out / "backbone").string());
  }
  EXPECT_FALSE(any_tmp(out));
  auto loaded = model_folder_load((out / "backbone").string());  // still a whole, loadable model folder
  const auto after = safetensors_read((out / "backbone" / "model.safetensors").string()).tensors;
  ASSERT_EQ(before.size(), after.size());
  for (const auto& [k, v] : before) EXPECT_TRUE(torch::equal(v, after.at(k))) << k;
}
