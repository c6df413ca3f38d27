// Elementwise CPU kernels: unary maps and their fused backwards, broadcasting binary maps, axpy and
// masked fill. The op switch sits outside each loop so every inner loop is a plain, vectorizable map;
// the scalar math of the unary maps is tensor/unary_math.hpp's, shared with the CUDA backend.
#include <cmath>
#include <stdexcept>

#include "tensor/cpu/strided.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/unary_math.hpp"

namespace wb::cpu {
namespace {

constexpr std::int64_t kGrain = 1 << 15;

template <class T, class F>
void map1(const T* x, T* y, std::int64_t n, F f) {
  parallel_for(n, kGrain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

template <class T, class F>
void map2(const T* a, const T* b, T* y, std::int64_t n, F f) {
  parallel_for(n, kGrain, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t i = s; i < e; ++i) y[i] = f(a[i], b[i]);
  });
}

// One loop per op: the scalar maps come from tensor/unary_math.hpp, the one definition every backend uses.
template <class T>
void unary_t(prim::Unary op, const T* x, T* y, std::int64_t n, T p) {
  unary_math::visit(op, [&](auto c) {
    map1(x, y, n, [p](T v) { return unary_math::value<decltype(c)::value>(v, p); });
  });
}

template <class T>
void unary_backward_t(prim::Unary op, const T* dy, const T* s, T* dx, std::int64_t n, T p) {
  unary_math::visit(op, [&](auto c) {
    constexpr prim::Unary o = decltype(c)::value;
    if constexpr (unary_math::reads_saved(o))
      map2(dy, s, dx, n, [p](T g, T v) { return unary_math::grad<o>(g, v, p); });
    else
      map1(dy, dx, n, [p](T g) { return unary_math::grad<o>(g, T(0), p); });
  });
}

// One inner run of a broadcasting binary map, specialized on unit/zero strides.
template <class T, class F>
inline void run2(T* o, const T* a, std::int64_t sa, const T* b, std::int64_t sb, std::int64_t len, F f) {
  if (sa == 1 && sb == 1) {
    for (std::int64_t i = 0; i < len; ++i) o[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const T bv = *b;
    for (std::int64_t i = 0; i < len; ++i) o[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const T av = *a;
    for (std::int64_t i = 0; i < len; ++i) o[i] = f(av, b[i]);
  } else {
    for (std::int64_t i = 0; i < len; ++i) o[i] = f(a[i * sa], b[i * sb]);
  }
}

template <class T, class F>
void binary_map(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* po = static_cast<T*>(out.raw_data());
  const StridedLayout<3> lay(out.shape(), {out.strides(), a.strides(), b.strides()});
  parallel_for(out.numel(), kGrain, [&](std::int64_t s, std::int64_t e) {
    lay.for_each_run(s, e, [&](const auto& off, const auto& inc, std::int64_t len) {
      if (inc[0] == 1)
        run2(po + off[0], pa + off[1], inc[1], pb + off[2], inc[2], len, f);
      else
        for (std::int64_t i = 0; i < len; ++i) po[off[0] + i * inc[0]] = f(pa[off[1] + i * inc[1]], pb[off[2] + i * inc[2]]);
    });
  });
}

template <class T>
void binary_t(prim::Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  using B = prim::Binary;
  switch (op) {
    case B::add: return binary_map<T>(a, b, out, [](T x, T y) { return x + y; });
    case B::sub: return binary_map<T>(a, b, out, [](T x, T y) { return x - y; });
    case B::mul: return binary_map<T>(a, b, out, [](T x, T y) { return x * y; });
    case B::div: return binary_map<T>(a, b, out, [](T x, T y) { return x / y; });
    case B::maximum: return binary_map<T>(a, b, out, [](T x, T y) { return x > y ? x : y; });
    case B::minimum: return binary_map<T>(a, b, out, [](T x, T y) { return x < y ? x : y; });
    case B::pow: return binary_map<T>(a, b, out, [](T x, T y) { return std::pow(x, y); });
    case B::eq: return binary_map<T>(a, b, out, [](T x, T y) { return x == y ? T(1) : T(0); });
    case B::gt: return binary_map<T>(a, b, out, [](T x, T y) { return x > y ? T(1) : T(0); });
    case B::lt: return binary_map<T>(a, b, out, [](T x, T y) { return x < y ? T(1) : T(0); });
  }
}

}  // namespace

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
void unary<Device::CPU>(prim::Unary op, const Tensor& x, const Tensor& out, double p) {
  dispatch_floating(x.dtype(), "unary", [&](auto tag) {
    using T = typename decltype(tag)::type;
    unary_t<T>(op, static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()), x.numel(), static_cast<T>(p));
  });
}

template <>
void unary_backward<Device::CPU>(prim::Unary op, const Tensor& dy, const Tensor& saved, const Tensor& dx, double p) {
  dispatch_floating(dy.dtype(), "unary_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    unary_backward_t<T>(op, static_cast<const T*>(dy.raw_data()),
                        saved.defined() ? static_cast<const T*>(saved.raw_data()) : nullptr,
                        static_cast<T*>(dx.raw_data()), dy.numel(), static_cast<T>(p));
  });
}

template <>
void binary<Device::CPU>(prim::Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating(out.dtype(), "binary", [&](auto tag) {
    using T = typename decltype(tag)::type;
    binary_t<T>(op, a, b, out);
  });
}

template <>
void axpy<Device::CPU>(const Tensor& y, const Tensor& x, double alpha) {
  dispatch_floating(y.dtype(), "axpy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = static_cast<T*>(y.raw_data());
    const T* px = static_cast<const T*>(x.raw_data());
    const T al = static_cast<T>(alpha);
    parallel_for(y.numel(), kGrain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) py[i] += al * px[i];
    });
  });
}

template <>
void masked_fill<Device::CPU>(const Tensor& x, const Tensor& mask, double value, const Tensor& out) {
  dispatch_floating(out.dtype(), "masked_fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_all(mask.dtype(), [&](auto mtag) {
      using M = typename decltype(mtag)::type;
      const T* px = static_cast<const T*>(x.raw_data());
      const M* pm = static_cast<const M*>(mask.raw_data());
      T* po = static_cast<T*>(out.raw_data());
      const T v = static_cast<T>(value);
      const StridedLayout<3> lay(out.shape(), {out.strides(), x.strides(), mask.strides()});
      parallel_for(out.numel(), kGrain, [&](std::int64_t s, std::int64_t e) {
        lay.for_each_run(s, e, [&](const auto& off, const auto& inc, std::int64_t len) {
          for (std::int64_t i = 0; i < len; ++i)
            po[off[0] + i * inc[0]] = pm[off[2] + i * inc[2]] != M(0) ? v : px[off[1] + i * inc[1]];
        });
      });
    });
  });
}

}  // namespace wb::kernel
