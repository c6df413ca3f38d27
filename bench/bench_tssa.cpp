// TSSA (ops::tssa, ToST's linear-time attention) beside MSSA (ops::tied_attention, the fused
// quadratic attention) at n = 256 ... 16,384 tokens, d = 384 (K = 6 heads of 64), one sequence, f32:
// forward and forward+backward wall time (median of --reps runs after a warm-up) and the tensor
// allocator's peak bytes above the inputs. Prints a table and writes CSV; bench/bench_tssa.gp plots it.
//   build/bench/bench_tssa [--reps 3] [--csv tssa.csv] [--max-gb 8] [--ns 256,1024,4096,16384]
//                          [--threads N] [--clock wall|cpu] [--warmup 1] [--mssa-backward-max-n N]
// --warmup 0 times the first call (cold allocator cache); --mssa-backward-max-n skips MSSA's
// forward+backward above that n (minutes per call on a loaded 2-core machine), printed as skipped.
// --clock cpu (with --threads 1) counts the process's CPU time, not the time it spent descheduled on a
// loaded machine (bench/harness.hpp).
// MSSA runs whose estimated peak (the K n^2 f32 maps, times 1.2 for forward+backward: measured 1.02 x
// at n = 4096) exceeds --max-gb, or 80% of MemAvailable, are skipped and printed as such, never guessed.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "bench/harness.hpp"
#include "ops/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"
#include "tensor/rng.hpp"
#include "tensor/storage.hpp"

using namespace wb;

namespace {

double mem_available_gb() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long long kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return static_cast<double>(kb) / (1024.0 * 1024.0);
  return 1e9;
}

struct Result {
  double seconds = 0, peak_bytes = 0;
};

// Median time and peak of f over reps runs (after one warm-up run, which also fills the allocator's
// cache, so that the timed runs do not pay first-touch page faults; the peak counts live tensor bytes,
// which the cache does not change).
int g_warmup = 1;

Result measure(const std::function<void()>& f, int reps) {
  release_cached_host_memory();
  for (int w = 0; w < g_warmup; ++w) f();
  std::vector<double> t;
  double peak = 0;
  for (int r = 0; r < reps; ++r) {
    reset_peak_host_memory();
    const double live0 = static_cast<double>(host_memory_stats().live_bytes);
    const double t0 = bench::now_s();
    f();
    t.push_back(bench::now_s() - t0);
    peak = std::max(peak, static_cast<double>(host_memory_stats().peak_bytes) - live0);
  }
  return {bench::median(t), peak};
}

}  // namespace

int main(int argc, char** argv) {
  bench::quiet_openblas_workers(argv);
  int reps = 3;
  std::int64_t mssa_backward_max_n = 1 << 30;
  double max_gb = 8.0;
  std::string csv_path = "tssa.csv";
  std::vector<std::int64_t> ns{256, 1024, 4096, 16384};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--reps") reps = std::stoi(v);
    else if (a == "--csv") csv_path = v;
    else if (a == "--max-gb") max_gb = std::stod(v);
    else if (a == "--threads") set_num_threads(std::stoi(v));
    else if (a == "--warmup") g_warmup = std::stoi(v);
    else if (a == "--mssa-backward-max-n") mssa_backward_max_n = std::stoll(v);
    else if (a == "--clock") bench::use_cpu_clock() = v == "cpu";
    else if (a == "--ns") {
      ns.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) ns.push_back(std::stoll(item));
    } else {
      std::fprintf(stderr, "bench_tssa: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const std::int64_t d = 384, heads = 6;
  const double scale = 1.0 / 8.0;
  std::ofstream csv(csv_path);
  csv << "n,op,fwd_s,fwd_peak_bytes,fwdbwd_s,fwdbwd_peak_bytes\n";
  fmt::print("bench_tssa: d = {}, K = {}, one sequence, f32, {} threads, {} clock, median of {} runs\n", d, heads,
             num_threads(), bench::use_cpu_clock() ? "cpu" : "wall", reps);
  fmt::print("{:>6} {:>5} {:>12} {:>12} {:>14} {:>14} {:>16}\n", "n", "op", "fwd ms", "fwd MiB", "fwd+bwd ms",
             "fwd+bwd MiB", "fwd peak / act");
  Generator gen(1);
  for (const std::int64_t n : ns) {
    Tensor x = Tensor::empty({1, n, d}, DType::f32);
    prim::normal_(x, 0.0, 1.0, gen);
    x.requires_grad_();
    const Tensor temp = Tensor::ones({heads}, DType::f32);
    const Tensor dy = Tensor::ones({1, n, d}, DType::f32);
    for (const std::string op : {"tssa", "mssa"}) {
      auto run = [&](bool backward) {
        const Tensor y = op == "tssa" ? ops::tssa(x, temp, heads) : ops::tied_attention(x, heads, scale);
        if (backward) {
          autograd::backward(y, dy);
          x.zero_grad();
        }
      };
      const double maps_gb = static_cast<double>(heads) * static_cast<double>(n) * static_cast<double>(n) * 4 / 1e9;
      const double avail = std::min(max_gb, 0.8 * mem_available_gb());
      Result f{NAN, NAN}, fb{NAN, NAN};
      if (op == "tssa" || maps_gb <= avail) {
        autograd::NoGradGuard ng;
        f = measure([&] { run(false); }, reps);
      }
      if (op == "tssa" || (1.2 * maps_gb <= avail && n <= mssa_backward_max_n)) fb = measure([&] { run(true); }, reps);
      auto ms = [](double s) { return std::isnan(s) ? std::string("skipped") : fmt::format("{:.2f}", 1e3 * s); };
      auto mib = [](double b) { return std::isnan(b) ? std::string("skipped") : fmt::format("{:.1f}", b / 1048576.0); };
      // the forward's peak as a multiple of one (n, d) f32 activation
      const double act = static_cast<double>(n) * static_cast<double>(d) * 4.0;
      fmt::print("{:>6} {:>5} {:>12} {:>12} {:>14} {:>14} {:>16}\n", n, op, ms(f.seconds), mib(f.peak_bytes),
                 ms(fb.seconds), mib(fb.peak_bytes),
                 std::isnan(f.peak_bytes) ? std::string("-") : fmt::format("{:.1f}", f.peak_bytes / act));
      std::fflush(stdout);
      csv << fmt::format("{},{},{},{},{},{}\n", n, op, f.seconds, f.peak_bytes, fb.seconds, fb.peak_bytes) << std::flush;
    }
  }
  return 0;
}
