// Dispatch of the fused kernels: softmax and log_softmax (and backwards), layer_norm (and backward),
// multi-head attention (and backward) and cross-entropy (and backward).
#include "tensor/dispatch/common.hpp"
#include "tensor/kernels.hpp"

namespace wb::prim {
using namespace detail;

namespace {
Tensor softmax_impl(const Tensor& x, std::int64_t axis, bool log) {
  const char* what = log ? "log_softmax" : "softmax";
  check_defined(x, what, "x");
  check_floating(x, what);
  const std::int64_t a = normalize_axis(axis, x.dim(), what);
  const Tensor xc = contiguous(x);
  const Split3 s = split_at(x.shape(), a);
  Tensor y = empty_like(xc);
  switch (x.device()) {
    case Device::CPU: kernel::softmax<Device::CPU>(xc, s.outer, s.r, s.inner, log, y); break;
    case Device::CUDA: kernel::softmax<Device::CUDA>(xc, s.outer, s.r, s.inner, log, y); break;
  }
  return y;
}
Tensor softmax_backward_impl(const Tensor& dy, const Tensor& y, std::int64_t axis, bool log) {
  check_same_shape(dy, y, "softmax_backward");
  const std::int64_t a = normalize_axis(axis, y.dim(), "softmax_backward");
  const Tensor dyc = contiguous(dy), yc = contiguous(y);
  const Split3 s = split_at(y.shape(), a);
  Tensor dx = empty_like(yc);
  switch (y.device()) {
    case Device::CPU: kernel::softmax_backward<Device::CPU>(dyc, yc, s.outer, s.r, s.inner, log, dx); break;
    case Device::CUDA: kernel::softmax_backward<Device::CUDA>(dyc, yc, s.outer, s.r, s.inner, log, dx); break;
  }
  return dx;
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis) { return softmax_impl(x, axis, false); }
Tensor softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t axis) {
  return softmax_backward_impl(dy, y, axis, false);
}
Tensor log_softmax(const Tensor& x, std::int64_t axis) { return softmax_impl(x, axis, true); }
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t axis) {
  return softmax_backward_impl(dy, y, axis, true);
}

LayerNormResult layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  check_defined(x, "layer_norm", "x");
  check_floating(x, "layer_norm");
  if (x.dim() < 1) throw std::invalid_argument("layer_norm: input must have at least one axis");
  const std::int64_t d = x.size(-1);
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    if (p->dim() != 1 || p->size(0) != d)
      throw std::invalid_argument(fmt::format("layer_norm: weight/bias of shape {} do not match the last axis {} of {}",
                                              shape_str(p->shape()), d, shape_str(x.shape())));
    check_same_dtype(x, *p, "layer_norm");
    check_same_device(x, *p, "layer_norm");
  }
  const Tensor xc = contiguous(x);
  const Tensor g = gamma.defined() ? contiguous(gamma) : Tensor();
  const Tensor b = beta.defined() ? contiguous(beta) : Tensor();
  Shape stat(x.shape().begin(), x.shape().end() - 1);
  LayerNormResult r{empty_like(xc), Tensor::empty(stat, x.dtype(), x.device()), Tensor::empty(stat, x.dtype(), x.device())};
  switch (x.device()) {
    case Device::CPU: kernel::layer_norm<Device::CPU>(xc, g, b, eps, r.y, r.mean, r.rstd); break;
    case Device::CUDA: kernel::layer_norm<Device::CUDA>(xc, g, b, eps, r.y, r.mean, r.rstd); break;
  }
  return r;
}

LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& gamma) {
  check_same_shape(dy, x, "layer_norm_backward");
  const Tensor dyc = contiguous(dy), xc = contiguous(x);
  const Tensor g = gamma.defined() ? contiguous(gamma) : Tensor();
  LayerNormGrads r;
  r.dx = empty_like(xc);
  const Shape pshape{x.size(-1)};
  r.dgamma = Tensor::empty(pshape, x.dtype(), x.device());
  r.dbeta = Tensor::empty(pshape, x.dtype(), x.device());
  const Tensor mc = contiguous(mean), rc = contiguous(rstd);
  switch (x.device()) {
    case Device::CPU: kernel::layer_norm_backward<Device::CPU>(dyc, xc, mc, rc, g, r.dx, r.dgamma, r.dbeta); break;
    case Device::CUDA: kernel::layer_norm_backward<Device::CUDA>(dyc, xc, mc, rc, g, r.dx, r.dgamma, r.dbeta); break;
  }
  if (!gamma.defined()) r.dgamma = Tensor();
  return r;
}

namespace {
// q, k, v as (B, n, H p) views the attention kernel can read in place: rank 3, last stride 1.
Tensor attention_operand(const Tensor& t, const Shape& shape, const char* what) {
  if (t.dim() != 3 || t.shape() != shape)
    throw std::invalid_argument(fmt::format("{}: q, k and v must all be (B, n, H p) = {}, got {}", what,
                                            shape_str(shape), shape_str(t.shape())));
  return t.stride(2) == 1 || t.size(2) == 1 ? t.detach() : contiguous(t);
}
}  // namespace

AttentionResult attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, std::int64_t heads, double scale,
                          bool causal) {
  check_defined(q_in, "attention", "q");
  check_floating(q_in, "attention");
  check_same_dtype(q_in, k_in, "attention");
  check_same_dtype(q_in, v_in, "attention");
  check_same_device(q_in, k_in, "attention");
  check_same_device(q_in, v_in, "attention");
  if (q_in.dim() != 3 || heads <= 0 || q_in.size(2) % heads != 0)
    throw std::invalid_argument(fmt::format("attention: q must be (B, n, H p) with H = {} dividing the last axis, got {}",
                                            heads, shape_str(q_in.shape())));
  const Tensor q = attention_operand(q_in, q_in.shape(), "attention");
  const Tensor k = attention_operand(k_in, q_in.shape(), "attention");
  const Tensor v = attention_operand(v_in, q_in.shape(), "attention");
  const std::int64_t b = q.size(0), n = q.size(1);
  AttentionResult r{Tensor::empty(q.shape(), q.dtype(), q.device()), Tensor::empty({b, heads, n, n}, q.dtype(), q.device())};
  switch (q.device()) {
    case Device::CPU: kernel::attention<Device::CPU>(q, k, v, heads, scale, causal, r.out, r.maps); break;
    case Device::CUDA: kernel::attention<Device::CUDA>(q, k, v, heads, scale, causal, r.out, r.maps); break;
  }
  return r;
}

AttentionGrads attention_backward(const Tensor& dout, const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                  const Tensor& maps, std::int64_t heads, double scale, bool tied, bool causal) {
  check_same_shape(dout, q_in, "attention_backward");
  const Tensor q = attention_operand(q_in, q_in.shape(), "attention_backward");
  const Tensor k = tied ? q : attention_operand(k_in, q_in.shape(), "attention_backward");
  const Tensor v = tied ? q : attention_operand(v_in, q_in.shape(), "attention_backward");
  const Tensor d = contiguous(dout), a = contiguous(maps);
  AttentionGrads g;
  g.dq = empty_like(d);
  if (!tied) {
    g.dk = empty_like(d);
    g.dv = empty_like(d);
  }
  switch (q.device()) {
    case Device::CPU: kernel::attention_backward<Device::CPU>(d, q, k, v, a, heads, scale, causal, g.dq, g.dk, g.dv); break;
    case Device::CUDA:
      kernel::attention_backward<Device::CUDA>(d, q, k, v, a, heads, scale, causal, g.dq, g.dk, g.dv);
      break;
  }
  return g;
}

CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, std::int64_t ignore_index,
                                 double label_smoothing) {
  check_defined(logits, "cross_entropy", "logits");
  check_defined(target, "cross_entropy", "target");
  check_floating(logits, "cross_entropy");
  if (logits.dim() != 2 || target.dim() != 1 || target.size(0) != logits.size(0) || target.dtype() != DType::i64)
    throw std::invalid_argument(fmt::format(
        "cross_entropy: expects logits (B, C) and i64 targets (B), got logits {} and targets {} {}",
        shape_str(logits.shape()), shape_str(target.shape()), dtype_name(target.dtype())));
  if (label_smoothing < 0.0 || label_smoothing > 1.0)
    throw std::invalid_argument(fmt::format("cross_entropy: label_smoothing {} is outside [0, 1]", label_smoothing));
  check_same_device(logits, target, "cross_entropy");
  const Tensor lc = contiguous(logits), tc = contiguous(target);
  CrossEntropyResult r;
  r.log_prob = empty_like(lc);
  double loss = 0.0;
  switch (logits.device()) {
    case Device::CPU:
      loss = kernel::cross_entropy<Device::CPU>(lc, tc, ignore_index, label_smoothing, r.log_prob, r.count);
      break;
    case Device::CUDA:
      loss = kernel::cross_entropy<Device::CUDA>(lc, tc, ignore_index, label_smoothing, r.log_prob, r.count);
      break;
  }
  r.loss = to_device(Tensor::scalar(loss, logits.dtype()), logits.device());
  return r;
}

Tensor cross_entropy_backward(double dloss, const Tensor& log_prob, const Tensor& target, std::int64_t ignore_index,
                              double label_smoothing, std::int64_t count) {
  const Tensor lp = contiguous(log_prob), tc = contiguous(target);
  Tensor dx = empty_like(lp);
  switch (lp.device()) {
    case Device::CPU:
      kernel::cross_entropy_backward<Device::CPU>(dloss, lp, tc, ignore_index, label_smoothing, count, dx);
      break;
    case Device::CUDA:
      kernel::cross_entropy_backward<Device::CUDA>(dloss, lp, tc, ignore_index, label_smoothing, count, dx);
      break;
  }
  return dx;
}

}  // namespace wb::prim
