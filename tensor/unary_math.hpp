// The scalar math of every unary map of prim::Unary, defined once for all backends: value<op>(x, p) is
// the forward map, grad<op>(dy, saved, p) the fused backward dx = dy * f'(.), where `saved` is the
// input x or the output y as prim::unary_backward documents (reads_saved(op) says whether it is read
// at all). Host code and nvcc both compile these (WB_HOST_DEVICE marks them __host__ __device__ under
// nvcc), so tensor/cpu/elementwise.cpp and a CUDA kernel compute the same expressions in the same
// order. visit(op, f) turns a runtime op into a compile-time one, so a backend writes one loop and
// gets one plain, vectorizable instantiation per op.
#pragma once

#include <cmath>
#include <type_traits>

#include "tensor/prim.hpp"

#if defined(__CUDACC__)
#define WB_HOST_DEVICE __host__ __device__
#else
#define WB_HOST_DEVICE
#endif

namespace wb::unary_math {

using U = prim::Unary;

template <class T>
WB_HOST_DEVICE inline T gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2)));
}

template <class T>
WB_HOST_DEVICE inline T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
  const T pdf = std::exp(T(-0.5) * x * x) * T(0.3989422804014327);  // 1/sqrt(2 pi)
  return cdf + x * pdf;
}

template <U op, class T>
WB_HOST_DEVICE inline T value(T v, T p) {
  if constexpr (op == U::neg) return -v;
  else if constexpr (op == U::exp) return std::exp(v);
  else if constexpr (op == U::log) return std::log(v);
  else if constexpr (op == U::sqrt) return std::sqrt(v);
  else if constexpr (op == U::abs) return std::abs(v);
  else if constexpr (op == U::sign) return T((v > T(0)) - (v < T(0)));
  else if constexpr (op == U::relu) return v > T(0) ? v : T(0);
  else if constexpr (op == U::gelu) return gelu(v);
  else if constexpr (op == U::tanh) return std::tanh(v);
  else if constexpr (op == U::square) return v * v;
  else if constexpr (op == U::reciprocal) return T(1) / v;
  else if constexpr (op == U::pow) return std::pow(v, p);
  else if constexpr (op == U::add_scalar) return v + p;
  else if constexpr (op == U::mul_scalar) return v * p;
  else if constexpr (op == U::soft_threshold) return v > p ? v - p : T(0);
  else {
    static_assert(op == U::gt_scalar, "unary_math::value: an op of prim::Unary has no scalar map");
    return v > p ? T(1) : T(0);
  }
}

// True when grad<op> reads `saved`; the others are constant in x (or linear) and ignore it.
WB_HOST_DEVICE constexpr bool reads_saved(U op) {
  return !(op == U::neg || op == U::add_scalar || op == U::mul_scalar || op == U::sign || op == U::gt_scalar);
}

template <U op, class T>
WB_HOST_DEVICE inline T grad(T g, T s, T p) {
  if constexpr (op == U::relu || op == U::soft_threshold) return s > T(0) ? g : T(0);  // s = y or x
  else if constexpr (op == U::abs) return s > T(0) ? g : (s < T(0) ? -g : T(0));    // s = x
  else if constexpr (op == U::gelu) return g * gelu_grad(s);                          // s = x
  else if constexpr (op == U::tanh) return g * (T(1) - s * s);                        // s = y
  else if constexpr (op == U::exp) return g * s;                                      // s = y
  else if constexpr (op == U::log) return g / s;                                      // s = x
  else if constexpr (op == U::sqrt) return g * T(0.5) / s;                            // s = y
  else if constexpr (op == U::pow) return g * p * std::pow(s, p - T(1));              // s = x
  else if constexpr (op == U::reciprocal) return -g * s * s;                          // s = y
  else if constexpr (op == U::square) return T(2) * s * g;                            // s = x
  else if constexpr (op == U::neg) return -g;
  else if constexpr (op == U::add_scalar) return g;
  else if constexpr (op == U::mul_scalar) return g * p;
  else {
    static_assert(op == U::sign || op == U::gt_scalar, "unary_math::grad: an op of prim::Unary has no derivative");
    return T(0);
  }
}

// f(std::integral_constant<prim::Unary, op>{}) for the runtime op.
template <class F>
WB_HOST_DEVICE void visit(U op, F&& f) {  // f returns void
  switch (op) {
    case U::neg: return f(std::integral_constant<U, U::neg>{});
    case U::exp: return f(std::integral_constant<U, U::exp>{});
    case U::log: return f(std::integral_constant<U, U::log>{});
    case U::sqrt: return f(std::integral_constant<U, U::sqrt>{});
    case U::abs: return f(std::integral_constant<U, U::abs>{});
    case U::sign: return f(std::integral_constant<U, U::sign>{});
    case U::relu: return f(std::integral_constant<U, U::relu>{});
    case U::gelu: return f(std::integral_constant<U, U::gelu>{});
    case U::tanh: return f(std::integral_constant<U, U::tanh>{});
    case U::square: return f(std::integral_constant<U, U::square>{});
    case U::reciprocal: return f(std::integral_constant<U, U::reciprocal>{});
    case U::pow: return f(std::integral_constant<U, U::pow>{});
    case U::add_scalar: return f(std::integral_constant<U, U::add_scalar>{});
    case U::mul_scalar: return f(std::integral_constant<U, U::mul_scalar>{});
    case U::soft_threshold: return f(std::integral_constant<U, U::soft_threshold>{});
    case U::gt_scalar: return f(std::integral_constant<U, U::gt_scalar>{});
  }
}

}  // namespace wb::unary_math
