#include "ops/optim/clip.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/grad_mode.hpp"
#include "tensor/prim.hpp"

namespace wb::optim {
namespace {

// sum(g^2) for one gradient, accumulated in double.
double sum_squares(const Tensor& g) { return prim::sum_all(prim::unary(prim::Unary::square, g)); }

}  // namespace

double grad_norm(const std::vector<Tensor>& params) {
  double total = 0.0;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (g.defined()) total += sum_squares(g);
  }
  return std::sqrt(total);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, OnNonFinite on_nonfinite) {
  if (!(max_norm > 0.0) || !std::isfinite(max_norm))
    throw std::invalid_argument(fmt::format("clip_grad_norm_: max_norm = {} must be finite and > 0", max_norm));
  autograd::NoGradGuard no_grad;
  std::vector<double> squares(params.size(), 0.0);
  double total = 0.0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor g = params[i].grad();
    if (g.defined()) squares[i] = sum_squares(g);
    total += squares[i];
  }
  const double norm = std::sqrt(total);
  if (!std::isfinite(norm)) {
    if (on_nonfinite == OnNonFinite::return_norm) return norm;
    std::size_t first = 0;
    while (first < params.size() && std::isfinite(squares[first])) ++first;
    // An overflow of the sum with every term finite leaves first == size.
    const std::string where =
        first < params.size()
            ? fmt::format("first non-finite gradient: parameter {} of {}, shape {}", first, params.size(),
                          shape_str(params[first].shape()))
            : std::string("every gradient is finite but the sum of squares overflows");
    throw std::runtime_error(fmt::format("clip_grad_norm_: the total gradient norm is non-finite ({}); {}. HINT: the "
                                         "loss has likely diverged (lower the learning rate, check the inputs), or "
                                         "pass OnNonFinite::return_norm to skip the step yourself",
                                         norm, where));
  }
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (const Tensor& p : params) {
      const Tensor g = p.grad();
      if (g.defined()) prim::scale_(g, coef);
    }
  }
  return norm;
}

void check_finite(double value, std::string_view what) {
  if (!std::isfinite(value)) throw std::runtime_error(fmt::format("non-finite {}: {}", what, value));
}

}  // namespace wb::optim
