// Training-step benchmark of the native core.
//   mtpf_bench_train_step MODEL_DIR [--threads N] [--device D] [--precision P] [--iters N] [--tc-batch 64]
//                         [--ner-batch 64] [--seq 128]
//   mtpf_bench_train_step MODEL_DIR --memory plain|cached [--tc-batch 1024] [--chunk 64] [--seq 128]
// The first form times an MTPF-TPL step (one TC batch of pairs and one NER batch, both task-primary LoRA groups on
// the last 2 layers, AdamW) and prints tokens/s. The second runs one InfoNCE step (pf-tc) with the plain or the
// cached (GradCache) loss and prints the process's peak resident memory, so two runs compare the two losses.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

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

static double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [--threads N] [--device D] [--precision P] [--iters N] [--tc-batch B]"
                         " [--ner-batch B] [--seq T] [--memory plain|cached] [--chunk C]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1], device = "cpu", precision = "fp32", memory;
  int threads = 0, iters = 5;
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
  }
  try {
    if (threads > 0) at::set_num_threads(threads);
    TrainConfig c;
    c.device = device;
    c.precision = precision;
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
    std::vector<double> times;
    for (int it = 0; it < iters + 1; ++it) {
      auto in = inputs(tc_batch, ner_batch, seq, 200, torch::Device(device));
      auto t0 = std::chrono::steady_clock::now();
      s.step(in, false);
      if (device != "cpu") torch::cuda::synchronize();
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (it > 0) times.push_back(ms);  // the first step warms up allocators and kernels
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    const double tokens = static_cast<double>((2 * tc_batch + ner_batch) * seq);
    std::printf("{\"job\":\"mtpf_tpl_step\",\"device\":\"%s\",\"threads\":%d,\"tc_pairs\":%lld,\"ner_batch\":%lld,"
                "\"seq\":%lld,\"median_ms\":%.1f,\"tokens_per_s\":%.1f,\"peak_rss_mib\":%.1f}\n",
                device.c_str(), at::get_num_threads(), (long long)tc_batch, (long long)ner_batch, (long long)seq, median,
                tokens / (median / 1000.0), peak_rss_mib());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mtpf_bench_train_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
