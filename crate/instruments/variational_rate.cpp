#include "crate/instruments/variational_rate.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "tensor/prim.hpp"

namespace wb::crate {

Tensor variational_rate(const Tensor& w, const Tensor& assignment, std::int64_t heads, double e2) {
  using prim::Binary;
  using prim::Unary;
  if (w.dim() != 3 || heads <= 0 || w.size(2) % heads != 0 ||
      (assignment.defined() && assignment.shape() != Shape{w.size(0), w.size(1), heads}))
    throw std::invalid_argument(fmt::format("variational_rate: features (B, n, K p) with K = {} heads and an assignment "
                                            "(B, n, K) expected, got {} and {}",
                                            heads, shape_str(w.shape()),
                                            assignment.defined() ? shape_str(assignment.shape()) : "none"));
  const std::int64_t b = w.size(0), n = w.size(1), p = w.size(2) / heads;
  const Tensor w4 = prim::reshape(prim::cast(w, DType::f64), {b, n, heads, p});
  const Tensor sq = prim::binary(Binary::mul, w4, w4);
  const Tensor norm2 = prim::binary(Binary::maximum, prim::sum(sq, {3}, true), Tensor::scalar(1e-24, DType::f64));
  const Tensor hat = prim::binary(Binary::div, sq, norm2);
  const Tensor pi = assignment.defined() ? prim::cast(assignment, DType::f64) : Tensor::ones({b, n, heads}, DType::f64);
  const Tensor nk = prim::sum(pi, {1}, true);  // (B, 1, K)
  const Tensor x = prim::binary(Binary::div, prim::sum(prim::binary(Binary::mul, hat, prim::unsqueeze(pi, 3)), {1}, true),
                                prim::unsqueeze(nk, 3));  // (B, 1, K, p)
  const Tensor f = prim::unary(Unary::log, prim::unary(Unary::add_scalar,
                                                       prim::unary(Unary::mul_scalar, x, static_cast<double>(p) / e2), 1.0));
  const Tensor per_head = prim::sum(f, {3});  // (B, 1, K)
  const Tensor weighted = prim::binary(Binary::mul, per_head, prim::unary(Unary::mul_scalar, nk, 0.5 / static_cast<double>(n)));
  return prim::sum(weighted, {1, 2});
}


}  // namespace wb::crate
