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

// Sixteen horizontal reductions at once: lane j of the result is reduce_add(v[j]) bit for bit (or
// reduce_max(v[j]), the same value unless the row holds a NaN), because each row is combined in the same tree as reduce_add (lanes i and i + 8, then
// i and i + 4, then i and i + 2, then the last pair; a sum's two operands may come swapped, which
// leaves its bits alone). Four butterfly steps: on AVX-512 each output takes a blend (which runs beside
// the arithmetic), one shuffle and the op, and the lanes end in a fixed order that one permute
// restores (31 arithmetic and shuffle operations for 16 rows); elsewhere two shuffles and the op (45).
template <class Op>
inline f32v reduce16(const f32v (&v)[16], Op op) {
#if defined(__AVX512F__)
  constexpr __mmask16 all = static_cast<__mmask16>(-1);  // mask forms: see exp()
  auto m = [](f32v a) { return reinterpret_cast<__m512>(a); };
  auto f = [](__m512 a) { return reinterpret_cast<f32v>(a); };
  f32v w[8], u[4], z[2];
  for (int k = 0; k < 8; ++k)  // lanes 0-7: row 2k, 8-15: row 2k+1, each a_i + a_(i+8)
    w[k] = op(f(_mm512_mask_blend_ps(0xFF00, m(v[2 * k]), m(v[2 * k + 1]))),
              f(_mm512_mask_shuffle_f32x4(m(v[2 * k]), all, m(v[2 * k]), m(v[2 * k + 1]), 0x4E)));
  const __m512i i2 = _mm512_setr_epi32(4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 24, 25, 26, 27);
  for (int k = 0; k < 4; ++k)  // 128-bit lanes: rows 4k, 4k+2, 4k+1, 4k+3, four partials each
    u[k] = op(f(_mm512_mask_blend_ps(0xF0F0, m(w[2 * k]), m(w[2 * k + 1]))),
              f(_mm512_permutex2var_ps(m(w[2 * k]), i2, m(w[2 * k + 1]))));
  for (int k = 0; k < 2; ++k)  // two partials for each of rows 8k .. 8k+7
    z[k] = op(f(_mm512_mask_blend_ps(0xCCCC, m(u[2 * k]), m(u[2 * k + 1]))),
              f(_mm512_mask_shuffle_ps(m(u[2 * k]), all, m(u[2 * k]), m(u[2 * k + 1]), 0x4E)));
  const __m512i i4 = _mm512_setr_epi32(1, 16, 3, 18, 5, 20, 7, 22, 9, 24, 11, 26, 13, 28, 15, 30);
  const f32v s = op(f(_mm512_mask_blend_ps(0xAAAA, m(z[0]), m(z[1]))), f(_mm512_permutex2var_ps(m(z[0]), i4, m(z[1]))));
  // lane 4q + 2p + h holds row R(q, p) + 8h with R = (0, 4), (2, 6), (1, 5), (3, 7) for q = 0..3
  const __m512i order = _mm512_setr_epi32(0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
  return f(_mm512_mask_permutexvar_ps(m(s), all, order, m(s)));
#else
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
#endif
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

#if defined(__AVX512F__)
// 2^(k/32) for k = 0..31, each the float nearest to the exact value (the two 16-lane halves of the table
// that exp() indexes with one two-source permute).
alignas(64) inline constexpr float kExp2Table[32] = {
    1.000000000e+00f, 1.021897197e+00f, 1.044273734e+00f, 1.067140460e+00f, 1.090507746e+00f, 1.114386797e+00f,
    1.138788581e+00f, 1.163724899e+00f, 1.189207077e+00f, 1.215247393e+00f, 1.241857767e+00f, 1.269050956e+00f,
    1.296839595e+00f, 1.325236678e+00f, 1.354255557e+00f, 1.383909941e+00f, 1.414213538e+00f, 1.445180774e+00f,
    1.476826191e+00f, 1.509164453e+00f, 1.542210817e+00f, 1.575980902e+00f, 1.610490322e+00f, 1.645755529e+00f,
    1.681792855e+00f, 1.718619347e+00f, 1.756252170e+00f, 1.794709086e+00f, 1.834008098e+00f, 1.874167681e+00f,
    1.915206552e+00f, 1.957144141e+00f};
#endif

// exp(x) for x <= 88 (softmax arguments x - max and log-probabilities are <= 0). -inf gives exactly 0,
// NaN stays NaN. Relative error under 2 ulp on [-87, 88] against exact exp (tests/tensor/test_simd.cpp,
// on a 1e-4 grid): the AVX-512 form's worst is 1.65e-7 over every float of that range (checked once,
// exhaustively, on 2026-11-29), the other form's 1.7e-7 on the grid.
//
// AVX-512 (ten vector operations): n = round(32 x / ln 2), r = x - n ln 2 / 32 in two parts (Cephes'
// constants; |r| <= ln 2 / 64), and e^x = 2^(n >> 5) * 2^((n & 31) / 32) * e^r: the middle factor T from a
// 32-entry table by one permute (its index is the low bits of n, already in t's mantissa), e^r = 1 + r q
// with q a degree-1 relative-minimax fit (fitted for this file), and the product formed as s + s (r q) with
// s = T 2^(n >> 5) by vscalefps (which keeps gradual underflow), one rounding at the end.
// Elsewhere (thirteen operations): n = round(x / ln 2), a degree-5 minimax polynomial for e^r on
// [-ln 2 / 2, ln 2 / 2], and 2^n built in the exponent bits (results below 2^-126 flush to zero).
inline f32v exp(f32v x) {
#if defined(__AVX512F__)
  // x clamped at -110 (2^-159: scalef rounds it to +0, so a -inf mask gives exactly 0). vmaxps returns its
  // second operand when either is NaN, so NaN passes through. Mask forms here and below: GCC 12's unmasked
  // forms trip -Wmaybe-uninitialized on their own placeholder operand.
  constexpr __mmask16 all = static_cast<__mmask16>(-1);
  const __m512 low = _mm512_set1_ps(-110.0f);
  const f32v xc = reinterpret_cast<f32v>(_mm512_mask_max_ps(low, all, low, reinterpret_cast<__m512>(x)));
  const f32v t = xc * 46.1662413084468283f + 12582912.0f;  // 32 / ln 2; 1.5 * 2^23 rounds to an integer n
  const f32v n32 = t * 0.03125f - 393216.0f;                // n / 32 exactly (an exact value, rounded once)
  f32v r = xc - n32 * 0.693359375f;                          // exact (n has <= 13 bits, the constant 9)
  r = r + n32 * 2.12194440e-4f;
  const f32v rq = (r * 0.5000001788139343f + 1.0000146627426147f) * r;  // e^r - 1
  const __m512 tab = _mm512_permutex2var_ps(_mm512_load_ps(kExp2Table), reinterpret_cast<__m512i>(t),
                                            _mm512_load_ps(kExp2Table + 16));
  const __m512 s = _mm512_mask_scalef_ps(tab, all, tab, reinterpret_cast<__m512>(n32));  // 2^floor(n / 32) T
  return reinterpret_cast<f32v>(_mm512_fmadd_ps(s, reinterpret_cast<__m512>(rq), s));
#else
  constexpr float kLow = -88.0f;  // keeps n >= -127, where 2^n's bits become +0
  const f32v xc = x < kLow ? splat(kLow) : x;
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
  // t's low mantissa bits hold n; (n + 127) << 23 is 2^n as a float.
  return p * reinterpret_cast<f32v>((reinterpret_cast<i32v>(t) - (0x4B400000 - 127)) << 23);
#endif
}

}  // namespace wb::cpu::simd
