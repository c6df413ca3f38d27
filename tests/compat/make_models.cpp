// compat_make_models OUTDIR: writes the randomly initialized models the checkpoint-compatibility test
// (tests/compat/check_compat.py) compares against the NumPy reference of the official forward.
//
// Every 1-D parameter (LayerNorm gains and shifts, Linear biases) is moved off its initial value by
// 0.2 N(0, 1) noise, so a reference that swapped two LayerNorms, or dropped a bias, would not agree by
// accident with gains of 1 and shifts of 0.
//
// Models (name.safetensors):
//   crate-mini-28       the 28x28 gray configuration (d 96, 6 layers, 4 heads of 24, patch 4)
//   crate-mini-32       the 32x32 RGB configuration (3 channels: exercises the (p1 p2 c) patch order)
//   custom-mean         12x12x2 images, patch 3, d 20, 3 heads of 8 (heads * dim_head = 24 != d),
//                       mean pooling, eta 0.07, lambda 0.05, 7 classes
//   custom-mean-f64     the same in float64 (compared at a float64 tolerance)
//   custom-identity     1 head with dim_head = d: the official code has no to_out (nn.Identity)
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "autograd/grad_mode.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/models/registry.hpp"
#include "crate/models/vision/classifier.hpp"
#include "tensor/prim.hpp"
#include "tests/crate/fixtures.hpp"

namespace {

using wb::crate::CrateConfig;

CrateConfig custom_mean() {
  CrateConfig c = wbtest::tiny_config({.image_size = 12, .patch_size = 3, .channels = 2, .num_classes = 7, .dim = 20,
                                       .depth = 2, .heads = 3, .dim_head = 8},
                                      wb::DType::f32, 0, "custom-mean");
  c.pool = wb::crate::Pool::mean;
  c.eta = 0.07;
  c.lambda = 0.05;
  return c;
}

CrateConfig custom_identity() {
  return wbtest::tiny_config({.image_size = 8, .patch_size = 4, .channels = 3, .num_classes = 5, .dim = 16, .depth = 3,
                              .heads = 1, .dim_head = 16},
                             wb::DType::f32, 0, "custom-identity");
}

void write(const std::filesystem::path& dir, CrateConfig c, std::uint64_t seed) {
  c.seed = seed;
  wb::crate::CrateModel model(c);
  {
    wb::autograd::NoGradGuard ng;
    wb::Generator gen(seed + 1000);
    for (auto& [name, p] : model.named_parameters()) {
      if (p.dim() != 1) continue;
      wb::Tensor noise = wb::Tensor::empty(p.shape(), p.dtype());
      wb::prim::normal_(noise, 0.0, 0.2, gen);
      wb::prim::copy_(p, wb::prim::binary(wb::prim::Binary::add, p, noise));
    }
  }
  const std::string path = (dir / (c.name + ".safetensors")).string();
  wb::crate::save_model(path, model);
  fmt::print("{}: {} parameters\n", path, model.named_parameters().size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} OUTDIR\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir(argv[1]);
    std::filesystem::create_directories(dir);
    write(dir, wb::crate::named_config("crate-mini-28"), 1);
    write(dir, wb::crate::named_config("crate-mini-32"), 2);
    write(dir, custom_mean(), 3);
    CrateConfig f64 = custom_mean();
    f64.name = "custom-mean-f64";
    f64.dtype = wb::DType::f64;
    write(dir, f64, 4);
    write(dir, custom_identity(), 5);
  } catch (const std::exception& e) {
    fmt::print(stderr, "compat_make_models: {}\n", e.what());
    return 1;
  }
  return 0;
}
