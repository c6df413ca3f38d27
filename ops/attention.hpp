// Multi-head attention as one fused op (kernel: tensor/cpu/attention.cpp). q, k, v: (B, n, H p), heads
// side by side on the last axis (slices of one projection are fine, no copy); scores use `scale`.
//   attention(q, k, v)   O_h = softmax_row(scale Q_h K_h^T) V_h, per batch b and head h -> (B, n, H p)
//   tied_attention(q)    the same with q = k = v (CRATE's MSSA: one U for query, key and value); its
//                        backward returns dq + dk + dv in one gradient, including the symmetric
//                        (dS + dS^T) term of crate-spec §1.7
//   backward             dA = dO V^T, dV = A^T dO, dS = scale A (dA - rowsum(dA A)), dQ = dS K, dK = dS^T Q
//   causal_attention, tied_causal_attention   the same with a causal mask: S_ij = -inf for j > i, so
//                        token i attends to tokens 0..i only (GPT's attention; CRATE-GPT's causal MSSA is
//                        the tied one). The mask is applied inside the kernel: no n x n mask tensor is
//                        built, and no tile above the diagonal is computed, forward or backward.
// Saves q, k, v and the maps A (B, H, n, n); `maps` (optional) receives A.
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale,
                 Tensor* maps = nullptr);
Tensor tied_attention(const Tensor& q, std::int64_t heads, double scale, Tensor* maps = nullptr);
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale,
                        Tensor* maps = nullptr);
Tensor tied_causal_attention(const Tensor& q, std::int64_t heads, double scale, Tensor* maps = nullptr);

}  // namespace wb::ops
