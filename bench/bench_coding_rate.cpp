// bench_coding_rate: the coding-rate operators of issue #3 (item 5) beside the raw BLAS/LAPACK calls
// they are built on, in the same process.
//
//   ./build-rate/bench/bench_coding_rate [--threads N] [--rounds R] [--min-ms T] [--filter SUBSTRING] [--clock wall|cpu]
//
// Shapes (float32): a CRATE-S-like batch, Z (B = 128, N = 197, d = 384) with K = 6 heads of p = 64,
// and one large matrix, Z (N = 50,000, d = 384), K = 6.
//   R    = ops::coding_rate(Z, eps)                   raw: ?syrk + ?potrf + log-sum of the diagonal
//   R^c  = ops::compressed_coding_rate(Z, U, eps)     raw: ?gemm (Z U^T) + per head ?syrk + ?potrf + log-sum
//   "+ grad" rows add the backward: raw: dy-scaled copy of X + two ?trsm per matrix, and for R^c the two
//   ?gemm dZ = dW U and dU = dW^T Z. Ours runs the forward with Z (and U) requiring a gradient and then
//   calls the recorded node's backward(dy) directly (the prim:: work the engine would run, without
//   the engine's gradient accumulation into .grad).
// The raw reference uses the same schedule as the kernels: a batch of small matrices is one
// wb::parallel_for of single-threaded calls (OpenBLAS held at one thread), a large one lets OpenBLAS
// thread. Each row runs ours and the reference interleaved for several rounds and prints the medians
// and their ratio. The machines are shared and noisy: read the ratios. --clock cpu times with the
// process's CPU time instead of the wall clock: with --threads 1 on a loaded machine it ignores the time
// the process spent descheduled.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <cblas.h>
#include <fmt/format.h>
#include <lapacke.h>

#include "autograd/grad_mode.hpp"
#include "autograd/node.hpp"
#include "bench/harness.hpp"
#include "ops/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"

namespace {

using wb::Shape;
using wb::Tensor;

struct Options {
  int threads = 0;
  int rounds = 7;
  double min_ms = 150.0;
  std::string filter;
  bool cpu_clock = false;
};

struct Row {
  std::string name, shape;
  std::function<void()> ours, ref;
};

// ---------------- the raw reference ----------------

// Runs one(i) for i < batch the plain way a user of BLAS would: a batch in parallel on single-threaded
// calls when `split`, else one matrix after another with OpenBLAS threading each call on all the
// threads (whitebox holds OpenBLAS at one thread and splits big matrices over its own pool instead).
void for_each(std::int64_t batch, bool split, const std::function<void(std::int64_t)>& one) {
  if (!split) {
    openblas_set_num_threads(wb::num_threads());
    for (std::int64_t i = 0; i < batch; ++i) one(i);
    openblas_set_num_threads(1);
    return;
  }
  wb::parallel_for(batch, 1, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t i = s; i < e; ++i) one(i);
  });
}

// 1/2 logdet(I + a X^T X) of `batch` matrices X (m x c, leading dimension ld, at offsets stride apart)
// on the smaller side, and optionally dX = dy a X (I + a X^T X)^{-1} into dx (same layout).
struct RawRate {
  std::int64_t batch, m, c, ld, stride;
  bool split;
  float a;
  std::vector<float> g;        // factors
  std::vector<double> value;   // per matrix
  RawRate(std::int64_t b, std::int64_t m_, std::int64_t c_, std::int64_t ld_, std::int64_t stride_, bool split_, float a_)
      : batch(b), m(m_), c(c_), ld(ld_), stride(stride_), split(split_), a(a_),
        g(static_cast<std::size_t>(b * std::min(m_, c_) * std::min(m_, c_))), value(static_cast<std::size_t>(b)) {}
  std::int64_t n() const { return std::min(m, c); }
  bool token_side() const { return m <= c; }

  void forward(const float* x) {
    const std::int64_t s = n();
    for_each(batch, split, [&](std::int64_t i) {
      float* gi = g.data() + i * s * s;
      const float* xi = x + (i / per_group) * group_stride + (i % per_group) * stride;
      cblas_ssyrk(CblasRowMajor, CblasLower, token_side() ? CblasNoTrans : CblasTrans, static_cast<int>(s),
                  static_cast<int>(token_side() ? c : m), a, xi, static_cast<int>(ld), 0.0f, gi, static_cast<int>(s));
      for (std::int64_t j = 0; j < s; ++j) gi[j * s + j] += 1.0f;
      LAPACKE_spotrf_work(LAPACK_COL_MAJOR, 'U', static_cast<int>(s), gi, static_cast<int>(s));
      double sum = 0.0;
      for (std::int64_t j = 0; j < s; ++j) sum += std::log(static_cast<double>(gi[j * s + j]));
      value[static_cast<std::size_t>(i)] = sum;
    });
  }
  // dx (same layout as x) = dy * X, then the two triangular solves in place.
  void backward(const float* x, float* dx, const float* dy) {
    const std::int64_t s = n();
    for_each(batch, split, [&](std::int64_t i) {
      const std::int64_t off = (i / per_group) * group_stride + (i % per_group) * stride;
      const float* xi = x + off;
      float* di = dx + off;
      const float w = dy[i / per_group];
      for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t q = 0; q < c; ++q) di[r * ld + q] = w * xi[r * ld + q];
      const float* li = g.data() + i * s * s;
      const int im = static_cast<int>(m), ic = static_cast<int>(c), is = static_cast<int>(s), il = static_cast<int>(ld);
      if (token_side()) {
        cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, im, ic, a, li, is, di, il);
        cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, im, ic, 1.0f, li, is, di, il);
      } else {
        cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, im, ic, a, li, is, di, il);
        cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, im, ic, 1.0f, li, is, di, il);
      }
    });
  }
  // Matrices come in groups (one group per batch element: the K heads of one image).
  std::int64_t per_group = 1, group_stride = 0;
};

const float* fp(const Tensor& t) { return static_cast<const float*>(t.raw_data()); }

// cblas_sgemm threaded by OpenBLAS itself on all the threads (the raw way to run one big product).
void sgemm_threaded(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float* a, int lda,
                    const float* b, int ldb, float* c, int ldc) {
  openblas_set_num_threads(wb::num_threads());
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  openblas_set_num_threads(1);
}

bool split_like_kernels(std::int64_t batch, double flops) {
  const std::int64_t t = wb::num_threads();
  return batch > 1 && t > 1 && (flops < 16.0 * 1024 * 1024 || batch >= 4 * t);
}

Tensor randn(const Shape& s, wb::Generator& gen, double scale) {
  Tensor t = Tensor::empty(s);
  wb::prim::normal_(t, 0.0, scale, gen);
  return t;
}

void check(const std::string& what, double ours, double ref) {
  if (std::abs(ours - ref) > 1e-4 * std::abs(ref))
    fmt::print(stderr, "warning: {}: whitebox {} and the raw reference {} differ\n", what, ours, ref);
}

// R and R^c rows (value, value + gradient) for Z (B, N, d), U (K, p, d); B = 0 means an unbatched Z.
void add_rows(std::vector<Row>& rows, std::int64_t b, std::int64_t n, std::int64_t d, std::int64_t k, double eps) {
  wb::Generator gen(42);
  const std::int64_t p = d / k, nb = std::max<std::int64_t>(1, b);
  const Shape zs = b ? Shape{b, n, d} : Shape{n, d};
  const Tensor z = randn(zs, gen, 1.0), u = randn({k, p, d}, gen, 1.0 / std::sqrt(static_cast<double>(d)));
  const Tensor zg = wb::prim::clone(z).requires_grad_(), ug = wb::prim::clone(u).requires_grad_();
  const Tensor dy = Tensor::ones(b ? Shape{b} : Shape{});
  const std::string shape = b ? fmt::format("B={} N={} d={} K={}", b, n, d, k) : fmt::format("N={} d={} K={}", n, d, k);
  const float e2 = static_cast<float>(eps * eps);

  // R: one matrix per batch element.
  const auto s = std::min(n, d);
  auto rr = std::make_shared<RawRate>(nb, n, d, d, n * d, split_like_kernels(nb, double(s) * s * std::max(n, d)),
                                      static_cast<float>(d) / (static_cast<float>(n) * e2));
  auto dz = std::make_shared<std::vector<float>>(static_cast<std::size_t>(nb * n * d));
  rows.push_back({"R value", shape, [=] {
                    wb::autograd::NoGradGuard g;
                    (void)wb::ops::coding_rate(z, eps);
                  },
                  [=] { rr->forward(fp(z)); }});
  rows.push_back({"R value+grad", shape, [=] { (void)wb::ops::coding_rate(zg, eps).grad_fn()->backward(dy); },
                  [=] {
                    rr->forward(fp(z));
                    rr->backward(fp(z), dz->data(), fp(dy));
                  }});
  rr->forward(fp(z));
  {
    wb::autograd::NoGradGuard g;
    check("R", wb::ops::coding_rate(z, eps).to_vector<double>()[0], rr->value[0]);
  }

  // R^c: W = Z U^T (nb*N, K*p), then K matrices (N, p) per batch element at column offsets.
  const std::int64_t kp = k * p, sc = std::min(n, p);
  auto w = std::make_shared<std::vector<float>>(static_cast<std::size_t>(nb * n * kp));
  auto dw = std::make_shared<std::vector<float>>(w->size());
  auto du = std::make_shared<std::vector<float>>(static_cast<std::size_t>(kp * d));
  auto rc = std::make_shared<RawRate>(nb * k, n, p, kp, p, split_like_kernels(nb * k, double(sc) * sc * std::max(n, p)),
                                      static_cast<float>(p) / (static_cast<float>(n) * e2));
  rc->per_group = k;
  rc->group_stride = n * kp;
  const int rows_all = static_cast<int>(nb * n), ikp = static_cast<int>(kp), id = static_cast<int>(d);
  auto project = [=] {
    sgemm_threaded(CblasNoTrans, CblasTrans, rows_all, ikp, id, fp(z), id, fp(u), id, w->data(), ikp);
  };
  rows.push_back({"R^c value", shape, [=] {
                    wb::autograd::NoGradGuard g;
                    (void)wb::ops::compressed_coding_rate(z, u, eps);
                  },
                  [=] {
                    project();
                    rc->forward(w->data());
                  }});
  rows.push_back({"R^c value+grad", shape,
                  [=] { (void)wb::ops::compressed_coding_rate(zg, ug, eps).grad_fn()->backward(dy); },
                  [=] {
                    project();
                    rc->forward(w->data());
                    rc->backward(w->data(), dw->data(), fp(dy));
                    sgemm_threaded(CblasNoTrans, CblasNoTrans, rows_all, id, ikp, dw->data(), ikp,
                                fp(u), id, dz->data(), id);
                    sgemm_threaded(CblasTrans, CblasNoTrans, ikp, id, rows_all, dw->data(), ikp,
                                fp(z), id, du->data(), id);
                  }});
  project();
  rc->forward(w->data());
  {
    wb::autograd::NoGradGuard g;
    double ref = 0.0;
    for (std::int64_t h = 0; h < k; ++h) ref += rc->value[static_cast<std::size_t>(h)];
    check("R^c", wb::ops::compressed_coding_rate(z, u, eps).to_vector<double>()[0], ref);
  }
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument("bench_coding_rate: " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--rounds") o.rounds = std::stoi(next());
    else if (a == "--min-ms") o.min_ms = std::stod(next());
    else if (a == "--filter") o.filter = next();
    else if (a == "--clock") o.cpu_clock = next() == "cpu";
    else throw std::invalid_argument("bench_coding_rate: unknown argument " + a +
                                     " (use --threads N, --rounds R, --min-ms T, --filter S, --clock wall|cpu)");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  wb::bench::quiet_openblas_workers(argv);
  const Options opt = parse(argc, argv);
  if (opt.threads > 0) wb::set_num_threads(opt.threads);
  wb::bench::use_cpu_clock() = opt.cpu_clock;
  std::vector<Row> rows;
  add_rows(rows, 128, 197, 384, 6, 0.5);
  add_rows(rows, 0, 50000, 384, 6, 0.5);
  fmt::print("threads {} (whitebox pool; the raw reference threads OpenBLAS itself), {} rounds, medians, {} clock\n\n", wb::num_threads(), opt.rounds,
             opt.cpu_clock ? "process CPU" : "wall");
  fmt::print("| op | shape | whitebox ms | raw ms | ratio |\n|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    const std::string label = r.name + " " + r.shape;
    if (!opt.filter.empty() && label.find(opt.filter) == std::string::npos) continue;
    const auto t = wb::bench::interleaved(r.ours, r.ref, opt.rounds, opt.min_ms);
    const double o = t.ours_s, f = t.ref_s;
    fmt::print("| {} | {} | {:.2f} | {:.2f} | {:.2f} |\n", r.name, r.shape, o * 1e3, f * 1e3, o / f);
    std::fflush(stdout);
  }
  return 0;
}
