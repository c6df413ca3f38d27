// Strided iteration for the CPU kernels: walks a flattened index range of a shape over several
// operands with their own strides, handing each contiguous inner run to a callback. Dimensions that
// are contiguous for every operand are merged first, so a contiguous tensor is a single run.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "tensor/shape.hpp"

namespace wb::cpu {

template <std::size_t NOPS>
struct StridedLayout {
  Shape shape;                         // merged shape
  std::array<Shape, NOPS> strides;     // merged strides per operand

  StridedLayout(const Shape& s, const std::array<Shape, NOPS>& st) {
    // Drop size-1 axes, then merge axis i into i+1 when every operand is contiguous across them.
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 1) continue;
      bool merge = !shape.empty();
      for (std::size_t k = 0; k < NOPS && merge; ++k) merge = strides[k].back() == st[k][i] * s[i];
      if (merge) {
        shape.back() *= s[i];
        for (std::size_t k = 0; k < NOPS; ++k) strides[k].back() = st[k][i];
      } else {
        shape.push_back(s[i]);
        for (std::size_t k = 0; k < NOPS; ++k) strides[k].push_back(st[k][i]);
      }
    }
    if (shape.empty()) {
      shape.push_back(1);
      for (std::size_t k = 0; k < NOPS; ++k) strides[k].push_back(1);
    }
  }

  // f(offsets, inner_strides, n) for each run inside [begin, end) of the flattened index.
  template <class F>
  void for_each_run(std::int64_t begin, std::int64_t end, F&& f) const {
    const std::size_t nd = shape.size();
    const std::int64_t inner = shape.back();
    std::vector<std::int64_t> idx(nd, 0);
    std::int64_t rem = begin;
    for (std::size_t d = nd; d-- > 0;) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    std::array<std::int64_t, NOPS> off{};
    for (std::size_t k = 0; k < NOPS; ++k)
      for (std::size_t d = 0; d < nd; ++d) off[k] += idx[d] * strides[k][d];
    std::array<std::int64_t, NOPS> inner_st{};
    for (std::size_t k = 0; k < NOPS; ++k) inner_st[k] = strides[k].back();
    std::int64_t pos = begin;
    while (pos < end) {
      const std::int64_t n = std::min(inner - idx[nd - 1], end - pos);
      f(off, inner_st, n);
      pos += n;
      // advance idx by n along the last axis, carrying into outer axes
      idx[nd - 1] += n;
      for (std::size_t k = 0; k < NOPS; ++k) off[k] += n * inner_st[k];
      for (std::size_t d = nd - 1; d > 0 && idx[d] == shape[d]; --d) {
        for (std::size_t k = 0; k < NOPS; ++k) off[k] += strides[k][d - 1] - shape[d] * strides[k][d];
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  }
};

}  // namespace wb::cpu
