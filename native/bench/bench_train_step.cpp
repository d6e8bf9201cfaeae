// Training-step benchmark of the native core.
//   mtpf_bench_train_step MODEL_DIR [--threads N] [--device D] [--precision P] [--iters N] [--tc-batch 64]
//                         [--ner-batch 64] [--seq 128] [--batches FILE] [--profile TRACE.json] [--dropout P] [--joint 0]
//   mtpf_bench_train_step MODEL_DIR --memory plain|cached [--tc-batch 1024] [--chunk 64] [--seq 128]
// The first form times an MTPF-TPL step (one TC batch of pairs and one NER batch, both task-primary LoRA groups on
// the last 2 layers, AdamW) and prints tokens/s: random ids at full length, or with --batches the real, padded
// batches scripts/bench/real_batches.py wrote (the ones ../shared/baselines/hf_cpu_train_step.py --data trains
// on), where tokens/s counts real tokens. The second runs one InfoNCE step (pf-tc) with the plain or the
// cached (GradCache) loss and prints the process's peak resident memory, so two runs compare the two losses.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "train_session.h"

using namespace mtpf;

static StepInputs inputs(int64_t tc_batch, int64_t ner_batch, int64_t seq, int64_t classes, torch::Device device) {
  StepInputs in;
  auto ids = [&](int64_t rows) { return torch::randint(1000, 20000, {rows, seq}, torch::kLong).to(device); };
  auto ones = [&](int64_t rows) { return torch::ones({rows, seq}, torch::kLong).to(device); };
  if (tc_batch > 0) {
    in.tc_a_ids = ids(tc_batch);
    in.tc_a_mask = ones(tc_batch);
    in.tc_b_ids = ids(tc_batch);
    in.tc_b_mask = ones(tc_batch);
  }
  if (ner_batch > 0) {
    in.ner_ids = ids(ner_batch);
    in.ner_mask = ones(ner_batch);
    in.ner_labels = torch::randint(0, classes, {ner_batch, seq}, torch::kLong).to(device);
  }
  return in;
}

// Real batches from scripts/bench/real_batches.py; NER labels random where the mask is 1, -100 at padding.
static std::vector<StepInputs> read_batches(const std::string& path, int64_t classes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::vector<StepInputs> steps;
  auto read = [&](int64_t rows, int64_t cols) {
    auto t = torch::empty({rows, cols}, torch::kLong);
    f.read(reinterpret_cast<char*>(t.data_ptr<int64_t>()), static_cast<std::streamsize>(rows * cols * 8));
    if (!f) throw std::runtime_error(path + ": truncated");
    return t;
  };
  int64_t h[5];
  while (f.read(reinterpret_cast<char*>(h), sizeof h)) {
    StepInputs in;
    in.tc_a_ids = read(h[0], h[1]);
    in.tc_a_mask = read(h[0], h[1]);
    in.tc_b_ids = read(h[0], h[2]);
    in.tc_b_mask = read(h[0], h[2]);
    in.ner_ids = read(h[3], h[4]);
    in.ner_mask = read(h[3], h[4]);
    in.ner_labels = torch::randint(0, classes, {h[3], h[4]}, torch::kLong).masked_fill(in.ner_mask.eq(0), -100);
    steps.push_back(in);
  }
  if (steps.size() < 2) throw std::runtime_error(path + ": needs at least 2 steps (the first warms up)");
  return steps;
}

static int64_t real_tokens(const StepInputs& in) {
  return (in.tc_a_mask.sum() + in.tc_b_mask.sum() + in.ner_mask.sum()).item<int64_t>();
}

static double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [--threads N] [--device D] [--precision P] [--iters N] [--tc-batch B]"
                         " [--ner-batch B] [--seq T] [--memory plain|cached] [--chunk C]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1], device = "cpu", precision = "fp32", memory, batches_file, profile;
  int threads = 0, iters = 5;
  double dropout = -1;
  // --joint 0: the two tasks in two passes (TrainConfig::joint_forward); --joint both: two sessions, one each way,
  // stepped alternately on the same batches, so that the machine's drift falls on both alike.
  std::string joint = "1";
  int64_t tc_batch = -1, ner_batch = 64, seq = 128, chunk = 64;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--threads") threads = std::stoi(v);
    else if (k == "--device") device = v;
    else if (k == "--precision") precision = v;
    else if (k == "--iters") iters = std::stoi(v);
    else if (k == "--tc-batch") tc_batch = std::stoll(v);
    else if (k == "--ner-batch") ner_batch = std::stoll(v);
    else if (k == "--seq") seq = std::stoll(v);
    else if (k == "--memory") memory = v;
    else if (k == "--chunk") chunk = std::stoll(v);
    else if (k == "--batches") batches_file = v;
    else if (k == "--profile") profile = v;
    else if (k == "--dropout") dropout = std::stod(v);
    else if (k == "--joint") joint = v;
  }
  try {
    if (threads > 0) at::set_num_threads(threads);
    TrainConfig c;
    c.device = device;
    c.precision = precision;
    c.dropout = dropout;
    c.joint_forward = joint != "0";
    c.total_steps = 1000;
    c.ner_classes = 200;
    if (!memory.empty()) {
      c.strategy = "pf-tc";
      if (tc_batch < 0) tc_batch = 1024;
      c.chunk_size = memory == "cached" ? chunk : 0;
      TrainSession s(dir, c);
      const double before = peak_rss_mib();
      auto t0 = std::chrono::steady_clock::now();
      auto m = s.step(inputs(tc_batch, 0, seq, 200, torch::Device(device)), false);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::printf("{\"job\":\"infonce_memory\",\"loss\":\"%s\",\"batch\":%lld,\"seq\":%lld,\"chunk\":%lld,"
                  "\"peak_rss_mib\":%.1f,\"rss_before_step_mib\":%.1f,\"step_ms\":%.1f,\"tc_loss\":%.4f}\n",
                  memory.c_str(), (long long)tc_batch, (long long)seq, (long long)c.chunk_size, peak_rss_mib(), before,
                  ms, m.tc_loss);
      return 0;
    }
    if (tc_batch < 0) tc_batch = 64;
    c.strategy = "mtpf-tpl";
    c.chunk_size = 0;
    TrainSession s(dir, c);
    std::vector<StepInputs> real;
    if (!batches_file.empty()) {
      real = read_batches(batches_file, c.ner_classes);
      iters = static_cast<int>(real.size()) - 1;
      tc_batch = real[0].tc_a_ids.size(0);
      ner_batch = real[0].ner_ids.size(0);
    }
    if (joint == "both") {
      TrainConfig c2 = c;
      c2.joint_forward = false;
      TrainSession two(dir, c2);
      std::vector<double> one_ms, two_ms, ratio;
      for (int it = 0; it < iters + 1; ++it) {
        auto in = real.empty() ? inputs(tc_batch, ner_batch, seq, 200, torch::Device(device)) : real[it];
        auto timed = [&](TrainSession& t) {
          auto t0 = std::chrono::steady_clock::now();
          t.step(in, false);
          if (device != "cpu") torch::cuda::synchronize();
          return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        };
        double a, b;
        if (it % 2 == 0) { a = timed(s); b = timed(two); } else { b = timed(two); a = timed(s); }
        if (it == 0) continue;
        one_ms.push_back(a);
        two_ms.push_back(b);
        ratio.push_back(b / a);
      }
      std::printf("{\"job\":\"joint_vs_two_passes\",\"data\":\"%s\",\"steps\":%zu,\"joint_median_ms\":%.1f,"
                  "\"two_passes_median_ms\":%.1f,\"speedup_median_of_pairs\":%.3f}\n",
                  real.empty() ? "random, full length" : batches_file.c_str(), one_ms.size(), median(one_ms),
                  median(two_ms), median(ratio));
      return 0;
    }
    std::vector<double> times, tokens;
    for (int it = 0; it < iters + 1; ++it) {
      auto in = real.empty() ? inputs(tc_batch, ner_batch, seq, 200, torch::Device(device)) : real[it];
      const double n = real.empty() ? static_cast<double>((2 * tc_batch + ner_batch) * seq) : real_tokens(in);
      auto t0 = std::chrono::steady_clock::now();
      {
        // --profile FILE: the last step's operators as a Chrome trace (libtorch's profiler).
        std::unique_ptr<torch::autograd::profiler::RecordProfile> trace;
        if (!profile.empty() && it == iters) trace = std::make_unique<torch::autograd::profiler::RecordProfile>(profile);
        s.step(in, false);
      }
      if (device != "cpu") torch::cuda::synchronize();
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (it > 0) {  // the first step warms up allocators and kernels
        times.push_back(ms);
        tokens.push_back(n);
      }
    }
    const double median_ms = median(times);
    std::printf("{\"job\":\"mtpf_tpl_step\",\"data\":\"%s\",\"device\":\"%s\",\"precision\":\"%s\",\"dropout\":%g,\"threads\":%d,"
                "\"tc_pairs\":%lld,\"ner_batch\":%lld,\"seq\":%lld,\"median_ms\":%.1f,\"tokens_per_s\":%.1f,"
                "\"peak_rss_mib\":%.1f}\n",
                real.empty() ? "random, full length" : batches_file.c_str(), device.c_str(), s.config().precision.c_str(),
                dropout, at::get_num_threads(), (long long)tc_batch, (long long)ner_batch, (long long)seq, median_ms,
                median(tokens) / (median_ms / 1000.0), peak_rss_mib());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mtpf_bench_train_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
