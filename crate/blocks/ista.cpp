#include "crate/blocks/ista.hpp"

#include <cmath>

#include "crate/nn/init.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

ISTA::ISTA(const BlockConfig& c, Generator& gen) : c_(c) {
  const std::int64_t d = c.dim;
  if (c.dictionary == Dictionary::overcomplete) {
    const std::int64_t atoms = c.overcomplete_ratio * d;
    d_ = &register_parameter("weight", uniform_init({d, atoms}, std::sqrt(6.0 / static_cast<double>(atoms)), c.dtype, gen));
    d_out_ = &register_parameter("weight_out",
                                 uniform_init({d, atoms}, std::sqrt(6.0 / static_cast<double>(atoms)), c.dtype, gen));
  } else {
    d_ = &register_parameter("weight", uniform_init({d, d}, std::sqrt(6.0 / static_cast<double>(d)), c.dtype, gen));
  }
  if (c.learnable_ista) {
    eta_ = &register_parameter("eta", Tensor::full({1}, c.eta, c.dtype));
    lambda_ = &register_parameter("lambd", Tensor::full({1}, c.lambda, c.dtype));
  }
}

Tensor ISTA::forward(const Tensor& x, Tensor* code) const {
  const Tensor& d = *d_;
  const Tensor dt = ops::transpose(d, 0, 1);
  if (c_.dictionary == Dictionary::overcomplete) {
    const double th = c_.eta * c_.lambda;
    const Tensor a1 = ops::soft_threshold(ops::mul_scalar(ops::matmul(x, d), c_.eta), th);
    const Tensor r = ops::matmul(a1, dt) - x;  // A1 D^T - X
    const Tensor a2 = ops::soft_threshold(a1 - ops::mul_scalar(ops::matmul(r, d), c_.eta), th);
    if (code != nullptr) *code = a2;
    return ops::matmul(a2, ops::transpose(*d_out_, 0, 1));
  }
  // One token-sized product: X + eta (X D - X D^T D) = X M with M = I + K, K = eta (D - D^T D), a
  // d x d x d product formed once per step and shared by every token; X M is computed as X + X K.
  const Tensor dk = d - ops::matmul(dt, d);  // D - D^T D
  const Tensor k = eta_ != nullptr ? *eta_ * dk : ops::mul_scalar(dk, c_.eta);
  const Tensor pre = x + ops::matmul(x, k);  // X M
  const Tensor out = eta_ != nullptr ? ops::relu(pre - *eta_ * *lambda_) : ops::soft_threshold(pre, c_.eta * c_.lambda);
  if (code != nullptr) *code = out;
  return out;
}

}  // namespace wb::crate
