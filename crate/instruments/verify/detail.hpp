// Internal to verify/: the small f64 helpers the three checks share (prim:: calls, no graph), so
// each check is written from its definition with code independent of the modules it checks.
// Tokens are rows: Z (N, d); U (K, p, d) as ops::compressed_coding_rate takes it.
#pragma once

#include <algorithm>
#include <cmath>

#include "autograd/engine.hpp"
#include "ops/coding_rate.hpp"
#include "tensor/prim.hpp"

namespace wb::crate::verify_detail {

inline Tensor mm(const Tensor& a, const Tensor& b) { return prim::matmul(a, b); }
inline Tensor tr(const Tensor& a) { return prim::contiguous(prim::transpose(a, -1, -2)); }
inline Tensor scaled(const Tensor& a, double s) { return prim::unary(prim::Unary::mul_scalar, a, s); }
inline Tensor plus(const Tensor& a, const Tensor& b) { return prim::binary(prim::Binary::add, a, b); }
inline Tensor minus(const Tensor& a, const Tensor& b) { return prim::binary(prim::Binary::sub, a, b); }
inline double dot(const Tensor& a, const Tensor& b) { return prim::sum_all(prim::binary(prim::Binary::mul, a, b)); }
inline double norm(const Tensor& a) { return std::sqrt(dot(a, a)); }
inline double max_abs(const Tensor& a) {
  double m = 0.0;
  for (const double v : prim::cast(a, DType::f64).to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// Exact gradient of R^c(Z | U) (paper convention, distortion eps) by autograd through the op.
inline Tensor rc_gradient(const Tensor& z, const Tensor& u, double eps) {
  Tensor zz = prim::clone(z);
  zz.requires_grad_(true);
  autograd::backward(ops::compressed_coding_rate(zz, u, eps));
  return zz.grad();
}

// bases (K, d, p) (U_k as columns) -> the op's U (K, p, d).
inline Tensor op_subspaces(const Tensor& bases) { return tr(bases); }

}  // namespace wb::crate::verify_detail
