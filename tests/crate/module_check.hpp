// Directional gradient check for a whole module: compares the analytic derivative of a scalar loss
// along one random unit direction over the module's parameters (and extra leaf inputs) with the
// float64 central difference (L(theta + eps v) - L(theta - eps v)) / (2 eps). Parameters are moved in
// place and restored.
#pragma once

#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "crate/nn/module.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

inline void check_module_direction(wb::crate::Module& m, std::vector<wb::Tensor> extra,
                                   const std::function<wb::Tensor()>& loss, double eps = 1e-6,
                                   double atol = 1e-6, double rtol = 1e-4, std::uint64_t seed = 99) {
  using namespace wb;
  std::vector<Tensor> leaves = m.parameters();
  leaves.insert(leaves.end(), extra.begin(), extra.end());
  for (auto& t : leaves) t.zero_grad();
  autograd::backward(loss());
  Generator gen(seed);
  std::vector<Tensor> dirs;
  double norm2 = 0.0;
  for (auto& t : leaves) {
    Tensor v = Tensor::empty(t.shape(), t.dtype());
    prim::normal_(v, 0.0, 1.0, gen);
    norm2 += prim::sum_all(prim::unary(prim::Unary::square, v));
    dirs.push_back(v);
  }
  double analytic = 0.0;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    prim::scale_(dirs[i], 1.0 / std::sqrt(norm2));
    if (leaves[i].grad().defined()) analytic += prim::sum_all(prim::binary(prim::Binary::mul, leaves[i].grad(), dirs[i]));
  }
  autograd::NoGradGuard ng;
  auto shifted = [&](double s) {
    for (std::size_t i = 0; i < leaves.size(); ++i) prim::axpy_(leaves[i], dirs[i], s);
    const double v = loss().item();
    for (std::size_t i = 0; i < leaves.size(); ++i) prim::axpy_(leaves[i], dirs[i], -s);
    return v;
  };
  const double numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
  BOOST_TEST(std::abs(analytic - numeric) <= atol + rtol * std::abs(numeric),
             fmt::format("directional derivative: analytic {:.12g} vs numeric {:.12g}", analytic, numeric));
}
