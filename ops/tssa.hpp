// Token-statistics self-attention, TSSA (ToST, Wu et al., ICLR 2025; crate-family.md §2.7): a
// gradient step on a variational upper bound of the compressed coding rate R^c that needs no pairwise
// token products. Time O(n d), memory O(n d): every intermediate is (B, n, K p), (B, n, K) or
// (B, 1, K p); no n x n buffer exists, forward or backward.
//
// Input: the projected tokens W = Y U^T (+ b), (B, n, K p), heads side by side on the last axis (the
// block's `qkv` output); W_k (n, p) is head k. temp: K learnable temperatures ((K) or ToST's (K, 1)).
// Output (B, n, K p), before the block's output projection; pi (optional) receives the assignment
// Pi (B, n, K) of tokens to heads, which sums to 1 over heads.
//
// tssa, form coded (ToST's vision code `AttentionTSSA`, the default):
//   W^_k     = W_k with each column normalised over the tokens: W_k[:, i] / max(||W_k[:, i]||, 1e-12)
//   Pi[j, k] = softmax_k( temp_k sum_i W^_k[j, i]^2 )
//   m_k      = sum_j Pi[j, k] W_k[j, :]^2 / (sum_j Pi[j, k] + 1e-8)     (1, p): the head's statistics
//   Y_k      = -(Pi[:, k] . W_k) . 1 / (1 + m_k)                         (broadcast over tokens)
// tssa, form paper (book ch. 4, eq. tssa; c = options.gain = d / eps^2, tau = options.step):
//   Pi[j, k] = softmax_k( temp_k ||W_k[j, :]||^2 )        (temp = 1 / (2 eta), raw projections)
//   D_k      = grad f(m_k) = c / (1 + c m_k),  f(x) = log(1 + c x),  m_k as above
//   Y_k      = -(tau / n) (Pi[:, k] . W_k) . D_k
// causal_tssa (ToST's language code `CausalSelfAttention_TSSA`), at position t, head k:
//   S_t      = max(sum_{s<=t} W_{k,s}^2, 1e-12)                           running statistics (p)
//   Pi[t, k] = softmax_k( temp_k sum_i (W_{k,t}[i]^2 / S_t[i] + beta[k, t]) )
//   m_{k,t}  = sum_{s<=t} Pi[s, k] W_{k,s}^2 / (sum_{s<=t} Pi[s, k] + 1e-8)
//   Y_{k,t}  = -Pi[t, k] W_{k,t} . 1 / (1 + m_{k,t})
//   beta: the learnable per-position bias, (K, T_max) or ToST's (K, T_max, 1), T_max >= n; rows
//   0..n-1 are used. Y_t depends on W_0..W_t only.
//
// Derivative: each op is a composition of differentiable ops (square, sum, cumsum, softmax, mul, div,
// pow, a clamp), so the backward is theirs: the chain rule through the column norms, the softmax over
// heads and the statistics m_k (or their running sums, reversed cumsums in the backward). Saved: the
// composition's (B, n, K p)-sized intermediates, a handful per op.
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace wb::ops {

enum class TssaForm { coded, paper };

struct TssaOptions {
  TssaForm form = TssaForm::coded;
  double gain = 1.0;  // paper form: c = d / eps^2 in grad f(x) = c / (1 + c x) (the code sets it to 1)
  double step = 1.0;  // paper form: tau; the output carries tau / n (the code absorbs it)
};

Tensor tssa(const Tensor& w, const Tensor& temp, std::int64_t heads, const TssaOptions& options = {},
            Tensor* pi = nullptr);
Tensor causal_tssa(const Tensor& w, const Tensor& temp, const Tensor& bias, std::int64_t heads, Tensor* pi = nullptr);

// y = max(x, lo); dy passes where x > lo (torch.clamp_min)
Tensor clamp_min(const Tensor& x, double lo);

}  // namespace wb::ops
