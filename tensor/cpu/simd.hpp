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

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

// Sixteen horizontal reductions at once: lane j of the result is reduce_add(v[j]) (or reduce_max),
// bit for bit, because each row is combined in the same tree as reduce_add (lanes i and i + 8, then
// i and i + 4, then i and i + 2, then the last pair). Four butterfly steps of two-source shuffles
// (15 operations and 30 shuffles for 16 rows, against about 7 operations a row one by one, and no
// trip through a scalar).
template <class Op>
inline f32v reduce16(const f32v (&v)[16], Op op) {
  f32v w[8], u[4], z[2];
  for (int k = 0; k < 8; ++k)  // lanes 0-7: row 2k, 8-15: row 2k+1, each a_i + a_(i+8)
    w[k] = op(__builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
              __builtin_shufflevector(v[2 * k], v[2 * k + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
  for (int k = 0; k < 4; ++k)  // four lanes for each of rows 4k .. 4k+3
    u[k] = op(__builtin_shufflevector(w[2 * k], w[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27),
              __builtin_shufflevector(w[2 * k], w[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31));
  for (int k = 0; k < 2; ++k)  // two lanes for each of rows 8k .. 8k+7
    z[k] = op(__builtin_shufflevector(u[2 * k], u[2 * k + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29),
              __builtin_shufflevector(u[2 * k], u[2 * k + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31));
  return op(__builtin_shufflevector(z[0], z[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
            __builtin_shufflevector(z[0], z[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
}
inline f32v reduce16_add(const f32v (&v)[16]) {
  return reduce16(v, [](f32v a, f32v b) { return a + b; });
}
inline f32v reduce16_max(const f32v (&v)[16]) {
  return reduce16(v, [](f32v a, f32v b) { return max(a, b); });
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
// r = x - n ln 2 in two parts (Cephes' constants), then a degree-5 polynomial for e^r on
// [-ln 2 / 2, ln 2 / 2] (relative-error minimax, fitted for this file), scaled by 2^n. Eleven vector
// operations on AVX-512 (vscalefps builds 2^n and keeps gradual underflow), thirteen elsewhere (2^n
// built in the exponent bits; results below 2^-126 flush to zero). Max relative error 1.7e-7 (about
// 1.5 ulp) on [-87, 88] against exact exp (checked by tests/tensor/test_simd.cpp); -inf gives exactly
// 0 and NaN stays NaN.
inline f32v exp(f32v x) {
#if defined(__AVX512F__)
  constexpr float kLow = -110.0f;  // 2^-159: scalef rounds it to +0, so -inf (a mask) gives exactly 0
  // vmaxps returns its second operand when either is NaN: NaN passes through (compare + blend costs
  // a mask register and a cycle more). Mask forms here and below: GCC 12's unmasked forms trip
  // -Wmaybe-uninitialized on their own placeholder operand.
  const __m512 low = _mm512_set1_ps(kLow);
  const f32v xc = reinterpret_cast<f32v>(_mm512_mask_max_ps(low, static_cast<__mmask16>(-1), low, reinterpret_cast<__m512>(x)));
#else
  constexpr float kLow = -88.0f;  // keeps n >= -127, where 2^n's bits become +0
  const f32v xc = x < kLow ? splat(kLow) : x;
#endif
  const f32v t = xc * 1.44269504088896341f + 12582912.0f;  // 1.5 * 2^23: rounds x / ln 2 to an integer
  const f32v n = t - 12582912.0f;
  f32v r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  f32v p = splat(8.2763377577e-3f);
  p = p * r + 4.1898030788e-2f;
  p = p * r + 1.6667868197e-1f;
  p = p * r + 4.9999147654e-1f;
  p = p * r + 9.9999964237e-1f;
  p = p * r + 1.0f;
#if defined(__AVX512F__)
  const __m512 pm = reinterpret_cast<__m512>(p);
  return reinterpret_cast<f32v>(_mm512_mask_scalef_ps(pm, static_cast<__mmask16>(-1), pm, reinterpret_cast<__m512>(n)));
#else
  // t's low mantissa bits hold n; (n + 127) << 23 is 2^n as a float.
  return p * reinterpret_cast<f32v>((reinterpret_cast<i32v>(t) - (0x4B400000 - 127)) << 23);
#endif
}

}  // namespace wb::cpu::simd
