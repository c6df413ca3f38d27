// Reductions over one axis of a contiguous tensor viewed as (outer, r, inner). Sums accumulate in
// double over fixed blocks of the reduced axis, and blocks are combined in order, so the result does
// not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

constexpr std::int64_t kBlock = 512;  // rows of the reduced axis per deterministic block

template <class T>
void sum_axis_t(const T* x, std::int64_t outer, std::int64_t r, std::int64_t inner, T* out) {
  if (inner == 1) {
    parallel_for(outer, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(1, r)), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o) {
        const T* p = x + o * r;
        double acc = 0.0;
        for (std::int64_t i = 0; i < r; ++i) acc += static_cast<double>(p[i]);
        out[o] = static_cast<T>(acc);
      }
    });
    return;
  }
  const std::int64_t nblocks = (r + kBlock - 1) / kBlock;
  // partial[o][blk][i]
  std::vector<double> partial(static_cast<std::size_t>(outer * nblocks * inner), 0.0);
  parallel_for(outer * nblocks, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t job = b; job < e; ++job) {
      const std::int64_t o = job / nblocks, blk = job % nblocks;
      double* acc = partial.data() + job * inner;
      const std::int64_t r0 = blk * kBlock, r1 = std::min(r, r0 + kBlock);
      for (std::int64_t rr = r0; rr < r1; ++rr) {
        const T* p = x + (o * r + rr) * inner;
        for (std::int64_t i = 0; i < inner; ++i) acc[i] += static_cast<double>(p[i]);
      }
    }
  });
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      double acc = 0.0;
      for (std::int64_t blk = 0; blk < nblocks; ++blk) acc += partial[static_cast<std::size_t>((o * nblocks + blk) * inner + i)];
      out[o * inner + i] = static_cast<T>(acc);
    }
}

template <class T>
void max_axis_t(const T* x, std::int64_t outer, std::int64_t r, std::int64_t inner, T* val, std::int64_t* idx) {
  parallel_for(outer * inner, 1024, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t j = b; j < e; ++j) {
      const std::int64_t o = j / inner, i = j % inner;
      const T* p = x + o * r * inner + i;
      T best = -std::numeric_limits<T>::infinity();
      std::int64_t arg = 0;
      for (std::int64_t k = 0; k < r; ++k) {
        const T v = p[k * inner];
        if (v > best || (std::isnan(v) && !std::isnan(best))) {
          best = v;
          arg = k;
        }
      }
      val[j] = best;
      idx[j] = arg;
    }
  });
}

}  // namespace

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
void sum_axis<Device::CPU>(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, const Tensor& out) {
  dispatch_floating(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    sum_axis_t<T>(static_cast<const T*>(x.raw_data()), outer, r, inner, static_cast<T*>(out.raw_data()));
  });
}

template <>
void cumsum_axis<Device::CPU>(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool reverse,
                              const Tensor& out) {
  dispatch_floating(x.dtype(), "cumsum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    // One job per outer slice; the running sums of its `inner` columns advance together row by row
    // (rows are contiguous), each accumulated in double in a fixed order.
    parallel_for(outer, 1, [&](std::int64_t b, std::int64_t e) {
      std::vector<double> acc(static_cast<std::size_t>(inner));
      for (std::int64_t o = b; o < e; ++o) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (std::int64_t step = 0; step < r; ++step) {
          const std::int64_t rr = reverse ? r - 1 - step : step;
          const T* src = px + (o * r + rr) * inner;
          T* dst = py + (o * r + rr) * inner;
          for (std::int64_t i = 0; i < inner; ++i) {
            acc[static_cast<std::size_t>(i)] += static_cast<double>(src[i]);
            dst[i] = static_cast<T>(acc[static_cast<std::size_t>(i)]);
          }
        }
      }
    });
  });
}

template <>
void max_axis<Device::CPU>(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner,
                           const Tensor& values, const Tensor& indices) {
  dispatch_floating(x.dtype(), "max", [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_axis_t<T>(static_cast<const T*>(x.raw_data()), outer, r, inner, static_cast<T*>(values.raw_data()),
                  indices.data<std::int64_t>());
  });
}

template <>
double sum_all<Device::CPU>(const Tensor& x) {
  return dispatch_floating(x.dtype(), "sum_all", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(x.raw_data());
    const std::int64_t n = x.numel();
    const std::int64_t nblocks = (n + 4095) / 4096;
    std::vector<double> part(static_cast<std::size_t>(nblocks), 0.0);
    parallel_for(nblocks, 4, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t blk = b; blk < e; ++blk) {
        double acc = 0.0;
        for (std::int64_t i = blk * 4096, end = std::min(n, i + 4096); i < end; ++i) acc += static_cast<double>(p[i]);
        part[static_cast<std::size_t>(blk)] = acc;
      }
    });
    double acc = 0.0;
    for (double v : part) acc += v;
    return acc;
  });
}

}  // namespace wb::kernel
