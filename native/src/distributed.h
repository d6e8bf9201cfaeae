// Data-parallel training over torch.distributed's C++ layer (c10d): a TCPStore for rendezvous, ProcessGroupGloo on
// the CPU, ProcessGroupNCCL on CUDA. No transport of our own: the same engine `torchrun` jobs of PyTorch use, so the
// same launchers (torchrun, a Kubernetes PyTorchJob, a Slurm wrapper) start mtpf ranks.
//
// What a rank does with it (train_session.cpp): the step's batch is the rank's 1/W of the global batch; InfoNCE
// scores the local anchors against the positives of all ranks (all_gather_rows: gathered with gradient); the NER
// loss divides by the global number of labelled tokens; gradients are averaged (bucketed all-reduce) before
// PCGrad, clipping and AdamW. With those three, W ranks at global batch B compute what one rank computes at B.
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mtpf {

// Where a rank stands in the job: torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// TORCHELASTIC_USE_AGENT_STORE, TORCHELASTIC_RESTART_COUNT), passed on by the caller as JSON.
struct DistributedConfig {
  int rank = 0, world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's agent hosts the TCPStore: every rank is a client, under the prefix /worker/attempt_{restart_count}.
  bool agent_store = false;
  int restart_count = 0;
  // Rendezvous and every collective give up after this long (a rank that hangs); a rank that dies closes its
  // connections, and the others fail at once.
  double timeout_s = 300;
  std::string backend = "auto";  // auto (gloo on the CPU, nccl on CUDA), gloo or nccl
  // Gradient buckets all-reduced while the step's last backward still runs (OverlappedGradientAverage); off: after it.
  bool overlap = true;

  bool enabled() const { return world_size > 1; }
  static DistributedConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// True where this build has a c10d backend for `device` (Gloo: the Gloo headers were found at build time; NCCL:
// a CUDA libtorch and nccl.h).
bool distributed_available(const torch::Device& device);
// Why not, in one line (what to install), for messages and test skips.
std::string distributed_unavailable_reason(const torch::Device& device);

// One rank's membership: owns its store and backend. Collectives must be called by every rank in the same order.
// Failures (a peer that died or timed out) throw mtpf::Error naming this rank and the operation.
class ProcessGroup {
 public:
  ProcessGroup(const DistributedConfig& config, const torch::Device& device);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return config_.rank; }
  int size() const { return config_.world_size; }
  const std::string& backend() const { return backend_name_; }

  // Sum over ranks, in place. Tensors are packed into flat buckets of at most bucket_bytes (one collective each,
  // all in flight at once), then unpacked.
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes = 25 << 20);
  // Element-wise maximum over ranks, in place (one small tensor).
  void all_reduce_max(const torch::Tensor& tensor);
  // Every parameter's .grad replaced by its mean over ranks (undefined gradients are left alone: every rank has
  // the same ones, as every rank runs the same graph).
  void average_gradients(const std::vector<torch::Tensor>& params);
  // The rows of every rank, in rank order: [W * n, ...] from each rank's [n, ...] (n equal on all ranks).
  // Differentiable: the gradient of rank r's rows is the sum over ranks of the gradient each rank's loss gives
  // them (backward: all-reduce, then this rank's slice).
  torch::Tensor all_gather_rows(const torch::Tensor& local);
  // Copies rank 0's tensors into every rank's (the starting parameters).
  void broadcast_from_rank0(const std::vector<torch::Tensor>& tensors);
  void barrier();

  // The message prefix of this rank's errors: "rank R of W (backend)".
  std::string who() const;
  const DistributedConfig& config() const { return config_; }

  // Starts the sum over ranks of one flat tensor; the returned wait() completes it (in place). Collectives started
  // this way must still be started by every rank in the same order.
  struct PendingSum {
    std::function<void()> wait;
  };
  PendingSum start_sum(torch::Tensor flat);

 private:
  struct Impl;
  DistributedConfig config_;
  std::string backend_name_;
  std::unique_ptr<Impl> impl_;
};

// Gradient averaging overlapped with the backward pass that completes the gradients, as PyTorch's DDP does it.
// arm(loss) is called with the loss about to be backpropagated: the parameters it reaches are split into buckets in
// reverse order (the order backward reaches them), and a bucket's all-reduce starts as soon as its last gradient is
// accumulated (a post-accumulate-grad hook), strictly bucket after bucket, so that every rank starts the same
// collectives in the same order (the set of parameters a loss reaches is the same on every rank). Parameters it does
// not reach but whose gradients are already complete (the other task's adapter, trained by an earlier backward) go
// first, before the backward starts. finish() starts what is left, waits for all, and divides by the world size:
// the mean average_gradients computes. Without arm() (or where libtorch has no post-accumulate hooks, < 2.1),
// finish() does all of it after the backward. The loss's backward must run no collective of its own.
class OverlappedGradientAverage {
 public:
  OverlappedGradientAverage(ProcessGroup& group, std::vector<torch::Tensor> params, int64_t bucket_bytes = 25 << 20);
  ~OverlappedGradientAverage();  // removes the hooks
  OverlappedGradientAverage(const OverlappedGradientAverage&) = delete;
  OverlappedGradientAverage& operator=(const OverlappedGradientAverage&) = delete;

  void arm(const torch::Tensor& loss);
  void finish();
  // Buckets whose all-reduce started before finish(): what overlapped (for tests and logs).
  int started_early() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace mtpf
