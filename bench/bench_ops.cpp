// bench_ops: the foundation benchmark of issue #2 (item 9).
//
// Times whitebox's matrix products and memory-bound ops through the public API beside a raw
// reference in the same process: cblas_sgemm on the same shapes and flags for the products, and a
// plain copy of the same bytes for the memory-bound ops. Each row runs `ours` and `ref` interleaved
// (alternating which goes first) for several rounds and reports the median time per call of each and
// their ratio. The machines are shared and noisy: read the ratios, not the absolute numbers.
//
//   ./build-bench/bench/bench_ops [--threads N] [--rounds R] [--min-ms T] [--filter SUBSTRING] [--clock wall|cpu]
//
// ratio = ours / ref throughput (ref time / ours time); target: the minimum ratio of issue #2.
// --clock cpu times with the process's CPU time instead of the wall clock: on a loaded machine with
// --threads 1 it ignores the time the process spent descheduled. Use it with --threads 1 only (with
// more threads it would count waiting and OpenBLAS's spinning workers).
//
// Conventions:
//   * GFLOP/s counts 2*M*N*K per product (per batch item).
//   * GB/s counts the bytes each op must read plus the bytes it must write once (e.g. add of n floats:
//     3n*4 bytes; softmax backward: dy, y read, dx written = 3n*4), not cache-line traffic.
//   * The copy reference moves the same count: memcpy of (read + write)/2 bytes from one buffer to
//     another, split into num_threads() equal chunks run on whitebox's own thread pool, i.e. with the
//     same number of threads the kernels use.
//   * The raw sgemm reference calls cblas_sgemm with OpenBLAS threads = --threads (OpenBLAS's own
//     threading); whitebox keeps OpenBLAS at one thread and splits the product over its pool. For the
//     batched attention shapes the reference is a plain loop of cblas_sgemm calls, one per batch item (OpenBLAS 0.3.21 has no batched sgemm; it runs each of these tiny
//     products on one thread).
//   * Forward rows run with no inputs requiring a gradient (no node recorded). Backward rows call the
//     recorded node's backward(dy) directly, i.e. exactly the prim:: work the engine would run.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <cblas.h>
#include <fmt/format.h>

#include "autograd/grad_mode.hpp"
#include "bench/harness.hpp"
#include "autograd/node.hpp"
#include "ops/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"

namespace {

using wb::Shape;
using wb::Tensor;
using Clock = std::chrono::steady_clock;

struct Options {
  int threads = 0;  // 0: keep the default
  int rounds = 9;
  double min_ms = 25.0;  // each timed batch of calls runs at least this long
  std::string filter;
  bool cpu_clock = false;  // --clock cpu: process CPU time instead of wall time (see the header)
};

struct Row {
  Row(std::string g, std::string n, std::string s, double w)
      : group(std::move(g)), name(std::move(n)), shape(std::move(s)), work(w) {}
  std::string group;  // "matmul" (GFLOP/s) or "memory" (GB/s)
  std::string name;
  std::string shape;
  double work = 0;  // FLOP or bytes per call
  std::function<void()> ours, ref;
  double target = 0;  // minimum ours/ref ratio, 0 when the row is informational
};

Tensor randn(const Shape& s, wb::Generator& gen, bool requires_grad = false) {
  Tensor t = Tensor::empty(s);
  wb::prim::normal_(t, 0.0, 1.0, gen);
  if (requires_grad) t.requires_grad_();
  return t;
}

const float* fp(const Tensor& t) { return static_cast<const float*>(t.raw_data()); }

wb::bench::Timing measure(const Row& r, const Options& opt) {
  return wb::bench::interleaved(r.ours, r.ref, opt.rounds, opt.min_ms);
}

// ---------------- references ----------------

// C = op(A) op(B), row-major, as whitebox's matmul would call it; OpenBLAS threads the call itself on
// --threads threads (whitebox holds OpenBLAS at one thread and splits products over its own pool).
void sgemm(bool ta, bool tb, int m, int n, int k, const float* a, const float* b, float* c) {
  const int lda = ta ? m : k, ldb = tb ? k : n;
  openblas_set_num_threads(wb::num_threads());
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
              b, ldb, 0.0f, c, n);
  openblas_set_num_threads(1);
}

void sgemm_loop(int batch, bool ta, bool tb, int m, int n, int k, const float* a, const float* b, float* c) {
  for (int i = 0; i < batch; ++i)
    sgemm(ta, tb, m, n, k, a + static_cast<std::ptrdiff_t>(i) * m * k, b + static_cast<std::ptrdiff_t>(i) * k * n,
          c + static_cast<std::ptrdiff_t>(i) * m * n);
}

// A memcpy of `bytes` bytes split into num_threads() chunks on whitebox's pool.
struct CopyRef {
  std::vector<char> src, dst;  // sized once
  explicit CopyRef(std::size_t bytes) : src(bytes, 1), dst(bytes, 0) {}
  void operator()() {
    const auto nt = static_cast<std::int64_t>(wb::num_threads());
    const auto n = static_cast<std::int64_t>(src.size());
    wb::parallel_for(nt, 1, [&](std::int64_t b, std::int64_t e) {
      const std::int64_t lo = n * b / nt, hi = n * e / nt;
      std::memcpy(dst.data() + lo, src.data() + lo, static_cast<std::size_t>(hi - lo));
    });
  }
};

double max_rel_diff(const Tensor& a, const std::vector<float>& b) {
  const auto av = wb::prim::contiguous(a).to_vector<float>();
  double num = 0, den = 0;
  for (std::size_t i = 0; i < av.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(av[i]) - b[i]));
    den = std::max(den, std::abs(static_cast<double>(b[i])));
  }
  return den > 0 ? num / den : num;
}

// ---------------- rows ----------------

struct Bench {
  std::vector<Row> rows;
  wb::Generator gen{1234};

  void add(Row r) { rows.push_back(std::move(r)); }

  // Checks once that ours and the reference compute the same product (guards the flags).
  static void check(const std::string& name, const Tensor& ours, const float* ref, std::size_t n) {
    const double d = max_rel_diff(ours, std::vector<float>(ref, ref + n));
    if (d > 1e-4) fmt::print(stderr, "warning: {}: whitebox and the sgemm reference differ (max rel {:.2e})\n", name, d);
  }

  void square() {
    const int n = 1024;
    Tensor a = randn({n, n}, gen), b = randn({n, n}, gen);
    auto c = std::make_shared<std::vector<float>>(static_cast<std::size_t>(n) * n);
    Row r{"matmul", "A B", "1024x1024x1024", 2.0 * n * n * n};
    r.ours = [=] { (void)wb::ops::matmul(a, b); };
    r.ref = [=] { sgemm(false, false, n, n, n, fp(a), fp(b), c->data()); };
    r.target = 0.9;
    r.ref();
    check(r.name, wb::ops::matmul(a, b), c->data(), c->size());
    add(r);
  }

  // A product small enough that the Tensor API's per-call cost (checks, views, the output allocation)
  // shows: informational, no target.
  void tiny() {
    const int n = 16;
    Tensor a = randn({n, n}, gen), b = randn({n, n}, gen);
    auto c = std::make_shared<std::vector<float>>(static_cast<std::size_t>(n) * n);
    Row r{"matmul", "A B (per-call overhead)", "16x16x16", 2.0 * n * n * n};
    r.ours = [=] { (void)wb::ops::matmul(a, b); };
    r.ref = [=] { sgemm(false, false, n, n, n, fp(a), fp(b), c->data()); };
    r.target = 0;
    add(r);
  }

  // (B*N) x d x d with B*N = 6400: x W, x W^T (transpose flag, x of shape (B, N, d) as in CRATE) and the
  // weight-gradient form x^T dy (K = 6400).
  void linear(int d) {
    const int bn = 6400, b = 128, nt = 50;
    Tensor x2 = randn({bn, d}, gen), x3 = prim_view(x2, {b, nt, d}), w = randn({d, d}, gen), dy = randn({bn, d}, gen);
    auto c = std::make_shared<std::vector<float>>(static_cast<std::size_t>(bn) * d);
    auto cw = std::make_shared<std::vector<float>>(static_cast<std::size_t>(d) * d);
    const double flop = 2.0 * bn * d * d;
    const std::string shp = fmt::format("6400x{}x{}", d, d);
    {
      Row r{"matmul", "x W", shp, flop};
      r.ours = [=] { (void)wb::ops::matmul(x2, w); };
      r.ref = [=] { sgemm(false, false, bn, d, d, fp(x2), fp(w), c->data()); };
      r.target = 0.9;
      r.ref();
      check(r.name, wb::ops::matmul(x2, w), c->data(), c->size());
      add(r);
    }
    {
      Row r{"matmul", "x W^T (flag)", fmt::format("(128,50,{})@({},{})^T", d, d, d), flop};
      r.ours = [=] { (void)wb::ops::matmul(x3, wb::prim::transpose(w, 0, 1)); };
      r.ref = [=] { sgemm(false, true, bn, d, d, fp(x2), fp(w), c->data()); };
      r.target = 0.9;
      r.ref();
      check(r.name, wb::ops::matmul(x3, wb::prim::transpose(w, 0, 1)), c->data(), c->size());
      add(r);
    }
    {
      Row r{"matmul", "x^T dy (weight grad)", fmt::format("{}x{}x6400", d, d), flop};
      r.ours = [=] { (void)wb::ops::matmul(wb::prim::transpose(x2, 0, 1), dy); };
      r.ref = [=] { sgemm(true, false, d, d, bn, fp(x2), fp(dy), cw->data()); };
      r.target = 0.9;
      r.ref();
      check(r.name, wb::ops::matmul(wb::prim::transpose(x2, 0, 1), dy), cw->data(), cw->size());
      add(r);
    }
    {
      // Backward of y = x W^T with x (B, N, d): dx = dy W (6400 x d x d), dW^T = x^T dy (d x d x 6400).
      Tensor xg = prim_view(randn({bn, d}, gen), {b, nt, d}).requires_grad_();
      Tensor wg = randn({d, d}, gen, true);
      Tensor y = wb::ops::matmul(xg, wb::ops::transpose(wg, 0, 1));
      auto node = y.grad_fn();
      Tensor dy3 = prim_view(dy, {b, nt, d});
      Row r{"matmul", "bwd of x W^T: dx, dW", fmt::format("6400x{}x{} + {}x{}x6400", d, d, d, d), 2 * flop};
      r.ours = [=] { (void)node->backward(dy3); };
      r.ref = [=] {
        sgemm(false, false, bn, d, d, fp(dy), fp(wg), c->data());
        sgemm(true, false, d, d, bn, fp(xg), fp(dy), cw->data());
      };
      r.target = 0.9;
      add(r);
    }
  }

  // Attention with B = 128 images, H = 4 heads of K = 24 over N = 50 tokens: S = Q K^T (flag), O = A V,
  // each 512 products of 50x50x24.
  void attention() {
    const int b = 128, h = 4, n = 50, k = 24, batch = b * h;
    Tensor q = randn({b, h, n, k}, gen), kk = randn({b, h, n, k}, gen), v = randn({b, h, n, k}, gen);
    Tensor a = wb::prim::softmax(randn({b, h, n, n}, gen), -1);
    auto s = std::make_shared<std::vector<float>>(static_cast<std::size_t>(batch) * n * n);
    auto o = std::make_shared<std::vector<float>>(static_cast<std::size_t>(batch) * n * k);
    const double flop = 2.0 * batch * n * n * k;
    {
      Row r{"matmul", "attn Q K^T (flag)", "512 x 50x50x24", flop};
      r.ours = [=] { (void)wb::ops::matmul(q, wb::prim::transpose(kk, -1, -2)); };
      r.ref = [=] { sgemm_loop(batch, false, true, n, n, k, fp(q), fp(kk), s->data()); };
      r.target = 0.9;
      r.ref();
      check(r.name, wb::ops::matmul(q, wb::prim::transpose(kk, -1, -2)), s->data(), s->size());
      add(r);
    }
    {
      Row r{"matmul", "attn A V", "512 x 50x24x50", flop};
      r.ours = [=] { (void)wb::ops::matmul(a, v); };
      r.ref = [=] { sgemm_loop(batch, false, false, n, k, n, fp(a), fp(v), o->data()); };
      r.target = 0.9;
      r.ref();
      check(r.name, wb::ops::matmul(a, v), o->data(), o->size());
      add(r);
    }
    {
      // Backward of S = Q K^T: dQ = dS K (50x24x50), dK^T = Q^T dS (24x50x50), per batch item.
      Tensor qg = randn({b, h, n, k}, gen, true), kg = randn({b, h, n, k}, gen, true);
      Tensor y = wb::ops::matmul(qg, wb::ops::transpose(kg, -1, -2));
      auto node = y.grad_fn();
      Tensor ds = randn({b, h, n, n}, gen);
      auto dq = std::make_shared<std::vector<float>>(static_cast<std::size_t>(batch) * n * k);
      Row r{"matmul", "bwd of Q K^T: dQ, dK", "512 x (50x24x50 + 24x50x50)", 2 * flop};
      r.ours = [=] { (void)node->backward(ds); };
      r.ref = [=] {
        sgemm_loop(batch, false, false, n, k, n, fp(ds), fp(kg), dq->data());
        for (int i = 0; i < batch; ++i)  // (Q^T dS): (24 x 50) from Q (50 x 24) transposed
          sgemm(true, false, k, n, n, fp(qg) + i * n * k, fp(ds) + i * n * n, o->data() + i * n * k);
      };
      r.target = 0.9;
      add(r);
    }
    {
      // Backward of O = A V: dA = dO V^T (50x50x24), dV = A^T dO (50x24x50).
      Tensor ag = wb::prim::clone(a).requires_grad_(), vg = randn({b, h, n, k}, gen, true);
      Tensor y = wb::ops::matmul(ag, vg);
      auto node = y.grad_fn();
      Tensor dout = randn({b, h, n, k}, gen);
      Row r{"matmul", "bwd of A V: dA, dV", "512 x (50x50x24 + 50x24x50)", 2 * flop};
      r.ours = [=] { (void)node->backward(dout); };
      r.ref = [=] {
        sgemm_loop(batch, false, true, n, n, k, fp(dout), fp(vg), s->data());
        for (int i = 0; i < batch; ++i)
          sgemm(true, false, n, k, n, fp(ag) + i * n * n, fp(dout) + i * n * k, o->data() + i * n * k);
      };
      r.target = 0.9;
      add(r);
    }
  }

  void memory_row(const std::string& name, const std::string& shape, double bytes, std::function<void()> ours,
                  double target = 0.4) {
    auto copy = std::make_shared<CopyRef>(static_cast<std::size_t>(bytes / 2));
    Row r{"memory", name, shape, bytes};
    r.ours = std::move(ours);
    r.ref = [copy] { (*copy)(); };
    r.target = target;
    add(r);
  }

  void memory() {
    const double f = sizeof(float);
    {
      // Attention scores: softmax over the last axis of (B, H, N, N).
      const Shape s{128, 4, 50, 50};
      const double n = static_cast<double>(wb::numel_of(s));
      Tensor x = randn(s, gen);
      memory_row("softmax", "(128,4,50,50) axis -1", 2 * n * f, [=] { (void)wb::ops::softmax(x, -1); });
      Tensor xg = wb::prim::clone(x).requires_grad_();
      Tensor y = wb::ops::softmax(xg, -1);
      auto node = y.grad_fn();
      Tensor dy = randn(s, gen);
      memory_row("softmax bwd", "(128,4,50,50) axis -1", 3 * n * f, [=] { (void)node->backward(dy); });
    }
    {
      // Token features of a CRATE layer: (B, N, D) = (128, 50, 96), 2.4 MB.
      const Shape s{128, 50, 96};
      const double n = static_cast<double>(wb::numel_of(s)), rows = 128 * 50;
      Tensor x = randn(s, gen), x2 = randn(s, gen), g = randn({96}, gen), be = randn({96}, gen);
      memory_row("layer_norm", "(128,50,96) +gamma,beta", (2 * n + 2 * rows) * f,
                 [=] { (void)wb::ops::layer_norm(x, g, be, 1e-5); });
      Tensor xg = wb::prim::clone(x).requires_grad_(), gg = wb::prim::clone(g).requires_grad_();
      Tensor bg = wb::prim::clone(be).requires_grad_();
      Tensor y = wb::ops::layer_norm(xg, gg, bg, 1e-5);
      auto node = y.grad_fn();
      Tensor dy = randn(s, gen);
      memory_row("layer_norm bwd", "(128,50,96) dx,dgamma,dbeta", (3 * n + 2 * rows) * f,
                 [=] { (void)node->backward(dy); });
      memory_row("add", "(128,50,96) + (128,50,96)", 3 * n * f, [=] { (void)wb::ops::add(x, x2); });
      memory_row("relu", "(128,50,96)", 2 * n * f, [=] { (void)wb::ops::relu(x); });
      Tensor xr = wb::prim::clone(x).requires_grad_();
      Tensor yr = wb::ops::relu(xr);
      auto rnode = yr.grad_fn();
      memory_row("relu bwd", "(128,50,96)", 3 * n * f, [=] { (void)rnode->backward(dy); });
      memory_row("add bias (broadcast)", "(128,50,96) + (96)", 2 * n * f, [=] { (void)wb::ops::add(x, g); });
    }
    {
      // Out of cache: 16M floats per tensor (64 MB), DRAM-bound.
      const Shape s{4096, 4096};
      const double n = static_cast<double>(wb::numel_of(s));
      Tensor x = randn(s, gen), x2 = randn(s, gen);
      memory_row("add (DRAM)", "(4096,4096) + (4096,4096)", 3 * n * f, [=] { (void)wb::ops::add(x, x2); });
      memory_row("relu (DRAM)", "(4096,4096)", 2 * n * f, [=] { (void)wb::ops::relu(x); });
      // The same shapes' row kernels out of cache: rows of 50 (the attention scores) and of 96 (tokens).
      const Tensor scores = randn({327680, 50}, gen), tokens = randn({170000, 96}, gen);
      const Tensor gd = randn({96}, gen), bd = randn({96}, gen);
      const double ns = static_cast<double>(scores.numel()), nt = static_cast<double>(tokens.numel());
      memory_row("softmax (DRAM)", "(327680,50) axis -1", 2 * ns * f, [=] { (void)wb::ops::softmax(scores, -1); });
      memory_row("layer_norm (DRAM)", "(170000,96) +gamma,beta", 2 * nt * f,
                 [=] { (void)wb::ops::layer_norm(tokens, gd, bd); });
    }
  }

  static Tensor prim_view(const Tensor& t, const Shape& s) { return wb::prim::view(t, s); }
};

// The first three fields of /proc/loadavg (the machine is shared: a load above the core count means the
// numbers above are contended).
std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  if (!(f >> a >> b >> c)) return "unknown";
  return a + " " + b + " " + c;
}

int parse(int argc, char** argv, Options& opt) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", a));
      return argv[++i];
    };
    if (a == "--threads") opt.threads = std::stoi(next());
    else if (a == "--rounds") opt.rounds = std::max(1, std::stoi(next()));
    else if (a == "--min-ms") opt.min_ms = std::stod(next());
    else if (a == "--filter") opt.filter = next();
    else if (a == "--clock") {
      const std::string c = next();
      if (c != "wall" && c != "cpu") throw std::invalid_argument("--clock takes wall or cpu");
      opt.cpu_clock = c == "cpu";
    }
    else if (a == "-h" || a == "--help") {
      fmt::print("usage: bench_ops [--threads N] [--rounds R] [--min-ms T] [--filter SUBSTRING] [--clock wall|cpu]\n");
      return 1;
    } else {
      throw std::invalid_argument(fmt::format("unknown argument '{}' (try --help)", a));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  wb::bench::quiet_openblas_workers(argv);
  Options opt;
  try {
    if (parse(argc, argv, opt)) return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_ops: {}\n", e.what());
    return 2;
  }
  if (opt.threads > 0) wb::set_num_threads(opt.threads);
  wb::bench::use_cpu_clock() = opt.cpu_clock;
  wb::autograd::GradMode::set_enabled(true);  // rows that build a node need grad mode during setup

  Bench b;
  b.square();
  for (int d : {96, 192, 384}) b.linear(d);
  b.attention();
  b.tiny();
  b.memory();
  wb::autograd::GradMode::set_enabled(false);  // timed forwards record nothing

  fmt::print("bench_ops: threads = {} (whitebox pool; the raw sgemm reference threads OpenBLAS itself), {} rounds, >= {} ms per timed batch, {} clock\n",
             wb::num_threads(), opt.rounds, opt.min_ms, opt.cpu_clock ? "process-CPU" : "wall");
  fmt::print("OpenBLAS: {} (kernels for {}; OPENBLAS_CORETYPE={})\n", openblas_get_config(), openblas_get_corename(),
             std::getenv("OPENBLAS_CORETYPE") != nullptr ? std::getenv("OPENBLAS_CORETYPE") : "unset");
  fmt::print("load average before: {}\n", loadavg());
  fmt::print("{:<24} {:<32} {:>10} {:>10} {:>7} {:>7}  {}\n", "op", "shape", "ours", "ref", "ratio", "target",
             "met");
  std::string group;
  int met = 0, total = 0;
  for (const Row& r : b.rows) {
    if (!opt.filter.empty() && r.name.find(opt.filter) == std::string::npos &&
        r.group.find(opt.filter) == std::string::npos)
      continue;
    if (r.group != group) {
      group = r.group;
      fmt::print("-- {} ({}; ref = {})\n", group, group == "matmul" ? "GFLOP/s" : "GB/s",
                 group == "matmul" ? "cblas_sgemm" : "memcpy of the same bytes");
    }
    const auto m = measure(r, opt);
    const double ours = r.work / m.ours_s * 1e-9, ref = r.work / m.ref_s * 1e-9, ratio = m.ref_s / m.ours_s;
    const bool ok = ratio >= r.target;
    if (r.target > 0) {
      ++total;
      met += ok;
    }
    fmt::print("{:<24} {:<32} {:>10.1f} {:>10.1f} {:>6.0f}% {:>6.0f}%  {}\n", r.name, r.shape, ours, ref,
               100 * ratio, 100 * r.target, r.target > 0 ? (ok ? "yes" : "NO") : "-");
    std::fflush(stdout);
  }
  fmt::print("targets met: {} of {}\n", met, total);
  fmt::print("load average after: {}\n", loadavg());
  return 0;
}
