#include "distributed.h"

#include <torch/csrc/autograd/custom_function.h>

#include <chrono>
#include <cstdlib>

#include "errors.h"
#include "mtpf/formats/json_field.h"

#if defined(MTPF_WITH_GLOO)
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if defined(MTPF_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace mtpf {

namespace {

int int_field(const nlohmann::json& v, const char* key) {
  auto i = json_integer<int>(v);
  if (!i) fail("distributed.", key, " must be an integer, got ", v.dump());
  return *i;
}

}  // namespace

DistributedConfig DistributedConfig::from_json(const nlohmann::json& j) {
  DistributedConfig c;
  if (j.is_null()) return c;
  if (!j.is_object()) fail("distributed: expected an object, got ", j.dump());
  for (const auto& [key, value] : j.items()) {
    if (key == "rank") c.rank = int_field(value, "rank");
    else if (key == "world_size") c.world_size = int_field(value, "world_size");
    else if (key == "master_addr") value.get_to(c.master_addr);
    else if (key == "master_port") c.master_port = int_field(value, "master_port");
    else if (key == "agent_store") value.get_to(c.agent_store);
    else if (key == "restart_count") c.restart_count = int_field(value, "restart_count");
    else if (key == "timeout_s") value.get_to(c.timeout_s);
    else if (key == "backend") value.get_to(c.backend);
    else fail("distributed: unknown key '", key, "'");
  }
  if (c.world_size < 1) fail("distributed.world_size must be >= 1, got ", c.world_size);
  if (c.rank < 0 || c.rank >= c.world_size)
    fail("distributed.rank must be in [0, ", c.world_size, "), got ", c.rank);
  if (c.master_port < 1 || c.master_port > 65535) fail("distributed.master_port out of range: ", c.master_port);
  if (!(c.timeout_s > 0)) fail("distributed.timeout_s must be positive, got ", c.timeout_s);
  if (c.backend != "auto" && c.backend != "gloo" && c.backend != "nccl")
    fail("distributed.backend '", c.backend, "' (auto, gloo, nccl)");
  return c;
}

nlohmann::json DistributedConfig::to_json() const {
  return {{"rank", rank}, {"world_size", world_size}, {"master_addr", master_addr}, {"master_port", master_port},
          {"agent_store", agent_store}, {"restart_count", restart_count}, {"timeout_s", timeout_s},
          {"backend", backend}};
}

bool distributed_available(const torch::Device& device) {
#if defined(MTPF_WITH_NCCL)
  if (device.is_cuda()) return true;
#endif
#if defined(MTPF_WITH_GLOO)
  if (device.is_cpu()) return true;
#endif
  (void)device;
  return false;
}

std::string distributed_unavailable_reason(const torch::Device& device) {
  if (device.is_cuda())
    return "this build has no NCCL backend (it needs a CUDA libtorch and nccl.h at build time)";
  return "this build has no Gloo backend (it needs libtorch >= 2.0 and the Gloo headers at build time: "
         "apt-get install libgloo-dev, then rebuild native/)";
}

#if defined(MTPF_WITH_GLOO) || defined(MTPF_WITH_NCCL)

namespace {

// c10d and Gloo fail with c10::Error or std::runtime_error; both become one line naming the rank and the call.
template <typename F>
void collective(const ProcessGroup& g, const char* what, F&& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    fail(g.who(), ": ", what, " failed: ", e.what_without_backtrace(),
         " (another rank stopped, or it timed out: see that rank's own error)");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(g.who(), ": ", what, " failed: ", e.what(), " (another rank stopped, or it timed out: see that rank's own error)");
  }
}

bool loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
};

ProcessGroup::ProcessGroup(const DistributedConfig& config, const torch::Device& device)
    : config_(config), impl_(std::make_unique<Impl>()) {
  std::string name = config.backend;
  if (name == "auto") name = device.is_cuda() ? "nccl" : "gloo";
  if (name == "nccl" && !device.is_cuda()) fail("distributed backend nccl needs a CUDA device, not ", device.str());
  if (!distributed_available(device) || (name == "gloo" && device.is_cuda()))
    fail("distributed training on ", device.str(), " with ", name, ": ", distributed_unavailable_reason(device));
  backend_name_ = name;
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000));
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(config.master_port);
    // With torchrun's agent store every rank is a client; otherwise rank 0 hosts the store, as
    // torch.distributed's env:// rendezvous does.
    so.isServer = !config.agent_store && config.rank == 0;
    so.numWorkers = config.agent_store ? std::nullopt : std::optional<size_t>(config.world_size);
    so.waitWorkers = !config.agent_store;
    so.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(config.master_addr, so);
    const std::string prefix =
        config.agent_store ? "/worker/attempt_" + std::to_string(config.restart_count) : "mtpf";
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
  } catch (const std::exception& e) {
    fail(who(), ": cannot reach the rendezvous store at ", config.master_addr, ":", config.master_port, " within ",
         config.timeout_s, " s: ", e.what());
  }
  collective(*this, "joining the process group", [&] {
#if defined(MTPF_WITH_GLOO)
    if (name == "gloo") {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // The address the peers connect to: GLOO_SOCKET_IFNAME's interface when set (as in PyTorch), loopback for a
      // one-host job on loopback, else this host's name.
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (loopback(config.master_addr))
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      impl_->backend =
          c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, config.rank, config.world_size, options);
    }
#endif
#if defined(MTPF_WITH_NCCL)
    if (name == "nccl") {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl_->backend =
          c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, config.rank, config.world_size, options);
    }
#endif
  });
  if (!impl_->backend) fail(who(), ": backend ", name, " is not in this build");
}

ProcessGroup::~ProcessGroup() = default;

std::string ProcessGroup::who() const {
  return "rank " + std::to_string(config_.rank) + " of " + std::to_string(config_.world_size) + " (" +
         (backend_name_.empty() ? config_.backend : backend_name_) + ")";
}

void ProcessGroup::all_reduce_sum(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  // Buckets of one dtype and device, in order; each is flattened, reduced and copied back.
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t filled = 0;
  for (const auto& t : tensors) {
    if (!t.defined()) continue;
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    if (buckets.empty() || filled + bytes > bucket_bytes ||
        buckets.back().front().scalar_type() != t.scalar_type() || buckets.back().front().device() != t.device()) {
      buckets.emplace_back();
      filled = 0;
    }
    buckets.back().push_back(t);
    filled += bytes;
  }
  if (buckets.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  collective(*this, "all-reduce", [&] {
    for (auto& bucket : buckets) {
      std::vector<torch::Tensor> views;
      for (auto& t : bucket) views.push_back(t.reshape({-1}));
      std::vector<torch::Tensor> flat{torch::cat(views)};
      works.push_back(impl_->backend->allreduce(flat));  // all buckets in flight at once
      flats.push_back(flat[0]);
    }
    for (auto& w : works) w->wait();
  });
  for (size_t b = 0; b < buckets.size(); ++b) {
    int64_t offset = 0;
    for (auto& t : buckets[b]) {
      t.copy_(flats[b].slice(0, offset, offset + t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

void ProcessGroup::all_reduce_max(const torch::Tensor& tensor) {
  std::vector<torch::Tensor> one{tensor};
  collective(*this, "all-reduce (max)", [&] {
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::MAX;
    impl_->backend->allreduce(one, options)->wait();
  });
}

void ProcessGroup::average_gradients(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.mutable_grad());
  all_reduce_sum(grads);
  torch::NoGradGuard no_grad;
  for (auto& g : grads) g.div_(size());
}

namespace {

// all_gather with a gradient: forward concatenates every rank's rows; backward sums each rank's gradient for the
// gathered tensor over ranks and keeps this rank's rows (what torch.distributed.nn.all_gather does).
struct AllGatherRows : torch::autograd::Function<AllGatherRows> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor local, ProcessGroup* group,
                               c10d::Backend* backend) {
    ctx->saved_data["group"] = reinterpret_cast<int64_t>(group);
    ctx->saved_data["rows"] = local.size(0);
    auto input = local.contiguous();
    std::vector<std::vector<torch::Tensor>> outputs(1);
    for (int r = 0; r < group->size(); ++r) outputs[0].push_back(torch::empty_like(input));
    std::vector<torch::Tensor> inputs{input};
    collective(*group, "all-gather", [&] { backend->allgather(outputs, inputs)->wait(); });
    return torch::cat(outputs[0]);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto* group = reinterpret_cast<ProcessGroup*>(ctx->saved_data["group"].toInt());
    const int64_t rows = ctx->saved_data["rows"].toInt();
    auto g = grad[0].contiguous().clone();
    group->all_reduce_sum({g});
    return {g.slice(0, group->rank() * rows, (group->rank() + 1) * rows), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor ProcessGroup::all_gather_rows(const torch::Tensor& local) {
  return AllGatherRows::apply(local, this, impl_->backend.get());
}

void ProcessGroup::broadcast_from_rank0(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> todo;
  for (const auto& t : tensors)
    if (t.defined()) todo.push_back(t);
  collective(*this, "broadcast", [&] {
    for (auto& t : todo) {
      std::vector<torch::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
      impl_->backend->broadcast(one)->wait();
      if (!t.is_contiguous()) t.copy_(one[0]);
    }
  });
}

void ProcessGroup::barrier() {
  collective(*this, "barrier", [&] { impl_->backend->barrier()->wait(); });
}

#else  // no c10d backend in this build

struct ProcessGroup::Impl {};

ProcessGroup::ProcessGroup(const DistributedConfig& config, const torch::Device& device) : config_(config) {
  fail("distributed training (", config.world_size, " ranks) on ", device.str(), ": ",
       distributed_unavailable_reason(device));
}
ProcessGroup::~ProcessGroup() = default;
std::string ProcessGroup::who() const { return "rank " + std::to_string(config_.rank); }
void ProcessGroup::all_reduce_sum(const std::vector<torch::Tensor>&, int64_t) {}
void ProcessGroup::all_reduce_max(const torch::Tensor&) {}
void ProcessGroup::average_gradients(const std::vector<torch::Tensor>&) {}
torch::Tensor ProcessGroup::all_gather_rows(const torch::Tensor& local) { return local; }
void ProcessGroup::broadcast_from_rank0(const std::vector<torch::Tensor>&) {}
void ProcessGroup::barrier() {}

#endif

}  // namespace mtpf
