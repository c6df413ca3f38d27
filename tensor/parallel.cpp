#include "tensor/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <cblas.h>

namespace wb {
namespace {

thread_local bool in_parallel_region = false;

// Spin for up to kSpin before sleeping on a condition variable, both for a worker waiting for the next
// region and for the caller waiting for the workers. A training step runs hundreds of short parallel
// regions; sleeping and waking through the kernel for each cost 5% of a 2-thread step in context
// switches (perf: finish_task_switch, spin_unlock_irqrestore). Bounded, so an idle pool sleeps.
constexpr auto kSpin = std::chrono::microseconds(50);

template <class Done>
void spin_until(Done done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0; !done(); ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return;
  }
}

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return n_; }

  void resize(int n) {
    stop();
    n_ = std::max(1, n);
    quit_ = false;
    // New workers wait for the next job: starting from generation 0 they would wake at once and run
    // the previous job's chunk again (job_ is null by then) after a resize.
    const std::uint64_t start = generation_;
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this, i, start] { loop(i, start); });
  }

  void run(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn) {
    const std::int64_t max_chunks = std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, grain));
    const int chunks = static_cast<int>(std::min<std::int64_t>(n_, max_chunks));
    if (chunks <= 1 || in_parallel_region) {
      fn(0, n);
      return;
    }
    std::unique_lock lock(run_mu_);  // one parallel region at a time
    {
      std::lock_guard g(mu_);
      job_ = &fn;
      job_n_ = n;
      job_chunks_ = chunks;
      pending_ = chunks - 1;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    in_parallel_region = true;
    try {
      fn(0, bound(0));
    } catch (...) {
      std::lock_guard g(mu_);
      if (!error_) error_ = std::current_exception();
    }
    in_parallel_region = false;
    spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; });
    std::unique_lock g(mu_);
    done_cv_.wait(g, [&] { return pending_.load() == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::int64_t bound(int chunk) const { return job_n_ * (chunk + 1) / job_chunks_; }

  void loop(int index, std::uint64_t seen) {
    in_parallel_region = true;
    for (;;) {
      const std::function<void(std::int64_t, std::int64_t)>* job = nullptr;
      std::int64_t begin = 0, end = 0;
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || quit_.load(); });
      {
        std::unique_lock g(mu_);
        cv_.wait(g, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
        if (index >= job_chunks_) continue;
        job = job_;
        begin = job_n_ * index / job_chunks_;
        end = bound(index);
      }
      try {
        (*job)(begin, end);
      } catch (...) {
        std::lock_guard g(mu_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard g(mu_);
      if (pending_.fetch_sub(1) == 1) done_cv_.notify_one();
    }
  }

  void stop() {
    {
      std::lock_guard g(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int n_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  // written under mu_; atomic so that the spins above may read them without it
  std::atomic<bool> quit_ = false;
  std::atomic<std::uint64_t> generation_ = 0;
  const std::function<void(std::int64_t, std::int64_t)>* job_ = nullptr;
  std::int64_t job_n_ = 0;
  int job_chunks_ = 1;
  std::atomic<int> pending_ = 0;
  std::exception_ptr error_;
};

int default_threads() {
  if (const char* env = std::getenv("WB_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

Pool& pool() {
  static Pool* p = [] {
    const int n = default_threads();
    // OpenBLAS stays single-threaded: every BLAS/LAPACK call runs on a thread of this pool, large
    // products split into blocks (tensor/cpu/matmul.cpp). Two pools on the same cores fight: OpenBLAS
    // workers spin (sched_yield) for a while after each threaded call and steal our threads' cores.
    openblas_set_num_threads(1);
    return new Pool(n);  // leaked on purpose: joins would race static destruction order
  }();
  return *p;
}

}  // namespace

void set_num_threads(int n) {
  n = std::max(1, n);
  if (pool().size() != n) pool().resize(n);
}

int num_threads() { return pool().size(); }

void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  pool().run(n, grain, fn);
}

}  // namespace wb
