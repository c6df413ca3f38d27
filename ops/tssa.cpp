#include "ops/tssa.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "autograd/node.hpp"
#include "ops/activation.hpp"
#include "ops/arith.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/softmax.hpp"
#include "ops/unary.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class ClampMinNode final : public autograd::Node {
 public:
  explicit ClampMinNode(Tensor pass) : pass_(std::move(pass)) {}
  std::string_view name() const override { return "clamp_min"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {prim::binary(prim::Binary::mul, dy, pass_)}; }
  void release_saved() override { pass_ = Tensor(); }

 private:
  Tensor pass_;  // 1 where x > lo
};

// Checks W (B, n, K p) and temp (K elements); returns temp as (K).
Tensor tssa_check(const Tensor& w, const Tensor& temp, std::int64_t heads, const char* op) {
  if (!w.defined() || !temp.defined()) throw std::invalid_argument(fmt::format("{}: undefined input", op));
  if (w.dim() != 3 || heads <= 0 || w.size(2) % heads != 0)
    throw std::invalid_argument(fmt::format("{}: w must be (B, n, K p) with K p divisible by heads = {}, got {}", op,
                                            heads, shape_str(w.shape())));
  if (temp.numel() != heads || temp.dim() > 2)
    throw std::invalid_argument(
        fmt::format("{}: temp must hold one temperature per head, (K) or (K, 1) with K = {}, got {}", op, heads,
                    shape_str(temp.shape())));
  if (temp.dtype() != w.dtype() || !is_floating(w.dtype()))
    throw std::invalid_argument(fmt::format("{}: w ({}) and temp ({}) must share one floating dtype", op,
                                            dtype_name(w.dtype()), dtype_name(temp.dtype())));
  return ops::reshape(temp, {heads});
}

}  // namespace

Tensor clamp_min(const Tensor& x, double lo) {
  Tensor y = prim::binary(prim::Binary::maximum, x, Tensor::scalar(lo, x.dtype()));
  if (autograd::should_record({x})) autograd::record<ClampMinNode>(y, {x}, prim::unary(prim::Unary::gt_scalar, x, lo));
  return y;
}

Tensor tssa(const Tensor& w, const Tensor& temp, std::int64_t heads, const TssaOptions& o, Tensor* pi) {
  const Tensor t = tssa_check(w, temp, heads, "tssa");
  const std::int64_t b = w.size(0), n = w.size(1), kp = w.size(2), p = kp / heads;
  const Tensor w4 = ops::reshape(w, {b, n, heads, p});
  const Tensor sq = ops::square(w4);  // (B, n, K, p)
  Tensor energy;                      // (B, n, K)
  if (o.form == TssaForm::coded) {
    // ||W^_k[j, :]||^2 = sum_i W_k[j, i]^2 / max(||W_k[:, i]||, 1e-12)^2 (F.normalize over tokens)
    const Tensor norm = clamp_min(ops::sqrt(ops::sum(sq, {1}, true)), 1e-12);  // (B, 1, K, p)
    energy = ops::sum(ops::div(sq, ops::square(norm)), {3});
  } else {
    energy = ops::sum(sq, {3});
  }
  const Tensor assign = ops::softmax(ops::mul(energy, t), 2);  // (B, n, K)
  if (pi != nullptr) *pi = assign;
  const Tensor pi4 = ops::unsqueeze(assign, 3);                // (B, n, K, 1)
  const Tensor mass = ops::add_scalar(ops::sum(assign, {1}, true), 1e-8);  // (B, 1, K)
  const Tensor m = ops::div(ops::sum(ops::mul(sq, pi4), {1}, true), ops::unsqueeze(mass, 3));  // (B, 1, K, p)
  const Tensor weighted = ops::mul(w4, pi4);
  Tensor y;
  if (o.form == TssaForm::coded) {
    y = ops::neg(ops::mul(weighted, ops::pow(ops::add_scalar(m, 1.0), -1.0)));
  } else {
    const Tensor d = ops::mul_scalar(ops::pow(ops::add_scalar(ops::mul_scalar(m, o.gain), 1.0), -1.0), o.gain);
    y = ops::mul_scalar(ops::mul(weighted, d), -o.step / static_cast<double>(n));
  }
  return ops::reshape(y, {b, n, kp});
}

Tensor causal_tssa(const Tensor& w, const Tensor& temp, const Tensor& bias, std::int64_t heads, Tensor* pi) {
  const Tensor t = tssa_check(w, temp, heads, "causal_tssa");
  const std::int64_t b = w.size(0), n = w.size(1), kp = w.size(2), p = kp / heads;
  if (!bias.defined() || bias.dim() < 2 || bias.dim() > 3 || bias.size(0) != heads || bias.size(1) < n ||
      (bias.dim() == 3 && bias.size(2) != 1) || bias.dtype() != w.dtype())
    throw std::invalid_argument(fmt::format(
        "causal_tssa: bias must be (K, T_max) or (K, T_max, 1) with K = {}, T_max >= n = {} and dtype {}, got {} {}",
        heads, n, dtype_name(w.dtype()), bias.defined() ? shape_str(bias.shape()) : "undefined",
        bias.defined() ? dtype_name(bias.dtype()) : ""));
  const Tensor beta = ops::transpose(ops::slice(ops::reshape(bias, {heads, bias.size(1)}), 1, 0, n), 0, 1);  // (n, K)
  const Tensor w4 = ops::reshape(w, {b, n, heads, p});
  const Tensor sq = ops::square(w4);
  const Tensor running = clamp_min(ops::cumsum(sq, 1), 1e-12);  // (B, n, K, p)
  // sum_i (W_t[i]^2 / S_t[i] + beta) = sum_i W_t[i]^2 / S_t[i] + p beta
  const Tensor energy = ops::add(ops::sum(ops::div(sq, running), {3}), ops::mul_scalar(beta, static_cast<double>(p)));
  const Tensor assign = ops::softmax(ops::mul(energy, t), 2);  // (B, n, K)
  if (pi != nullptr) *pi = assign;
  const Tensor pi4 = ops::unsqueeze(assign, 3);
  const Tensor mass = ops::add_scalar(ops::cumsum(assign, 1), 1e-8);  // (B, n, K)
  const Tensor m = ops::div(ops::cumsum(ops::mul(sq, pi4), 1), ops::unsqueeze(mass, 3));  // (B, n, K, p)
  const Tensor y = ops::neg(ops::mul(ops::mul(w4, pi4), ops::pow(ops::add_scalar(m, 1.0), -1.0)));
  return ops::reshape(y, {b, n, kp});
}

}  // namespace wb::ops
