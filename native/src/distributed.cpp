#include "distributed.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/functions/accumulate_grad.h>

#include <chrono>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "errors.h"
#include "torch_compat.h"
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
    else if (key == "overlap") value.get_to(c.overlap);
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
          {"backend", backend}, {"overlap", overlap}};
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

ProcessGroup::PendingSum ProcessGroup::start_sum(torch::Tensor flat) {
  std::vector<torch::Tensor> one{std::move(flat)};
  c10::intrusive_ptr<c10d::Work> work;
  collective(*this, "all-reduce", [&] { work = impl_->backend->allreduce(one); });
  return {[this, work] { collective(*this, "all-reduce", [&] { work->wait(); }); }};
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
ProcessGroup::PendingSum ProcessGroup::start_sum(torch::Tensor) { return {[] {}}; }
torch::Tensor ProcessGroup::all_gather_rows(const torch::Tensor& local) { return local; }
void ProcessGroup::broadcast_from_rank0(const std::vector<torch::Tensor>&) {}
void ProcessGroup::barrier() {}

#endif

// ---- OverlappedGradientAverage ----

struct OverlappedGradientAverage::State {
  ProcessGroup* group = nullptr;
  std::vector<torch::Tensor> params;
  int64_t bucket_bytes = 0;
  std::vector<std::vector<size_t>> buckets;  // indices into params, in the order they are started
  std::vector<int> missing;                  // per bucket: gradients not accumulated yet
  size_t next = 0;                           // the next bucket to start
  std::vector<std::vector<size_t>> members;  // per started bucket: its parameters that have a gradient
  std::vector<torch::Tensor> flats;
  std::vector<ProcessGroup::PendingSum> pending;
  std::vector<size_t> hooked;
  int early = 0;
  bool armed = false, finished = false;

  // Buckets of at most bucket_bytes (one dtype each) over `order`, appended after the existing ones; each waits
  // for one gradient per member when `waiting`.
  void add_buckets(const std::vector<size_t>& order, bool waiting) {
    int64_t filled = 0;
    bool open = false;
    for (size_t i : order) {
      const auto& p = params[i];
      const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
      if (!open || filled + bytes > bucket_bytes || params[buckets.back().front()].scalar_type() != p.scalar_type()) {
        buckets.emplace_back();
        missing.push_back(0);
        filled = 0;
        open = true;
      }
      buckets.back().push_back(i);
      if (waiting) ++missing.back();
      filled += bytes;
    }
  }

  void start(size_t b) {
    torch::NoGradGuard no_grad;
    std::vector<size_t> with_grad;
    std::vector<torch::Tensor> views;
    for (size_t i : buckets[b])
      if (params[i].grad().defined()) {
        with_grad.push_back(i);
        views.push_back(params[i].grad().reshape({-1}));
      }
    members.push_back(with_grad);
    if (views.empty()) {  // every rank has the same undefined gradients: nothing to reduce, on any rank
      flats.emplace_back();
      pending.push_back({[] {}});
      return;
    }
    flats.push_back(torch::cat(views));
    pending.push_back(group->start_sum(flats.back()));
  }

  // Starts the complete buckets at the front of the order (a later complete bucket waits for the earlier ones).
  void start_ready() {
    while (next < buckets.size() && missing[next] == 0) {
      start(next++);
      if (!finished) ++early;
    }
  }
};

namespace {

#if MTPF_TORCH_AT_LEAST(2, 1)
struct BucketHook : torch::autograd::PostAccumulateGradHook {
  BucketHook(std::weak_ptr<OverlappedGradientAverage::State> state, size_t bucket)
      : state_(std::move(state)), bucket_(bucket) {}
  void operator()(const torch::autograd::Variable&) override {
    auto s = state_.lock();
    if (!s || s->finished) return;
    if (--s->missing[bucket_] == 0) s->start_ready();
  }

 private:
  std::weak_ptr<OverlappedGradientAverage::State> state_;
  size_t bucket_;
};

// The leaf tensors whose gradients backpropagating `loss` accumulates (its graph's AccumulateGrad nodes).
std::unordered_set<const void*> reached_leaves(const torch::Tensor& loss) {
  std::unordered_set<const void*> leaves;
  if (!loss.grad_fn()) return leaves;
  std::unordered_set<const torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack{loss.grad_fn().get()};
  while (!stack.empty()) {
    auto* node = stack.back();
    stack.pop_back();
    for (const auto& edge : node->next_edges()) {
      auto* next = edge.function.get();
      if (!next || !seen.insert(next).second) continue;
      if (auto* acc = dynamic_cast<torch::autograd::AccumulateGrad*>(next))
        leaves.insert(acc->variable.unsafeGetTensorImpl());
      else
        stack.push_back(next);
    }
  }
  return leaves;
}
#endif

}  // namespace

OverlappedGradientAverage::OverlappedGradientAverage(ProcessGroup& group, std::vector<torch::Tensor> params,
                                                     int64_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  state_->group = &group;
  state_->params = std::move(params);
  state_->bucket_bytes = bucket_bytes;
}

OverlappedGradientAverage::~OverlappedGradientAverage() {
#if MTPF_TORCH_AT_LEAST(2, 1)
  for (size_t i : state_->hooked) torch::autograd::impl::set_post_acc_grad_hooks(state_->params[i], nullptr);
#endif
}

void OverlappedGradientAverage::arm(const torch::Tensor& loss) {
#if MTPF_TORCH_AT_LEAST(2, 1)
  auto& s = *state_;
  if (s.armed || s.finished) fail("OverlappedGradientAverage: armed twice");
  s.armed = true;
  const auto reached = reached_leaves(loss);
  std::vector<size_t> done, coming;  // reverse order: backward reaches the last layers first
  for (size_t k = s.params.size(); k-- > 0;) {
    const auto& p = s.params[k];
    if (reached.count(p.unsafeGetTensorImpl())) coming.push_back(k);
    else if (p.grad().defined()) done.push_back(k);
  }
  s.add_buckets(done, /*waiting=*/false);   // complete already: started before the backward
  s.add_buckets(coming, /*waiting=*/true);  // started as backward completes them
  for (size_t b = 0; b < s.buckets.size(); ++b)
    for (size_t i : s.buckets[b])
      if (s.missing[b] > 0) {
        torch::autograd::impl::set_post_acc_grad_hooks(s.params[i], std::make_unique<BucketHook>(state_, b));
        s.hooked.push_back(i);
      }
  s.start_ready();
#else
  (void)loss;  // no post-accumulate hooks before libtorch 2.1: finish() reduces everything after the backward
#endif
}

void OverlappedGradientAverage::finish() {
  auto& s = *state_;
  if (s.finished) fail("OverlappedGradientAverage: finished twice");
  if (!s.armed) {
    std::vector<size_t> all;
    for (size_t k = s.params.size(); k-- > 0;) all.push_back(k);
    s.add_buckets(all, /*waiting=*/false);
  }
  s.finished = true;
  for (size_t b = 0; b < s.missing.size(); ++b) s.missing[b] = 0;
  s.start_ready();
  torch::NoGradGuard no_grad;
  const double world = s.group->size();
  for (size_t b = 0; b < s.pending.size(); ++b) {
    s.pending[b].wait();
    int64_t offset = 0;
    for (size_t i : s.members[b]) {
      auto g = s.params[i].mutable_grad();
      g.copy_(s.flats[b].slice(0, offset, offset + g.numel()).view(g.sizes())).div_(world);
      offset += g.numel();
    }
  }
}

int OverlappedGradientAverage::started_early() const { return state_->early; }

}  // namespace mtpf
