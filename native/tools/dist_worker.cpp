// One rank of a small data-parallel training run, for the equivalence and fault tests (tests/test_distributed.cpp):
// W ranks train on the same global batches as one rank would, each on its rows r, r + W, ... (the strided share
// the Java sampler gives a rank), and rank 0 writes every parameter and the losses of every step.
//
//   mtpf_dist_worker MODEL_DIR STRATEGY PCGRAD RANK WORLD PORT STEPS OUT.safetensors [CHUNK] [DIE_AT_STEP]
//
// DIE_AT_STEP: this rank exits abruptly (as a killed process would) before that step, to test that the others
// stop with an error instead of hanging.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "distributed.h"
#include "safetensors.h"
#include "train_session.h"

using namespace mtpf;

namespace {

// The global batch of a step: 8 pairs and 8 NER rows of varied lengths (padding at the end of short rows).
StepInputs global_batch(int64_t step) {
  torch::manual_seed(1000 + step);
  StepInputs in;
  auto rows = [](int64_t n, int64_t t) {
    auto ids = torch::randint(5, 100, {n, t}, torch::kLong);
    auto lengths = torch::randint(3, t + 1, {n}, torch::kLong);
    auto mask = torch::arange(t, torch::kLong).unsqueeze(0).lt(lengths.unsqueeze(1)).to(torch::kLong);
    return std::make_pair(ids * mask, mask);
  };
  std::tie(in.tc_a_ids, in.tc_a_mask) = rows(8, 9);
  std::tie(in.tc_b_ids, in.tc_b_mask) = rows(8, 11);
  std::tie(in.ner_ids, in.ner_mask) = rows(8, 10);
  in.ner_labels = torch::randint(0, 5, {8, 10}, torch::kLong);
  // Labels on some real tokens only, as on first sub-tokens.
  auto labelled = in.ner_mask.to(torch::kBool).logical_and(torch::rand({8, 10}).lt(0.6));
  in.ner_labels.masked_fill_(labelled.logical_not(), -100);
  return in;
}

torch::Tensor share(const torch::Tensor& t, int rank, int world) {
  return t.index_select(0, torch::arange(rank, t.size(0), world, torch::kLong)).contiguous();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 9) {
    std::cerr << "usage: mtpf_dist_worker MODEL_DIR STRATEGY PCGRAD RANK WORLD PORT STEPS OUT [CHUNK] [DIE_AT]\n";
    return 2;
  }
  try {
    const std::string model_dir = argv[1], strategy = argv[2], out = argv[8];
    const bool pcgrad = std::string(argv[3]) == "1";
    const int rank = std::stoi(argv[4]), world = std::stoi(argv[5]), port = std::stoi(argv[6]);
    const int64_t steps = std::stoll(argv[7]), chunk = argc > 9 ? std::stoll(argv[9]) : 0;
    const int64_t die_at = argc > 10 ? std::stoll(argv[10]) : -1;
    torch::set_num_threads(1);

    TrainConfig c;
    c.strategy = strategy;
    c.pcgrad = pcgrad;
    c.ner_classes = 5;
    c.lora.r = 4;
    c.lora.lora_alpha = 8;
    // Adam turns a gradient of pure rounding noise (a key bias's is 0 in exact arithmetic) into a full step of
    // lr: a smaller lr keeps such noise, which the two runs' different summation orders make, below 1e-5.
    c.lr = 1e-3;
    c.total_steps = steps;
    c.warmup_steps = 1;
    c.chunk_size = chunk;
    c.dropout = 0;  // masks differ between a rank's rows and the same rows in one process

    std::unique_ptr<ProcessGroup> group;
    if (world > 1) {
      DistributedConfig d;
      d.rank = rank;
      d.world_size = world;
      d.master_port = port;
      d.timeout_s = 60;
      // MTPF_DIST_OVERLAP=0, as for mtpf pretrain: gradients all-reduced after the backward, not during it.
      if (const char* overlap = std::getenv("MTPF_DIST_OVERLAP")) d.overlap = std::string(overlap) != "0";
      group = std::make_unique<ProcessGroup>(d, torch::Device(torch::kCPU));
    }
    TrainSession session(model_dir, c, group.get());
    std::vector<double> losses;
    for (int64_t s = 0; s < steps; ++s) {
      if (s == die_at) _exit(9);
      auto g = global_batch(s);
      StepInputs in;
      if (c.uses_tc()) {
        in.tc_a_ids = share(g.tc_a_ids, rank, world);
        in.tc_a_mask = share(g.tc_a_mask, rank, world);
        in.tc_b_ids = share(g.tc_b_ids, rank, world);
        in.tc_b_mask = share(g.tc_b_mask, rank, world);
      }
      if (c.uses_ner()) {
        in.ner_ids = share(g.ner_ids, rank, world);
        in.ner_mask = share(g.ner_mask, rank, world);
        in.ner_labels = share(g.ner_labels, rank, world);
      }
      auto m = session.step(in, /*measure=*/s % 2 == 1, /*read=*/true);
      losses.push_back(m.tc_loss);
      losses.push_back(m.ner_loss);
      losses.push_back(m.grad_norm);
    }
    if (rank == 0) {
      std::map<std::string, torch::Tensor> tensors;
      for (const auto& p : session.model().named_parameters()) tensors["model." + p.key()] = p.value().detach().cpu();
      if (session.ner_head())
        for (const auto& p : session.ner_head()->named_parameters())
          tensors["ner_head." + p.key()] = p.value().detach().cpu();
      tensors["metrics"] = torch::tensor(losses, torch::kFloat64).reshape({steps, 3}).to(torch::kFloat32);
      safetensors_write(out, tensors);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mtpf_dist_worker: " << e.what() << "\n";
    return 1;
  }
}
