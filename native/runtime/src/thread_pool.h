// The runtime's one thread pool, shared by our kernels (attention heads, the fused elementwise epilogues) and by
// OpenBLAS, whose threading is handed to it through openblas_set_threads_callback_function. One pool means no
// oversubscription: OpenBLAS's own server threads spin for a while after each GEMM, and on a small machine they
// would steal the cores our kernels run on between GEMMs. Between the back-to-back jobs of a forward, workers spin
// for a short while (a condition-variable wake-up costs more than most jobs); idle, they sleep.
// parallel_for hands out its range in pieces that any thread claims (the caller too), so a worker the OS has not
// scheduled (a machine busy with other processes) delays nothing: the others take its share instead of waiting a
// scheduler slice for it, which on a shared 2-core machine made a 2-thread forward ten times slower.
// Plain std::thread, so it builds the same with the Android NDK.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mtpf::rt {

class ThreadPool {
 public:
  // threads: how many run a job at once (the caller is one of them); 1 = everything inline.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // fn(begin, end) over [0, n) in contiguous pieces of at least `grain` items (small jobs are not worth waking
  // threads), claimed by whichever thread is free. While another caller's job is running (or from inside a job) the
  // work runs inline on this thread instead of waiting: concurrent forwards share the pool.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);
  // fn(job) for job in [0, jobs), every job on its own thread at the same time (OpenBLAS's threaded kernels wait
  // on each other, so they must not run one after another). Waits for the pool when it is busy.
  void run_concurrently(int jobs, const std::function<void(int64_t)>& fn);

 private:
  void worker_loop(int index);
  // pieces > 0: claimed pieces; 0: one chunk per thread, every worker taking part (run_concurrently).
  void dispatch(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int pieces);
  void run_pieces(uint64_t generation, const std::function<void(int64_t, int64_t)>& fn, int64_t n, int pieces);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable start_, done_;
  // The job is published as a sequence lock: generation_ is odd while the fields change, even once they are set.
  // A worker that was not scheduled for a whole (claimed-pieces) job may read the fields as the next one is being
  // written; it checks generation_ again and rereads.
  std::atomic<const std::function<void(int64_t, int64_t)>*> job_{nullptr};
  std::atomic<int64_t> job_n_{0};
  std::atomic<int> job_pieces_{0};
  std::atomic<uint64_t> claim_{0};   // (generation / 2) << 32 | next unclaimed piece
  std::atomic<int> finished_{0};     // pieces done
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // one-chunk-per-thread jobs: workers still running theirs
  std::atomic<bool> stop_{false};
};

// The process-wide pool (default: one thread per core). Resizing also sets OpenBLAS's thread count; pools of
// other sizes made before stay alive (a forward may still be using one), so resizing is cheap and safe.
ThreadPool& pool_shared();
void pool_set_threads(int threads);

}  // namespace mtpf::rt
