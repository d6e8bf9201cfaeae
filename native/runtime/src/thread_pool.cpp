#include "thread_pool.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <map>
#include <memory>

// Present from OpenBLAS 0.3.27 on; weak, so that an older libopenblas.so.0 loaded first in the process (e.g. a
// distribution's, pulled in by libtorch in the core's tests) leaves OpenBLAS with its own threads instead of failing.
extern "C" void openblas_set_threads_callback_function(openblas_threads_callback callback) __attribute__((weak));

namespace mtpf::rt {

namespace {

thread_local bool in_pool_job = false;  // this thread runs a chunk of a pool job right now

struct JobFlag {
  bool previous;
  JobFlag() : previous(in_pool_job) { in_pool_job = true; }
  ~JobFlag() { in_pool_job = previous; }
};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() for at most ~kSpinMicros; true if it came true. 2 ms covers the gaps between the jobs of one
// forward, so workers stay awake through it (a futex wake-up on a loaded machine can cost a scheduler slice).
constexpr int kSpinMicros = 2000;
template <typename Done>
bool spin_until(Done done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return done();
  }
}

void run_chunk(const std::function<void(int64_t, int64_t)>& fn, int64_t n, int chunks, int index) {
  const int64_t begin = n * index / chunks, end = n * (index + 1) / chunks;
  JobFlag flag;
  if (begin < end) fn(begin, end);
}

}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  start_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto ready = [&] {
      const uint64_t g = generation_.load(std::memory_order_acquire);
      return stop_.load(std::memory_order_acquire) || (g != seen && g % 2 == 0);
    };
    if (!spin_until(ready)) {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, ready);
    }
    if (stop_.load()) return;
    const uint64_t g = generation_.load(std::memory_order_acquire);
    if (g % 2) continue;
    const auto* fn = job_.load(std::memory_order_relaxed);
    const int64_t n = job_n_.load(std::memory_order_relaxed);
    const int pieces = job_pieces_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (generation_.load(std::memory_order_relaxed) != g) continue;  // a newer job was being written: reread
    seen = g;
    if (pieces > 0) {
      run_pieces(g, *fn, n, pieces);
      continue;
    }
    run_chunk(*fn, n, threads_, index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

// Claims and runs pieces of job `generation` until none is left. A successful claim means the job is not finished
// (the caller waits for every piece), so fn is still alive.
void ThreadPool::run_pieces(uint64_t generation, const std::function<void(int64_t, int64_t)>& fn, int64_t n,
                            int pieces) {
  const uint64_t tag = (generation / 2) & 0xffffffffu;
  JobFlag flag;
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    if ((c >> 32) != tag || static_cast<int>(c & 0xffffffffu) >= pieces) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    const int64_t p = static_cast<int64_t>(c & 0xffffffffu);
    const int64_t begin = n * p / pieces, end = n * (p + 1) / pieces;
    if (begin < end) fn(begin, end);
    if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == pieces) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

// Runs fn over [0, n) (see dispatch's declaration); the caller holds job_mutex_.
void ThreadPool::dispatch(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int pieces) {
  uint64_t g;
  {
    std::lock_guard<std::mutex> lock(mutex_);  // pairs with the sleepers' wait: no lost wake-up
    g = generation_.load(std::memory_order_relaxed) + 2;
    generation_.store(g - 1, std::memory_order_relaxed);  // odd: being written
    std::atomic_thread_fence(std::memory_order_release);
    job_.store(&fn, std::memory_order_relaxed);
    job_n_.store(n, std::memory_order_relaxed);
    job_pieces_.store(pieces, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    pending_.store(threads_ - 1, std::memory_order_relaxed);
    claim_.store(((g / 2) & 0xffffffffu) << 32, std::memory_order_relaxed);
    generation_.store(g, std::memory_order_release);
  }
  start_.notify_all();
  std::function<bool()> finished;
  if (pieces > 0) {
    run_pieces(g, fn, n, pieces);
    finished = [&] { return finished_.load(std::memory_order_acquire) == pieces; };
  } else {
    run_chunk(fn, n, threads_, 0);
    finished = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  }
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, finished);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (threads_ == 1 || n < 2 * grain || in_pool_job) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
  if (!job_lock.owns_lock()) {
    fn(0, n);
    return;
  }
  // Up to 4 pieces per thread (on an idle 2-core machine 8 cost ~3% of a forward against static chunks, 4 about
  // half that); where only a few fit, one per thread (3 pieces on 2 threads would run as 2 + 1).
  int64_t pieces = std::min<int64_t>(n / grain, 4LL * threads_);
  if (pieces < 2LL * threads_) pieces = std::min<int64_t>(pieces, threads_);
  dispatch(n, fn, static_cast<int>(pieces));
}

void ThreadPool::run_concurrently(int jobs, const std::function<void(int64_t)>& fn) {
  if (jobs <= 0) return;
  if (jobs == 1) {
    fn(0);
    return;
  }
  if (jobs > threads_ || in_pool_job) {
    // More jobs than workers, or called from inside a pool job: threads of its own (rare; never deadlocks).
    std::vector<std::thread> extra;
    for (int j = 1; j < jobs; ++j) extra.emplace_back([&fn, j] { fn(j); });
    fn(0);
    for (auto& t : extra) t.join();
    return;
  }
  // Chunks of [0, threads_) with one job each; chunks past `jobs` are empty.
  const std::function<void(int64_t, int64_t)> chunk = [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j)
      if (j < jobs) fn(j);
  };
  std::lock_guard<std::mutex> job_lock(job_mutex_);
  dispatch(threads_, chunk, 0);
}

namespace {

std::mutex pools_mutex;
std::map<int, std::unique_ptr<ThreadPool>>& pools() {
  static std::map<int, std::unique_ptr<ThreadPool>> all;
  return all;
}
std::atomic<ThreadPool*> current_pool{nullptr};

// OpenBLAS's threading backend: its jobs run on our pool.
extern "C" void blas_threads_callback(int sync, openblas_dojob_callback dojob, int numjobs, size_t jobdata_elsize,
                                      void* jobdata, int dojob_data) {
  pool_shared().run_concurrently(numjobs, [&](int64_t j) {
    dojob(static_cast<int>(j), static_cast<char*>(jobdata) + j * jobdata_elsize, dojob_data);
  });
}

ThreadPool* pool_of_size(int threads) {
  std::lock_guard<std::mutex> lock(pools_mutex);
  auto& p = pools()[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return p.get();
}

// First use: one thread per core, and OpenBLAS's jobs handed to the pool.
void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    const unsigned cores = std::thread::hardware_concurrency();
    const int threads = cores == 0 ? 1 : static_cast<int>(cores);
    current_pool.store(pool_of_size(threads));
    openblas_set_num_threads(threads);
    // MTPF_RT_BLAS_THREADS=openblas keeps OpenBLAS's own threads (for comparison, or a BLAS shared with others).
    const char* mode = std::getenv("MTPF_RT_BLAS_THREADS");
    const bool own = mode && std::string(mode) == "openblas";
    if (openblas_set_threads_callback_function && !own) openblas_set_threads_callback_function(blas_threads_callback);
  });
}

}  // namespace

ThreadPool& pool_shared() {
  init_once();
  return *current_pool.load();
}

void pool_set_threads(int threads) {
  init_once();
  threads = threads < 1 ? 1 : threads;
  current_pool.store(pool_of_size(threads));
  openblas_set_num_threads(threads);
}

}  // namespace mtpf::rt
