// The workloads of the CUDA training issue, timed on the native core (scripts/gpu/run.sh runs this beside
// ../shared/gpu/hf_baseline.py and prints the comparison table; docs/gpu-notes.md keeps each version's figures).
//   mtpf_bench_gpu [--device cuda|cpu] [--precision bf16|fp32] [--iters N] [--warmup N] [--jobs a,b] [--out FILE]
//   mtpf_bench_gpu --smoke [--device cpu]     every workload once on a tiny model at tiny shapes (ctest)
// Model: a random-init MiniLM-L12-H384 (BERT, 12 layers, hidden 384, 12 heads, MLP 1536, vocab 30522), the shape of
// hf_baseline.py, written by model_init_random: nothing is downloaded. Inputs are host tensors, as from Java.
// Prints one JSON line per job: median step time of `iters` steps after `warmup`, each step between two device
// synchronisations; training steps read no scalars (as a run does between logged steps).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "mtpf/api.h"
#include "model_folder.h"
#include "torch_compat.h"
#include "train_session.h"

#if defined(MTPF_WITH_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define MTPF_CUDA_MEMORY_STATS 1
#endif

using namespace mtpf;
using nlohmann::json;

namespace {

struct Shapes {
  int64_t seq, tc_pairs, tpl_ner, ner_pf, lora_batch, infer_large, mem_pairs, mem_chunk, ner_classes;
};

struct Bench {
  torch::Device device{torch::kCPU};
  std::string precision = "bf16";
  int iters = 20, warmup = 5;
  Shapes shapes{};
  std::string model_dir;
  std::FILE* out = nullptr;

  void sync() const {
    if (device.is_cuda()) torch::cuda::synchronize();
  }

  void emit(json j) const {
    j["device"] = device.str();
    j["torch"] = TORCH_VERSION;
    const auto line = j.dump();
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (out) {
      std::fprintf(out, "%s\n", line.c_str());
      std::fflush(out);
    }
  }

  // Median milliseconds of fn over `iters` runs after `warmup` runs, each run between two synchronisations.
  double median_ms(const std::function<void()>& fn) const {
    for (int i = 0; i < warmup; ++i) fn();
    sync();
    std::vector<double> ms;
    for (int i = 0; i < iters; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      fn();
      sync();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }
};

torch::Tensor random_ids(int64_t rows, int64_t seq, int64_t vocab) {
  return torch::randint(std::min<int64_t>(1000, vocab / 2), std::min<int64_t>(30000, vocab), {rows, seq}, torch::kLong);
}

StepInputs make_inputs(int64_t pairs, int64_t ner, int64_t seq, int64_t classes, int64_t vocab) {
  StepInputs in;
  if (pairs > 0) {
    in.tc_a_ids = random_ids(pairs, seq, vocab);
    in.tc_a_mask = torch::ones({pairs, seq}, torch::kLong);
    in.tc_b_ids = random_ids(pairs, seq, vocab);
    in.tc_b_mask = torch::ones({pairs, seq}, torch::kLong);
  }
  if (ner > 0) {
    in.ner_ids = random_ids(ner, seq, vocab);
    in.ner_mask = torch::ones({ner, seq}, torch::kLong);
    in.ner_labels = torch::randint(0, classes, {ner, seq}, torch::kLong);
  }
  return in;
}

// Parameters outside the embeddings, LoRAs and heads: the N of MFU's 6 N FLOPs per token.
int64_t non_embedding_params(EncoderModel& model) {
  int64_t n = 0;
  for (const auto& p : model.named_parameters())
    if (p.key().find("embeddings") == std::string::npos && p.key().find(".lora_") == std::string::npos)
      n += p.value().numel();
  return n;
}

json model_shape(EncoderModel& model, int64_t seq) {
  const auto& c = model.config();
  return {{"layers", c.num_hidden_layers}, {"hidden", c.hidden_size}, {"seq", seq},
          {"nonembed_params", non_embedding_params(model)}};
}

TrainConfig train_config(const Bench& b, const std::string& strategy) {
  TrainConfig c;
  c.strategy = strategy;
  c.device = b.device.str();
  c.precision = b.precision;
  c.chunk_size = 0;  // the plain loss, as HF computes it; the cached one is the memory job
  c.ner_classes = b.shapes.ner_classes;
  c.total_steps = 100000;
  c.lr = 1e-5;
  c.seed = 1;
  return c;
}

// One training workload: `tokens` counts the tokens of a step (for tokens/s and MFU).
void train_job(Bench& b, const std::string& name, TrainConfig c, int64_t pairs, int64_t ner, json extra) {
  TrainSession s(b.model_dir, c);
  auto in = make_inputs(pairs, ner, b.shapes.seq, c.ner_classes, s.model().config().vocab_size);
  const double ms = b.median_ms([&] { s.step(in, /*measure=*/false, /*read=*/false); });
  auto last = s.step(in, false, /*read=*/true);  // also fails here if any timed step had a non-finite loss
  const int64_t tokens = (2 * pairs + ner) * b.shapes.seq;
  json j = {{"job", name}, {"ms", ms}, {"tokens", tokens}, {"tokens_per_s", tokens / ms * 1e3},
            {"precision", c.precision}, {"optimizer", s.optimizer_impl()}, {"tc_loss", nullptr}, {"ner_loss", nullptr}};
  if (std::isfinite(last.tc_loss)) j["tc_loss"] = last.tc_loss;
  if (std::isfinite(last.ner_loss)) j["ner_loss"] = last.ner_loss;
  j.update(model_shape(s.model(), b.shapes.seq));
  j.update(extra);
  b.emit(j);
}

void job_tpl(Bench& b) {
  auto c = train_config(b, "mtpf-tpl");  // both task-primary LoRA groups, last 2 layers, query/key/MLP, r 32
  train_job(b, "mtpf_tpl_step", c, b.shapes.tc_pairs, b.shapes.tpl_ner, {{"pairs", b.shapes.tc_pairs}, {"ner_batch", b.shapes.tpl_ner}});
}

void job_tc(Bench& b) {
  train_job(b, "tc_pf_step", train_config(b, "pf-tc"), b.shapes.tc_pairs, 0, {{"pairs", b.shapes.tc_pairs}});
}

void job_ner(Bench& b) {
  train_job(b, "ner_pf_step", train_config(b, "pf-ner"), 0, b.shapes.ner_pf, {{"ner_batch", b.shapes.ner_pf}});
}

void job_lora(Bench& b) {
  // Downstream NER adaptation, stage 2: LoRA r 32, alpha 64 on query, key and MLP of every layer + head; 9 labels.
  auto c = train_config(b, "ner-adapt");
  c.last_layers = 0;
  c.stage = 2;
  c.ner_classes = 9;
  c.weight_decay = 0.01;
  train_job(b, "ner_lora_adapt_step", c, 0, b.shapes.lora_batch, {{"ner_batch", b.shapes.lora_batch}});
}

void job_infer(Bench& b, int64_t batch, const std::string& name) {
  auto loaded = model_folder_load(b.model_dir);
  auto& model = *loaded.model;
  model.to(b.device);
  model.eval();
  auto ids = random_ids(batch, b.shapes.seq, model.config().vocab_size).to(b.device);
  auto mask = torch::ones({batch, b.shapes.seq}, torch::TensorOptions().dtype(torch::kLong).device(b.device));
  torch::InferenceMode inference;
  const double ms = b.median_ms([&] {
    AutocastGuard autocast(b.precision == "bf16", b.device);
    model.forward(ids, mask, {}, false);
  });
  json j = {{"job", name}, {"ms", ms}, {"batch", batch}, {"tokens", batch * b.shapes.seq},
            {"seq_per_s", batch / ms * 1e3}, {"precision", b.precision}};
  j.update(model_shape(model, b.shapes.seq));
  b.emit(j);
}

// Peak device memory of one cached-InfoNCE (GradCache) pf-tc step: the batch's activations never live at once.
void job_memory(Bench& b) {
  auto c = train_config(b, "pf-tc");
  c.chunk_size = b.shapes.mem_chunk;
  json j = {{"job", "infonce_cached_memory"}, {"pairs", b.shapes.mem_pairs}, {"chunk", c.chunk_size},
            {"precision", c.precision}, {"peak_gb", nullptr}};
  TrainSession s(b.model_dir, c);
  auto in = make_inputs(b.shapes.mem_pairs, 0, b.shapes.seq, c.ner_classes, s.model().config().vocab_size);
  s.step(in, false, false);  // the optimiser state exists from here on, as in a run
  b.sync();
#ifdef MTPF_CUDA_MEMORY_STATS
  const auto index = b.device.index() < 0 ? c10::DeviceIndex(0) : b.device.index();
  if (b.device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(index);
#endif
  auto t0 = std::chrono::steady_clock::now();
  auto m = s.step(in, false, true);
  b.sync();
  j["ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  j["tc_loss"] = m.tc_loss;
#ifdef MTPF_CUDA_MEMORY_STATS
  if (b.device.is_cuda())
    j["peak_gb"] = static_cast<double>(c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[0].peak) /
                   (1024.0 * 1024.0 * 1024.0);
#endif
  if (j["peak_gb"].is_null()) j["note"] = "peak memory is measured on CUDA only";
  b.emit(j);
}

// The bf16 matmul peak of this device (8192^3, as hf_baseline.py measures it): MFU's denominator.
void job_peak(Bench& b) {
  if (!b.device.is_cuda()) {
    b.emit({{"job", "peak_bf16"}, {"tflops", nullptr}, {"note", "measured on CUDA only"}});
    return;
  }
  const int64_t n = 8192;
  auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(b.device);
  auto x = torch::randn({n, n}, opts), y = torch::randn({n, n}, opts);
  const int iters = b.iters, warmup = b.warmup;
  b.iters = 10;
  b.warmup = 3;
  const double ms = b.median_ms([&] { torch::matmul(x, y); });
  b.iters = iters;
  b.warmup = warmup;
  b.emit({{"job", "peak_bf16"}, {"ms", ms}, {"tflops", 2.0 * n * n * n / ms / 1e9}});
}

std::string write_model(bool smoke) {
  json config = {{"model_type", "bert"}, {"vocab_size", 30522}, {"hidden_size", 384}, {"num_hidden_layers", 12},
                 {"num_attention_heads", 12}, {"intermediate_size", 1536}, {"max_position_embeddings", 512},
                 {"type_vocab_size", 2}, {"pad_token_id", 0}, {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu"},
                 {"hidden_dropout_prob", 0.1}, {"attention_probs_dropout_prob", 0.1}};
  if (smoke) {
    config["vocab_size"] = 200;
    config["hidden_size"] = 32;
    config["num_hidden_layers"] = 2;
    config["num_attention_heads"] = 4;
    config["intermediate_size"] = 64;
    config["max_position_embeddings"] = 64;
  }
  std::ostringstream name;
  name << "mtpf-bench-gpu-" << (smoke ? "smoke-" : "minilm-") << ::getpid();
  auto dir = std::filesystem::temp_directory_path() / name.str();
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump(2);
  model_init_random((dir / "config.json").string(), (dir / "model").string(), 1);
  return (dir / "model").string();
}

}  // namespace

int main(int argc, char** argv) {
  Bench b;
  std::string device = "cuda", jobs, out_path;
  bool smoke = false, precision_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(k + " needs a value");
      return argv[++i];
    };
    try {
      if (k == "--smoke") smoke = true;
      else if (k == "--device") device = value();
      else if (k == "--precision") b.precision = value(), precision_given = true;
      else if (k == "--iters") b.iters = std::stoi(value());
      else if (k == "--warmup") b.warmup = std::stoi(value());
      else if (k == "--jobs") jobs = value();
      else if (k == "--out") out_path = value();
      else throw std::runtime_error("unknown option " + k);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mtpf_bench_gpu: %s\n", e.what());
      return 2;
    }
  }
  try {
    b.device = torch::Device(device);
    if (b.device.is_cuda() && !torch::cuda::is_available()) {
      std::fprintf(stderr, "mtpf_bench_gpu: --device %s but no CUDA GPU is visible\n", device.c_str());
      return 1;
    }
    if (!b.device.is_cuda() && !precision_given) b.precision = "fp32";  // the CPU smoke run stays fp32 unless asked
    if (smoke) {
      b.iters = 1;
      b.warmup = 0;
      b.shapes = {16, 8, 4, 4, 4, 4, 8, 2, 10};
    } else {
      b.shapes = {128, 1024, 256, 256, 64, 256, 1024, 64, 200};
    }
    if (!out_path.empty() && !(b.out = std::fopen(out_path.c_str(), "a"))) {
      std::fprintf(stderr, "mtpf_bench_gpu: cannot write %s\n", out_path.c_str());
      return 1;
    }
    b.model_dir = write_model(smoke);
    const std::vector<std::pair<std::string, std::function<void()>>> all = {
        {"peak", [&] { job_peak(b); }},
        {"infer1", [&] { job_infer(b, 1, "infer_b1"); }},
        {"infer256", [&] { job_infer(b, b.shapes.infer_large, "infer_b256"); }},
        {"lora", [&] { job_lora(b); }},
        {"ner", [&] { job_ner(b); }},
        {"tc", [&] { job_tc(b); }},
        {"tpl", [&] { job_tpl(b); }},
        {"memory", [&] { job_memory(b); }},
    };
    int failed = 0;
    for (const auto& [name, run] : all) {
      if (!jobs.empty() && ("," + jobs + ",").find("," + name + ",") == std::string::npos) continue;
      // One job failing (e.g. out of memory) still leaves the others' figures.
      try {
        run();
      } catch (const std::exception& e) {
        ++failed;
        std::string what = e.what();
        b.emit({{"job", name}, {"error", what.substr(0, 400)}});  // the short name: scripts/gpu/table.py maps it
      }
#ifdef MTPF_CUDA_MEMORY_STATS
      if (b.device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
    }
    std::filesystem::remove_all(std::filesystem::path(b.model_dir).parent_path());
    if (b.out) std::fclose(b.out);
    return failed == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mtpf_bench_gpu: %s\n", e.what());
    return 1;
  }
}
