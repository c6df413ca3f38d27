// Portable SIMD helpers for the float row kernels (softmax, layer_norm): 16-lane vectors written with
// the GCC/Clang vector extension, so one source compiles to AVX-512, AVX2 (two halves) or NEON.
//
// The row kernels need three things plain loops do not give without -ffast-math: lane-parallel
// reductions (sum, max) whose order is fixed by the row length alone, so results never depend on the
// thread count; a vectorized exp; and widening float lanes to double for statistics. A row of length r
// is covered by r / W full vectors plus, when r % W != 0, one last vector that overlaps the previous
// one and ends at r (rows shorter than W take the scalar path in each kernel); keep_last() masks the
// overlapped lanes out of a reduction.
#pragma once

#include <cstdint>
#include <cstring>

namespace wb::cpu::simd {

constexpr int W = 16;  // lanes per vector

typedef float f32v __attribute__((vector_size(64)));
typedef std::int32_t i32v __attribute__((vector_size(64)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x4 __attribute__((vector_size(16)));
typedef double f64v __attribute__((vector_size(64)));  // 8 doubles
typedef double f64x4 __attribute__((vector_size(32)));
typedef double f64x2 __attribute__((vector_size(16)));

inline f32v load(const float* p) {
  f32v v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, f32v v) { std::memcpy(p, &v, sizeof v); }
inline f32v splat(float a) { return f32v{} + a; }
inline f32v max(f32v a, f32v b) { return a < b ? b : a; }

// v where lane >= W - tail (the `tail` lanes past the previous full vector), `fill` elsewhere.
inline f32v keep_last(f32v v, int tail, float fill) {
  const i32v lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return lane >= W - tail ? v : splat(fill);
}

// The same for the low (lanes 0-7) and high (lanes 8-15) halves of a vector widened to double.
typedef std::int64_t i64v __attribute__((vector_size(64)));
inline f64v keep_last_lo(f64v v, int tail) {
  const i64v lane = {0, 1, 2, 3, 4, 5, 6, 7};
  return lane >= W - tail ? v : f64v{};
}
inline f64v keep_last_hi(f64v v, int tail) {
  const i64v lane = {8, 9, 10, 11, 12, 13, 14, 15};
  return lane >= W - tail ? v : f64v{};
}

// Horizontal reductions in a fixed tree order.
inline float reduce_add(f32v v) {
  const f32x8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                  __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const f32x4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return (b[0] + b[2]) + (b[1] + b[3]);
}
inline float reduce_max(f32v v) {
  const f32x8 x = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  const f32x8 y = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const f32x8 a = x < y ? y : x;
  const f32x4 p = __builtin_shufflevector(a, a, 0, 1, 2, 3), q = __builtin_shufflevector(a, a, 4, 5, 6, 7);
  const f32x4 b = p < q ? q : p;
  const float m0 = b[0] < b[2] ? b[2] : b[0], m1 = b[1] < b[3] ? b[3] : b[1];
  return m0 < m1 ? m1 : m0;
}
inline double reduce_add(f64v v) {
  const f64x4 a = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  const f64x2 b = __builtin_shufflevector(a, a, 0, 1) + __builtin_shufflevector(a, a, 2, 3);
  return b[0] + b[1];
}

// 8 floats at p widened to double (the load folds into the conversion: no shuffle).
inline f64v load_widen(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, f64v);
}
inline void store(double* p, f64v v) { std::memcpy(p, &v, sizeof v); }
inline f64v load(const double* p) {
  f64v v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The low and high 8 lanes widened to double.
inline f64v lo_f64(f32v v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), f64v); }
inline f64v hi_f64(f32v v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15), f64v);
}

// exp(x) for x <= 88 (softmax arguments x - max and log-probabilities are <= 0): n = round(x / ln 2),
// r = x - n ln 2 in two parts (Cephes' constants), the Cephes expf polynomial, scaled by 2^n built in the
// exponent bits. Max relative error 1.2e-7 (about 1 ulp) on [-87.3, 0] against exact exp; results
// below about 2^-126.5 (x < -87.7) flush to 0, -inf gives 0 and NaN stays NaN.
inline f32v exp(f32v x) {
  const f32v xc = x < -88.0f ? splat(-88.0f) : x;  // keeps n >= -127, where 2^n's bits become +0
  const f32v t = xc * 1.44269504088896341f + 12582912.0f;  // 1.5 * 2^23: rounds x / ln 2 to an integer
  const f32v n = t - 12582912.0f;
  f32v r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  f32v p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + (r + 1.0f);
  // t's low mantissa bits hold n; (n + 127) << 23 is 2^n as a float.
  return p * reinterpret_cast<f32v>((reinterpret_cast<i32v>(t) - (0x4B400000 - 127)) << 23);
}

}  // namespace wb::cpu::simd
