// Timing harness shared by the benchmarks: a callable is timed over batches of calls sized to about
// min_ms, interleaved with its reference (the order alternates every round so drift hits both), and
// the medians are compared. With the CPU clock (--clock cpu) time spent descheduled by other jobs on a
// shared machine is not counted, which keeps single-thread ratios stable under load.
#pragma once

#include <time.h>
#include <unistd.h>

#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace wb::bench {

// Raw references that thread OpenBLAS itself leave its workers spinning (sched_yield) for a while
// after each call, on the same cores whitebox's pool then needs for the interleaved batch. OpenBLAS
// reads OPENBLAS_THREAD_TIMEOUT once, when the library loads, so a benchmark calls this first thing in
// main(): it re-executes the program with OPENBLAS_THREAD_TIMEOUT=4 (workers sleep after 2^4 spins)
// unless the variable is already set.
inline void quiet_openblas_workers(char** argv) {
  if (std::getenv("OPENBLAS_THREAD_TIMEOUT") != nullptr) return;
  ::setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

inline bool& use_cpu_clock() {
  static bool cpu = false;
  return cpu;
}

inline double now_s() {
  if (use_cpu_clock()) {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds per call of f, measured over a batch of `iters` calls.
inline double time_batch(const std::function<void()>& f, int iters) {
  const double t0 = now_s();
  for (int i = 0; i < iters; ++i) f();
  return (now_s() - t0) / iters;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Timing {
  double ours_s = 0.0, ref_s = 0.0;  // median seconds per call
};

inline Timing interleaved(const std::function<void()>& ours, const std::function<void()>& ref, int rounds,
                          double min_ms) {
  for (int i = 0; i < 2; ++i) {  // warm caches, the allocator and OpenBLAS buffers
    ours();
    ref();
  }
  const double probe = std::max(time_batch(ours, 1), time_batch(ref, 1));
  const int iters = std::max(1, static_cast<int>(min_ms * 1e-3 / std::max(probe, 1e-7)));
  std::vector<double> o, r;
  for (int k = 0; k < rounds; ++k) {
    if (k % 2 == 0) {
      o.push_back(time_batch(ours, iters));
      r.push_back(time_batch(ref, iters));
    } else {
      r.push_back(time_batch(ref, iters));
      o.push_back(time_batch(ours, iters));
    }
  }
  return {median(o), median(r)};
}

}  // namespace wb::bench
