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
// With AVX-512, softmax over rows of length 16..256 (attention maps: 50 or 65 tokens) treats each block
// of 16 rows as one flat array: 16 rows of r floats are exactly r aligned vectors, a lane's row shift or
// scale comes from a 16-lane register by a permute through a per-r table of lane -> row indices, and
// each row's maximum and sum gather in the lanes where its elements sit. Rows of 50 then cost 50 exps
// per 16 rows instead of 64, and one loop runs three blocks at once (maxima of one, exps and sums of
// the next, normalization of a third) so the exp's arithmetic overlaps the other passes' loads:
// softmax_blocks_f32. A row's bits depend on its position in its block of 16 and on nothing else: not
// on the thread count (threads take whole blocks; a last partial block is padded to 16 rows), not on
// the other rows (tested). Blocks count from the first row of the call: row 0 of the tensor for
// ops::softmax, of each map for the fused attention.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/cpu/simd.hpp"
#include "tensor/cpu/softmax.hpp"
#include "tensor/kernels.hpp"
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

// The layout of a block of 16 rows of length r seen as r vectors: lane l of vector v holds row
// (16 v + l) / r, and a row ends inside vector v at lane end[v] - 1 (end[v] = 0: none; with r >= 16 at
// most one row ends in a vector).
struct FlatLayout {
  std::int64_t r = 0;
  std::vector<std::int32_t> lane_row;  // 16 r entries
  std::vector<std::int32_t> end;       // r entries
};

const FlatLayout& flat_layout(std::int64_t r) {
  thread_local FlatLayout f;
  if (f.r != r) {
    f.r = r;
    f.lane_row.resize(static_cast<std::size_t>(kBlock * r));
    for (std::int64_t k = 0; k < kBlock * r; ++k) f.lane_row[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(k / r);
    f.end.assign(static_cast<std::size_t>(r), 0);
    for (std::int64_t j = 1; j <= kBlock; ++j) {
      const std::int64_t e = j * r;  // one past row j - 1's last element
      f.end[static_cast<std::size_t>((e - 1) / simd::W)] = static_cast<std::int32_t>(e - (e - 1) / simd::W * simd::W);
    }
  }
  return f;
}

// The running state of the fused loop over one block (see softmax_blocks_f32).
struct FlatSweep {
  __m512 max_acc, sum_acc;               // the lanes of the row in progress
  __m512 max_part[kBlock], sum_part[kBlock];  // per row: lane-wise maxima / sums (other lanes -inf / 0)
  int row = 0;                           // the row in progress
};

// N consecutive vectors v.. of the fused loop: maxima of block xm, exp and sums of block xe into ye
// (shifted by the lanes of sh), normalization of block yn (by the lanes of sc). Null blocks are skipped.
template <int N>
[[gnu::always_inline]] inline void flat_vectors(std::int64_t v, const FlatLayout& f, const float* xm, const float* xe,
                                                float* ye, float* yn, __m512 sh, __m512 sc, FlatSweep& st) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512i lanes[N];
  __m512 ev[N] = {};
  for (int u = 0; u < N; ++u) lanes[u] = _mm512_loadu_si512(f.lane_row.data() + simd::W * (v + u));
  if (xe != nullptr) {  // N exps side by side
    for (int u = 0; u < N; ++u) {
      const __m512 m = _mm512_mask_permutexvar_ps(sh, kAll, lanes[u], sh);
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(xe + simd::W * (v + u)), m);
      ev[u] = reinterpret_cast<__m512>(simd::exp(reinterpret_cast<simd::f32v>(d)));
      _mm512_storeu_ps(ye + simd::W * (v + u), ev[u]);
    }
  }
  for (int u = 0; u < N; ++u) {
    const int e = f.end[static_cast<std::size_t>(v + u)];
    const auto row_lanes = static_cast<__mmask16>((1u << e) - 1u);  // the lanes of the row that ends here
    if (xm != nullptr) {
      const __m512 xv = _mm512_loadu_ps(xm + simd::W * (v + u));
      if (e != 0) {
        st.max_part[st.row] = _mm512_mask_max_ps(st.max_acc, row_lanes, st.max_acc, xv);
        st.max_acc = _mm512_mask_mov_ps(neg_inf, static_cast<__mmask16>(~row_lanes), xv);
      } else {
        st.max_acc = _mm512_mask_max_ps(st.max_acc, kAll, st.max_acc, xv);
      }
    }
    if (xe != nullptr) {
      if (e != 0) {
        st.sum_part[st.row] = _mm512_mask_add_ps(st.sum_acc, row_lanes, st.sum_acc, ev[u]);
        st.sum_acc = _mm512_maskz_mov_ps(static_cast<__mmask16>(~row_lanes), ev[u]);
      } else {
        st.sum_acc = _mm512_add_ps(st.sum_acc, ev[u]);
      }
    }
    if (yn != nullptr) {
      const __m512 q = _mm512_mask_permutexvar_ps(sc, kAll, lanes[u], sc);
      _mm512_storeu_ps(yn + simd::W * (v + u), _mm512_mul_ps(_mm512_loadu_ps(yn + simd::W * (v + u)), q));
    }
    st.row += e != 0;
  }
}

// softmax of `blocks` whole blocks of 16 rows of length 16 <= r <= kFlatMaxRow; x and y may alias.
// One loop per step s runs three blocks at once: the maxima of block s, the exps and sums of block
// s - 1, the normalization of block s - 2, so the exp's arithmetic overlaps the other passes' loads,
// and two exps run side by side. A block is r aligned vectors; each row's maximum and sum gather in
// 16 lanes wherever its elements sit (lanes of other rows hold -inf / 0), and reduce16 turns the 16
// rows' lanes into one vector per block. A row's bits therefore depend on its position in its block
// (16 rows from the start of the call), on nothing else.
void softmax_blocks_f32(const float* x, float* y, std::int64_t blocks, std::int64_t r) {
  using namespace simd;
  const FlatLayout& f = flat_layout(r);
  const std::int64_t size = kBlock * r;
  const __m512 zero = _mm512_setzero_ps();
  const f32v neg_inf = splat(-std::numeric_limits<float>::infinity());
  __m512 shift = zero, scale = zero;  // of the block whose exps / normalization run next
  for (std::int64_t s = 0; s < blocks + 2; ++s) {
    const float* xm = s < blocks ? x + s * size : nullptr;
    const float* xe = s >= 1 && s <= blocks ? x + (s - 1) * size : nullptr;
    float* ye = xe != nullptr ? y + (s - 1) * size : nullptr;
    float* yn = s >= 2 ? y + (s - 2) * size : nullptr;
    FlatSweep st;
    st.max_acc = reinterpret_cast<__m512>(neg_inf);
    st.sum_acc = zero;
    std::int64_t v = 0;
    for (; v + 2 <= r; v += 2) flat_vectors<2>(v, f, xm, xe, ye, yn, shift, scale, st);
    if (v < r) flat_vectors<1>(v, f, xm, xe, ye, yn, shift, scale, st);
    if (xe != nullptr) {
      f32v part[kBlock];
      std::memcpy(part, st.sum_part, sizeof part);
      const f32v sum = reduce16_add(part);
      scale = reinterpret_cast<__m512>(sum > 0.0f ? 1.0f / sum : f32v{});  // a fully masked row gives zeros
    }
    if (xm != nullptr) {
      f32v part[kBlock];
      std::memcpy(part, st.max_part, sizeof part);
      const f32v mx = reduce16_max(part);
      shift = reinterpret_cast<__m512>(mx == neg_inf ? f32v{} : mx);  // fully masked: shift 0 keeps exps finite
    }
  }
}

// softmax of rows (any count) of length 16 <= r <= kFlatMaxRow: whole blocks, then the last partial
// block padded to 16 rows in a scratch block, so its rows get the bits they would get in a whole one.
void softmax_rows_f32_flat(const float* x, float* y, std::int64_t rows, std::int64_t r) {
  const std::int64_t blocks = rows / kBlock, left = rows - blocks * kBlock;
  if (blocks > 0) softmax_blocks_f32(x, y, blocks, r);
  if (left > 0) {
    thread_local std::vector<float> pad;
    pad.assign(static_cast<std::size_t>(kBlock * r), 0.0f);
    const std::size_t n = static_cast<std::size_t>(left * r);
    std::memcpy(pad.data(), x + blocks * kBlock * r, n * sizeof(float));
    softmax_blocks_f32(pad.data(), pad.data(), 1, r);
    std::memcpy(y + blocks * kBlock * r, pad.data(), n * sizeof(float));
  }
}
#endif

// softmax or log_softmax of rows of length r >= simd::W, by the fastest path that applies.
void softmax_rows_f32_any(const float* x, float* y, std::int64_t rows, std::int64_t r, bool log) {
#if defined(__AVX512F__)
  if (!log && r <= kFlatMaxRow) return softmax_rows_f32_flat(x, y, rows, r);
#endif
  softmax_rows_f32(x, y, rows, r, log);
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
      // chunks of whole blocks of 16 rows from row 0: every row keeps its position in its block
      const std::int64_t blocks = (outer + kBlock - 1) / kBlock;
      parallel_for(blocks, std::max<std::int64_t>(1, 8192 / (kBlock * r)), [&](std::int64_t b, std::int64_t e) {
        const std::int64_t row0 = b * kBlock, row1 = std::min(outer, e * kBlock);
        softmax_rows_f32_any(x + row0 * r, y + row0 * r, row1 - row0, r, log);
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

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
void softmax<Device::CPU>(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log,
                          const Tensor& y) {
  dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_t<T>(static_cast<const T*>(x.raw_data()), outer, r, inner, log, static_cast<T*>(y.raw_data()));
  });
}

template <>
void softmax_backward<Device::CPU>(const Tensor& dy, const Tensor& y, std::int64_t outer, std::int64_t r,
                                   std::int64_t inner, bool log, const Tensor& dx) {
  dispatch_floating(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_backward_t<T>(static_cast<const T*>(dy.raw_data()), static_cast<const T*>(y.raw_data()), outer, r, inner,
                          log, static_cast<T*>(dx.raw_data()));
  });
}

}  // namespace wb::kernel
