// Forward-pass benchmark of the libtorch core: median time of last_hidden_state + mean pooling.
//   mtpf_bench_forward MODEL_DIR [--threads N] [--device cpu|cuda] [--precision fp32|bf16] [--iters N]
// Prints one JSON line per (batch, length) workload.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "mtpf/api.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [--threads N] [--device D] [--precision P] [--iters N]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1], device = "cpu", precision = "fp32";
  int threads = 0, iters = 10;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--device")) device = argv[i + 1];
    else if (!std::strcmp(argv[i], "--precision")) precision = argv[i + 1];
    else if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
  }
  try {
    if (threads > 0) mtpf::set_num_threads(threads);
    mtpf::Encoder enc(dir, device, precision);
    const int seq = 128;
    for (int batch : {1, 32}) {
      std::vector<int64_t> ids(batch * seq), mask(batch * seq, 1);
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = 1000 + (i * 7919) % 20000;
      std::vector<float> out(batch * enc.hidden_size());
      std::vector<double> ms;
      for (int it = 0; it < iters + 2; ++it) {
        auto t0 = std::chrono::steady_clock::now();
        enc.pooled(ids.data(), mask.data(), nullptr, batch, seq, "mean", false, out.data());
        auto t1 = std::chrono::steady_clock::now();
        if (it >= 2) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      double median = ms[ms.size() / 2];
      std::printf("{\"job\":\"forward\",\"model\":\"%s\",\"device\":\"%s\",\"threads\":%d,\"batch\":%d,\"seq\":%d,"
                  "\"median_ms\":%.3f,\"tokens_per_s\":%.1f,\"torch\":\"%s\"}\n",
                  dir.c_str(), enc.device().c_str(), mtpf::num_threads(), batch, seq, median,
                  batch * seq / (median / 1000.0), mtpf::torch_version().c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mtpf_bench_forward: %s\n", e.what());
    return 1;
  }
  return 0;
}
