// Training throughput of a CRATE (issue 4): images/s of full training steps (forward, backward,
// AdamW) on random data of the config's shape, and the achieved GFLOP/s over the matmul FLOPs of
// forward + backward, beside raw cblas_sgemm (OpenBLAS threaded at the same thread count) on the
// model's dominant GEMM shape (B*n x d x d x^T-flag) run in the same process, interleaved, so the
// ratio survives a noisy shared machine.
//
//   ./build/bench/bench_train [--model crate-mini-28] [--batch 128] [--threads 1,2] [--steps 20] [--reps 3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <cblas.h>
#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "bench/harness.hpp"
#include "crate/models/registry.hpp"
#include "crate/models/vision/classifier.hpp"
#include "ops/ops.hpp"
#include "ops/optim/adamw.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"

using namespace wb;
using Clock = std::chrono::steady_clock;

namespace {

// Matmul FLOPs of one forward pass per image (2 m n k per product), following crate/blocks/layer.hpp.
double forward_flops(const crate::CrateConfig& c) {
  const double n = static_cast<double>(c.tokens()), np = static_cast<double>(c.num_patches());
  const double d = static_cast<double>(c.dim), kp = static_cast<double>(c.inner_dim());
  const double heads = static_cast<double>(c.heads), p = static_cast<double>(c.dim_head);
  double layer = 2 * n * d * kp                 // Q = Y U^T
                 + 2 * 2 * heads * n * n * p    // Q Q^T and A Q
                 + 2 * n * kp * d;              // W_o
  layer += c.mlp == crate::MlpKind::ista ? 2 * (2 * n * d * d)              // X D^T, (X - X D^T) D
                           : 2 * (2 * n * d * c.mlp_ratio * d);
  return 2 * np * static_cast<double>(c.patch_dim()) * d + c.depth * layer + 2 * d * c.num_classes;
}

// Raw cblas_sgemm on `threads` OpenBLAS threads (whitebox holds OpenBLAS at one thread and splits
// products over its own pool; the reference uses OpenBLAS's own threading, then restores one thread).
double sgemm_gflops(std::int64_t m, std::int64_t k, std::int64_t n, int reps, int threads) {
  openblas_set_num_threads(threads);
  std::vector<float> a(static_cast<std::size_t>(m * k), 0.5f), b(static_cast<std::size_t>(k * n), 0.25f),
      c(static_cast<std::size_t>(m * n));
  auto call = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m), static_cast<blasint>(n),
                static_cast<blasint>(k), 1.0f, a.data(), static_cast<blasint>(k), b.data(), static_cast<blasint>(k), 0.0f,
                c.data(), static_cast<blasint>(n));
  };
  for (int i = 0; i < 5; ++i) call();  // wake OpenBLAS's threads (asleep while whitebox's pool ran the steps)
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto s = Clock::now();
    const int iters = 20;
    for (int i = 0; i < iters; ++i) call();
    t.push_back(2.0 * static_cast<double>(m * n * k) * iters / std::chrono::duration<double>(Clock::now() - s).count() / 1e9);
  }
  openblas_set_num_threads(1);
  return wb::bench::median(t);
}

}  // namespace

int main(int argc, char** argv) {
  wb::bench::quiet_openblas_workers(argv);
  std::string model = "crate-mini-28";
  std::int64_t batch = 128;
  int steps = 20, reps = 3;
  std::vector<int> threads{1, 2};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model = v;
    else if (k == "--batch") batch = std::stoll(v);
    else if (k == "--steps") steps = std::stoi(v);
    else if (k == "--reps") reps = std::stoi(v);
    else if (k == "--threads") {
      threads.clear();
      for (std::size_t p = 0; p < v.size();) {
        const auto q = v.find(',', p);
        threads.push_back(std::stoi(v.substr(p, q - p)));
        p = q == std::string::npos ? v.size() : q + 1;
      }
    } else {
      fmt::print(stderr, "unknown flag {}\n", k);
      return 2;
    }
  }
  const auto cfg = crate::named_config(model);
  const double fwd = forward_flops(cfg);
  const double train_flops = 3 * fwd - 2 * static_cast<double>(cfg.num_patches() * cfg.patch_dim() * cfg.dim);
  fmt::print("model {}: {:.2f} MFLOP/image forward, {:.2f} MFLOP/image training step (matmuls only), batch {}\n",
             model, fwd / 1e6, train_flops / 1e6, batch);
  fmt::print("{:>8} {:>12} {:>14} {:>14} {:>10}\n", "threads", "images/s", "train GFLOP/s", "sgemm GFLOP/s", "ratio");
  for (int th : threads) {
    set_num_threads(th);
    crate::CrateModel m(cfg);
    optim::AdamW opt({optim::ParamGroup{m.parameters(), 1e-4, 0.0}});
    Generator gen(1);
    Tensor x = Tensor::empty({batch, cfg.channels, cfg.image_size, cfg.image_size});
    prim::normal_(x, 0, 1, gen);
    std::vector<std::int64_t> yv(static_cast<std::size_t>(batch));
    for (std::int64_t i = 0; i < batch; ++i) yv[static_cast<std::size_t>(i)] = i % cfg.num_classes;
    const Tensor y = Tensor::from_vector(yv, {batch});
    auto step = [&] {
      opt.zero_grad();
      const Tensor loss = ops::cross_entropy(m.forward(x), y, -100, 0.1);
      autograd::backward(loss);
      opt.step();
    };
    for (int i = 0; i < 3; ++i) step();  // warm caches and the allocator
    std::vector<double> ips, ratio, gf_train, gf_gemm;
    for (int r = 0; r < reps; ++r) {
      const auto s = Clock::now();
      for (int i = 0; i < steps; ++i) step();
      const double sec = std::chrono::duration<double>(Clock::now() - s).count();
      const double img_s = static_cast<double>(batch * steps) / sec;
      const double g_train = img_s * train_flops / 1e9;
      const double g_ref = sgemm_gflops(batch * cfg.tokens(), cfg.dim, cfg.dim, 3, th);
      ips.push_back(img_s);
      gf_train.push_back(g_train);
      gf_gemm.push_back(g_ref);
      ratio.push_back(g_train / g_ref);
    }
    fmt::print("{:>8} {:>12.0f} {:>14.1f} {:>14.1f} {:>9.0f}%\n", th, wb::bench::median(ips), wb::bench::median(gf_train), wb::bench::median(gf_gemm),
               100 * wb::bench::median(ratio));
  }
  return 0;
}
