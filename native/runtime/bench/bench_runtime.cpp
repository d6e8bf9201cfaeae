// Benchmark of the runtime: forward latency (mean-pooled embed) per (threads, batch, seq), the mixed-adapter batch
// against a single-adapter batch, adapter memory against the backbone's, and (with --weights int8) int8's accuracy
// cost against fp32. One JSON line per measurement.
//   mtpf_runtime_bench MODEL_DIR [--threads N] [--iters N] [--weights fp32|int8] [--adapters N] [--rank R]
//                      [--batch 1|32]   (only that forward batch)
// Adapters are random PEFT folders (query, key and MLP of every layer, rank R) written to a temp folder.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <time.h>
#include <unistd.h>
#include <random>
#include <string>
#include <vector>

#include "mtpf/runtime.h"
#include "safetensors.h"

namespace fs = std::filesystem;
using mtpf::rt::Backbone;

namespace {

double process_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// Median wall time of fn; *cpu_ms (if given): the median CPU time of the process over the same calls, which a
// machine busy with other work inflates less (with 1 thread it is the forward's own cost).
double median_ms(int iters, const std::function<void()>& fn, double* cpu_ms = nullptr) {
  std::vector<double> ms, cpu;
  for (int it = 0; it < iters + 2; ++it) {
    const double c0 = process_cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = process_cpu_ms();
    if (it >= 2) {
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      cpu.push_back(c1 - c0);
    }
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  if (cpu_ms) *cpu_ms = cpu[cpu.size() / 2];
  return ms[ms.size() / 2];
}

// A random PEFT adapter on query, key, intermediate and output of every layer of a BERT-family model.
void write_adapter(const fs::path& dir, const Backbone& bb, int rank, int intermediate, uint32_t seed) {
  fs::create_directories(dir);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;
  std::vector<std::string> targets;
  const bool distil = bb.model_type() == "distilbert";
  const int H = bb.hidden_size();
  struct Target {
    const char* bert;
    const char* distil;
    int in, out;
  };
  const Target kTargets[] = {{"attention.self.query", "attention.q_lin", H, H},
                             {"attention.self.key", "attention.k_lin", H, H},
                             {"intermediate.dense", "ffn.lin1", H, intermediate},
                             {"output.dense", "ffn.lin2", intermediate, H}};
  for (int l = 0; l < bb.num_layers(); ++l)
    for (const Target& t : kTargets) {
      const std::string module =
          std::string(distil ? "transformer.layer." : "encoder.layer.") + std::to_string(l) + "." + (distil ? t.distil : t.bert);
      std::vector<float> A(static_cast<size_t>(rank) * t.in), B(static_cast<size_t>(t.out) * rank);
      for (auto& x : A) x = dist(rng);
      for (auto& x : B) x = dist(rng);
      tensors["base_model.model." + module + ".lora_A.weight"] = {{rank, t.in}, A};
      tensors["base_model.model." + module + ".lora_B.weight"] = {{t.out, rank}, B};
      targets.push_back("\"" + module + "\"");
    }
  mtpf::rt::safetensors_write_f32((dir / "adapter_model.safetensors").string(), tensors);
  std::ofstream cfg(dir / "adapter_config.json");
  cfg << "{\"peft_type\": \"LORA\", \"r\": " << rank << ", \"lora_alpha\": " << 2 * rank << ", \"target_modules\": [";
  for (size_t i = 0; i < targets.size(); ++i) cfg << (i ? ", " : "") << targets[i];
  cfg << "], \"bias\": \"none\"}\n";
}

int intermediate_size(const std::string& model_dir) {
  std::ifstream in(fs::path(model_dir) / "config.json");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key : {"\"intermediate_size\"", "\"hidden_dim\""}) {
    const size_t at = s.find(key);
    if (at != std::string::npos) return std::atoi(s.c_str() + s.find(':', at) + 1);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [--threads N] [--iters N] [--weights fp32|int8] [--adapters N] [--rank R] [--batch 1|32]\n",
                 argv[0]);
    return 2;
  }
  std::string dir = argv[1], weights = "fp32";
  int threads = 0, iters = 10, adapters = 16, rank = 8, only_batch = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--weights")) weights = argv[i + 1];
    else if (!std::strcmp(argv[i], "--adapters")) adapters = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rank")) rank = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) only_batch = std::atoi(argv[i + 1]);
  }
  try {
    Backbone bb(dir, weights);
    if (threads > 0) bb.set_num_threads(threads);
    const int seq = 128, H = bb.hidden_size();
    auto inputs = [&](int batch) {
      std::vector<int32_t> ids(static_cast<size_t>(batch) * seq);
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(1000 + (i * 7919) % 20000);
      return ids;
    };
    for (int batch : {1, 32}) {
      if (only_batch > 0 && batch != only_batch) continue;
      auto ids = inputs(batch);
      std::vector<int32_t> mask(ids.size(), 1);
      std::vector<float> out(static_cast<size_t>(batch) * H);
      double cpu_ms = 0;
      const double ms = median_ms(
          iters, [&] { bb.embed(ids.data(), mask.data(), nullptr, nullptr, batch, seq, "mean", false, out.data()); },
          &cpu_ms);
      std::printf("{\"job\":\"forward\",\"engine\":\"runtime\",\"model\":\"%s\",\"weights\":\"%s\",\"threads\":%d,"
                  "\"batch\":%d,\"seq\":%d,\"median_ms\":%.3f,\"cpu_ms\":%.3f,\"tokens_per_s\":%.1f}\n",
                  dir.c_str(), weights.c_str(), bb.num_threads(), batch, seq, ms, cpu_ms, batch * seq / (ms / 1000.0));
      std::fflush(stdout);
    }
    if (weights == "int8") {
      // The accuracy cost of int8: cosine of each int8 embedding with the fp32 one, on the batch-32 input.
      Backbone fp(dir, "fp32");
      const int batch = 32;
      auto ids = inputs(batch);
      std::vector<int32_t> mask(ids.size(), 1);
      std::vector<float> a(static_cast<size_t>(batch) * H), b(a.size());
      bb.embed(ids.data(), mask.data(), nullptr, nullptr, batch, seq, "mean", true, a.data());
      fp.embed(ids.data(), mask.data(), nullptr, nullptr, batch, seq, "mean", true, b.data());
      double min_cos = 1, sum_cos = 0;
      for (int r = 0; r < batch; ++r) {
        double dot = 0;
        for (int i = 0; i < H; ++i) dot += double(a[r * H + i]) * b[r * H + i];
        min_cos = std::min(min_cos, dot);
        sum_cos += dot;
      }
      std::printf("{\"job\":\"int8_accuracy\",\"model\":\"%s\",\"mean_cosine\":%.6f,\"min_cosine\":%.6f,"
                  "\"int8_weight_bytes\":%lld,\"fp32_weight_bytes\":%lld}\n",
                  dir.c_str(), sum_cos / batch, min_cos, bb.weight_bytes(), fp.weight_bytes());
    }
    if (adapters > 0) {
      const fs::path tmp = fs::temp_directory_path() / ("mtpf-bench-adapters-" + std::to_string(::getpid()));
      const int inter = intermediate_size(dir);
      std::vector<int32_t> slots;
      for (int a = 0; a < adapters; ++a) {
        write_adapter(tmp / std::to_string(a), bb, rank, inter, 100 + a);
        bb.load_adapter("a" + std::to_string(a), (tmp / std::to_string(a)).string(), "");
        slots.push_back(bb.adapter_id("a" + std::to_string(a)));
      }
      fs::remove_all(tmp);
      const int batch = 32;
      auto ids = inputs(batch);
      std::vector<int32_t> mask(ids.size(), 1), single(batch, slots[0]), mixed(batch);
      for (int b = 0; b < batch; ++b) mixed[b] = slots[b % adapters];
      std::vector<float> out(static_cast<size_t>(batch) * H);
      double single_cpu_ms = 0, mixed_cpu_ms = 0;
      const double single_ms = median_ms(
          iters, [&] { bb.embed(ids.data(), mask.data(), nullptr, single.data(), batch, seq, "mean", false, out.data()); },
          &single_cpu_ms);
      const double mixed_ms = median_ms(
          iters, [&] { bb.embed(ids.data(), mask.data(), nullptr, mixed.data(), batch, seq, "mean", false, out.data()); },
          &mixed_cpu_ms);
      std::printf("{\"job\":\"mixed_adapters\",\"model\":\"%s\",\"weights\":\"%s\",\"threads\":%d,\"batch\":%d,"
                  "\"seq\":%d,\"adapters\":%d,\"rank\":%d,\"single_adapter_ms\":%.3f,\"mixed_ms\":%.3f,"
                  "\"single_adapter_cpu_ms\":%.3f,\"mixed_cpu_ms\":%.3f,\"mixed_throughput_ratio\":%.3f}\n",
                  dir.c_str(), weights.c_str(), bb.num_threads(), batch, seq, adapters, rank, single_ms, mixed_ms,
                  single_cpu_ms, mixed_cpu_ms, single_ms / mixed_ms);
      const long long backbone = bb.weight_bytes(), adapter = bb.adapter_bytes("a0");
      std::printf("{\"job\":\"memory\",\"model\":\"%s\",\"weights\":\"%s\",\"backbone_bytes\":%lld,"
                  "\"adapter_bytes\":%lld,\"rank\":%d,\"adapter_fraction\":%.4f}\n",
                  dir.c_str(), weights.c_str(), backbone, adapter, rank, double(adapter) / backbone);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mtpf_runtime_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
