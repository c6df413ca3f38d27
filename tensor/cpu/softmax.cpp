// Stable softmax / log-softmax over the middle axis of (outer, r, inner), fused forward and backward.
//   softmax:      y = exp(x - max) / sum exp(x - max)        dx = y * (dy - sum(dy * y))
//   log_softmax:  y = x - max - log sum exp(x - max)         dx = dy - exp(y) * sum(dy)
//
// Float rows along the last axis (inner == 1) of length >= simd::W take a vectorized path: blocks of
// kBlock rows, one pass per step over the block (maxima, then exp and sums, then normalization), so the
// rows' dependency chains overlap instead of running one after another. Its exp is simd::exp (about
// 1.5 ulp), its sums run in 16 lanes in a fixed order. Other layouts, short rows and float64 take the
// scalar loops below them.
//
// With AVX-512, softmax over full blocks of 16 rows of length 16..256 (attention maps: 50 or 65 tokens)
// runs its exp and normalization passes over the block as one flat array: 16 rows of r floats are
// exactly r vectors, and a lane's row maximum or scale comes from a 16-lane register by a permute
// through a per-r table of lane -> row indices. Rows of 50 then cost 50 exps per 16 rows instead of 64
// (four vectors a row), and the passes are loops without reductions: 1.6x the row-by-row speed
// (docs/PERFORMANCE.md). Maxima and sums still run row by row, with the same code and order as the
// row path, so every row gets the same bits whichever path (and thread split) it takes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/cpu/kernels.hpp"
#include "tensor/cpu/simd.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

constexpr std::int64_t kBlock = 16;

// Lane-wise maximum over the vectors of a row of length r >= simd::W (the last one overlapping).
inline simd::f32v row_max_lanes(const float* px, std::int64_t r, std::int64_t full, int tail) {
  using namespace simd;
  f32v m = load(px);
  for (std::int64_t i = W; i < full; i += W) m = max(m, load(px + i));
  if (tail) m = max(m, load(px + r - W));
  return m;
}

// The shift of a row of length r >= simd::W: its maximum, or 0 for a fully masked row (keeps exps finite).
inline float row_shift(const float* px, std::int64_t r, std::int64_t full, int tail) {
  const float mx = simd::reduce_max(row_max_lanes(px, r, full, tail));
  return mx == -std::numeric_limits<float>::infinity() ? 0.0f : mx;
}

// y = softmax or log_softmax of each row of x (rows, r), r >= simd::W.
void softmax_rows_f32(const float* x, float* y, std::int64_t rows, std::int64_t r, bool log) {
  using namespace simd;
  const std::int64_t full = r / W * W;
  const int tail = static_cast<int>(r - full);
  float shift[kBlock], scale[kBlock];
  for (std::int64_t b0 = 0; b0 < rows; b0 += kBlock) {
    const std::int64_t nb = std::min(kBlock, rows - b0);
    for (std::int64_t j = 0; j < nb; ++j) shift[j] = row_shift(x + (b0 + j) * r, r, full, tail);
    for (std::int64_t j = 0; j < nb; ++j) {
      const float* px = x + (b0 + j) * r;
      float* py = y + (b0 + j) * r;
      const float mx = shift[j];
      f32v s = splat(0.0f);
      if (log) {
        for (std::int64_t i = 0; i < full; i += W) s += exp(load(px + i) - mx);
        if (tail) s += keep_last(exp(load(px + r - W) - mx), tail, 0.0f);
        const float t = reduce_add(s);  // 0 only for a fully masked row: log_softmax -inf, not NaN
        scale[j] = t > 0.0f ? mx + std::log(t) : mx;  // log-sum-exp
      } else {
        for (std::int64_t i = 0; i < full; i += W) {
          const f32v v = exp(load(px + i) - mx);
          store(py + i, v);
          s += v;
        }
        if (tail) {
          const f32v v = exp(load(px + r - W) - mx);  // overlapping lanes get the same values again
          store(py + r - W, v);
          s += keep_last(v, tail, 0.0f);
        }
        const float t = reduce_add(s);
        scale[j] = t > 0.0f ? 1.0f / t : 0.0f;  // a fully masked row gives zeros, not NaN
      }
    }
    for (std::int64_t j = 0; j < nb; ++j) {
      const float* px = x + (b0 + j) * r;
      float* py = y + (b0 + j) * r;
      const float q = scale[j];
      if (log) {
        for (std::int64_t i = 0; i < full; i += W) store(py + i, load(px + i) - q);
        if (tail) store(py + r - W, load(px + r - W) - q);
      } else {
        const f32v last = tail ? load(py + r - W) : f32v{};  // read before the full vectors are scaled
        for (std::int64_t i = 0; i < full; i += W) store(py + i, load(py + i) * q);
        if (tail) store(py + r - W, last * q);
      }
    }
  }
}

#if defined(__AVX512F__)
constexpr std::int64_t kFlatMaxRow = 256;
constexpr __mmask16 kAll = static_cast<__mmask16>(-1);  // mask forms: see simd::exp

// softmax of rows (rows a multiple of 16) of length 16 <= r <= kFlatMaxRow; x and y may alias.
void softmax_rows_f32_flat(const float* x, float* y, std::int64_t rows, std::int64_t r) {
  using namespace simd;
  const std::int64_t full = r / W * W;
  const int tail = static_cast<int>(r - full);
  // lane l of vector v in a block belongs to row (16 v + l) / r
  thread_local std::vector<std::int32_t> lane_row;
  if (lane_row.size() != static_cast<std::size_t>(W * r)) {
    lane_row.resize(static_cast<std::size_t>(W * r));
    for (std::int64_t k = 0; k < W * r; ++k) lane_row[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(k / r);
  }
  const std::int32_t* idx = lane_row.data();
  const f32v neg_inf = splat(-std::numeric_limits<float>::infinity()), zero = splat(0.0f);
  for (std::int64_t b0 = 0; b0 < rows; b0 += kBlock) {
    const float* bx = x + b0 * r;
    float* by = y + b0 * r;
    f32v part[kBlock];  // per row: lane-wise max, then lane-wise sum, in the row path's order
    for (std::int64_t j = 0; j < kBlock; ++j) part[j] = row_max_lanes(bx + j * r, r, full, tail);
    f32v shift = reduce16_max(part);  // lane j: row j's maximum (row_shift, 16 rows at once)
    shift = shift == neg_inf ? zero : shift;
    const __m512 sh = reinterpret_cast<__m512>(shift);
    for (std::int64_t v = 0; v < r; ++v) {
      const __m512 m = _mm512_mask_permutexvar_ps(sh, kAll, _mm512_loadu_si512(idx + W * v), sh);
      store(by + W * v, exp(load(bx + W * v) - reinterpret_cast<f32v>(m)));
    }
    for (std::int64_t j = 0; j < kBlock; ++j) {
      const float* py = by + j * r;
      f32v t = splat(0.0f);
      for (std::int64_t i = 0; i < full; i += W) t += load(py + i);
      if (tail) t += keep_last(load(py + r - W), tail, 0.0f);
      part[j] = t;
    }
    const f32v sum = reduce16_add(part);  // lane j: the row path's reduce_add of row j, bit for bit
    const __m512 sc = reinterpret_cast<__m512>(sum > 0.0f ? 1.0f / sum : zero);  // fully masked: zeros
    for (std::int64_t v = 0; v < r; ++v) {
      const __m512 q = _mm512_mask_permutexvar_ps(sc, kAll, _mm512_loadu_si512(idx + W * v), sc);
      store(by + W * v, load(by + W * v) * reinterpret_cast<f32v>(q));
    }
  }
}
#endif

// softmax or log_softmax of rows of length r >= simd::W, by the fastest path that applies.
void softmax_rows_f32_any(const float* x, float* y, std::int64_t rows, std::int64_t r, bool log) {
#if defined(__AVX512F__)
  if (!log && r <= kFlatMaxRow && rows >= kBlock) {
    const std::int64_t flat_rows = rows / kBlock * kBlock;
    softmax_rows_f32_flat(x, y, flat_rows, r);
    x += flat_rows * r, y += flat_rows * r, rows -= flat_rows;
  }
#endif
  if (rows > 0) softmax_rows_f32(x, y, rows, r, log);
}

// dx of softmax (dx = y (dy - sum dy y)) or log_softmax (dx = dy - exp(y) sum dy) for rows r >= simd::W.
void softmax_backward_rows_f32(const float* dy, const float* y, float* dx, std::int64_t rows, std::int64_t r,
                               bool log) {
  using namespace simd;
  const std::int64_t full = r / W * W;
  const int tail = static_cast<int>(r - full);
  float dot[kBlock];
  for (std::int64_t b0 = 0; b0 < rows; b0 += kBlock) {
    const std::int64_t nb = std::min(kBlock, rows - b0);
    for (std::int64_t j = 0; j < nb; ++j) {
      const std::int64_t o = (b0 + j) * r;
      f32v s = splat(0.0f);
      if (log) {
        for (std::int64_t i = 0; i < full; i += W) s += load(dy + o + i);
        if (tail) s += keep_last(load(dy + o + r - W), tail, 0.0f);
      } else {
        for (std::int64_t i = 0; i < full; i += W) s += load(dy + o + i) * load(y + o + i);
        if (tail) s += keep_last(load(dy + o + r - W) * load(y + o + r - W), tail, 0.0f);
      }
      dot[j] = reduce_add(s);
    }
    for (std::int64_t j = 0; j < nb; ++j) {
      const std::int64_t o = (b0 + j) * r;
      const float s = dot[j];
      auto at = [&](std::int64_t i) {
        const f32v g = load(dy + o + i), v = load(y + o + i);
        store(dx + o + i, log ? g - exp(v) * s : v * (g - s));  // overlapping tail lanes: same values
      };
      for (std::int64_t i = 0; i < full; i += W) at(i);
      if (tail) at(r - W);
    }
  }
}

// One row of length r with stride `inner` (scalar path). x and y may alias.
template <class T>
void softmax_scalar(const T* px, T* py, std::int64_t r, std::int64_t inner, bool log) {
  T mx = -std::numeric_limits<T>::infinity();
  for (std::int64_t k = 0; k < r; ++k) mx = std::max(mx, px[k * inner]);
  if (mx == -std::numeric_limits<T>::infinity()) mx = 0;  // fully masked row: keep it finite
  T s = 0;
  if (log) {
    for (std::int64_t k = 0; k < r; ++k) s += std::exp(px[k * inner] - mx);
    const T lse = s > T(0) ? mx + std::log(s) : mx;  // fully masked: -inf outputs, not NaN
    for (std::int64_t k = 0; k < r; ++k) py[k * inner] = px[k * inner] - lse;
  } else {
    for (std::int64_t k = 0; k < r; ++k) {
      const T v = std::exp(px[k * inner] - mx);
      py[k * inner] = v;
      s += v;
    }
    const T inv = s > T(0) ? T(1) / s : T(0);  // fully masked: zeros, not NaN
    for (std::int64_t k = 0; k < r; ++k) py[k * inner] *= inv;
  }
}

template <class T>
void softmax_backward_scalar(const T* dy, const T* y, T* dx, std::int64_t r, std::int64_t inner, bool log) {
  T s = 0;
  if (log) {
    for (std::int64_t k = 0; k < r; ++k) s += dy[k * inner];
    for (std::int64_t k = 0; k < r; ++k) dx[k * inner] = dy[k * inner] - std::exp(y[k * inner]) * s;
  } else {
    for (std::int64_t k = 0; k < r; ++k) s += dy[k * inner] * y[k * inner];
    for (std::int64_t k = 0; k < r; ++k) dx[k * inner] = y[k * inner] * (dy[k * inner] - s);
  }
}

template <class T>
void softmax_t(const T* x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log, T* y) {
  if constexpr (std::is_same_v<T, float>) {
    if (inner == 1 && r >= simd::W) {
      parallel_for(outer, std::max<std::int64_t>(kBlock, 8192 / r), [&](std::int64_t b, std::int64_t e) {
        softmax_rows_f32_any(x + b * r, y + b * r, e - b, r, log);
      });
      return;
    }
  }
  parallel_for(outer * inner, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(1, r)),
               [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t j = b; j < e; ++j) {
      const std::int64_t o = j / inner, i = j % inner;
      softmax_scalar(x + o * r * inner + i, y + o * r * inner + i, r, inner, log);
    }
  });
}

template <class T>
void softmax_backward_t(const T* dy, const T* y, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log,
                        T* dx) {
  if constexpr (std::is_same_v<T, float>) {
    if (inner == 1 && r >= simd::W) {
      parallel_for(outer, std::max<std::int64_t>(kBlock, 8192 / r), [&](std::int64_t b, std::int64_t e) {
        softmax_backward_rows_f32(dy + b * r, y + b * r, dx + b * r, e - b, r, log);
      });
      return;
    }
  }
  parallel_for(outer * inner, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(1, r)),
               [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t j = b; j < e; ++j) {
      const std::int64_t base = (j / inner) * r * inner + j % inner;
      softmax_backward_scalar(dy + base, y + base, dx + base, r, inner, log);
    }
  });
}

}  // namespace

template <class T>
void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t r) {
  if constexpr (std::is_same_v<T, float>) {
    if (r >= simd::W) return softmax_rows_f32_any(x, y, rows, r, false);
  }
  for (std::int64_t i = 0; i < rows; ++i) softmax_scalar(x + i * r, y + i * r, r, 1, false);
}
template void softmax_rows<float>(const float*, float*, std::int64_t, std::int64_t);
template void softmax_rows<double>(const double*, double*, std::int64_t, std::int64_t);

template <class T>
void softmax_backward_rows(const T* dy, const T* y, T* dx, std::int64_t rows, std::int64_t r) {
  if constexpr (std::is_same_v<T, float>) {
    if (r >= simd::W) return softmax_backward_rows_f32(dy, y, dx, rows, r, false);
  }
  for (std::int64_t i = 0; i < rows; ++i) softmax_backward_scalar(dy + i * r, y + i * r, dx + i * r, r, 1, false);
}
template void softmax_backward_rows<float>(const float*, const float*, float*, std::int64_t, std::int64_t);
template void softmax_backward_rows<double>(const double*, const double*, double*, std::int64_t, std::int64_t);

void softmax(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log, const Tensor& y) {
  dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_t<T>(static_cast<const T*>(x.raw_data()), outer, r, inner, log, static_cast<T*>(y.raw_data()));
  });
}

void softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t outer, std::int64_t r, std::int64_t inner,
                      bool log, const Tensor& dx) {
  dispatch_floating(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_backward_t<T>(static_cast<const T*>(dy.raw_data()), static_cast<const T*>(y.raw_data()), outer, r, inner,
                          log, static_cast<T*>(dx.raw_data()));
  });
}

}  // namespace wb::cpu
