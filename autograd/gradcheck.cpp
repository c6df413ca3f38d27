#include "autograd/gradcheck.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "tensor/prim.hpp"

namespace wb::autograd {
namespace {

struct Prepared {
  std::vector<Tensor> inputs;  // contiguous f64 clones, leaves
  std::vector<bool> checked;
};

Prepared prepare(const std::vector<Tensor>& inputs) {
  Prepared p;
  for (const auto& t : inputs) {
    if (!t.defined()) {
      p.inputs.emplace_back();
      p.checked.push_back(false);
      continue;
    }
    const bool want = t.requires_grad();
    if (want && t.dtype() != DType::f64)
      throw std::invalid_argument(fmt::format("gradcheck: inputs that require grad must be f64, got {}",
                                              dtype_name(t.dtype())));
    Tensor c = prim::clone(t);
    if (want) c.requires_grad_();
    p.inputs.push_back(c);
    p.checked.push_back(want);
  }
  return p;
}

double objective(const TensorFn& f, const std::vector<Tensor>& inputs, const Tensor& r) {
  NoGradGuard g;
  const Tensor y = f(inputs);
  return prim::sum_all(prim::binary(prim::Binary::mul, prim::cast(y, DType::f64), r));
}

std::string index_str(const Shape& shape, std::int64_t flat) {
  Shape idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

// Keeps the element that is furthest beyond its tolerance (or closest to it, when all pass).
void consider(GradcheckResult& res, double& worst_excess, const GradcheckOptions& o, double a, double n,
              const std::string& where) {
  const double abs_err = std::abs(a - n);
  const double excess = abs_err - (o.atol + o.rtol * std::abs(n));
  if (!(excess <= 0.0)) res.ok = false;  // NaN fails too
  if (res.checked == 0 || excess > worst_excess || std::isnan(excess)) {
    worst_excess = std::isnan(excess) ? INFINITY : excess;
    res.max_abs_err = abs_err;
    res.max_rel_err = abs_err / std::max(std::abs(n), 1e-12);
    res.worst = fmt::format("{}: analytic {:.10g} numeric {:.10g}", where, a, n);
  }
  res.checked += 1;
}

}  // namespace

std::string GradcheckResult::message() const {
  return fmt::format("gradcheck {}: {} values checked, worst |err| {:.3g} (rel {:.3g}) at {}", ok ? "passed" : "FAILED",
                     checked, max_abs_err, max_rel_err, worst.empty() ? "-" : worst);
}

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions o) {
  Prepared p = prepare(inputs);
  Generator gen(o.seed);
  Tensor y = f(p.inputs);
  Tensor r = Tensor::empty(y.shape(), DType::f64);
  prim::normal_(r, 0.0, 1.0, gen);
  if (!y.grad_fn() && !y.requires_grad())
    throw std::invalid_argument("gradcheck: the function's output does not depend on any input that requires grad");
  backward(y, prim::cast(r, y.dtype()));

  GradcheckResult res;
  double worst = 0.0;
  for (std::size_t i = 0; i < p.inputs.size(); ++i) {
    if (!p.checked[i]) continue;
    Tensor& x = p.inputs[i];
    const Tensor g = x.grad().defined() ? prim::contiguous(x.grad()) : prim::zeros_like(x);
    const auto analytic = g.to_vector<double>();
    double* data = x.data<double>();
    const std::int64_t n = x.numel();
    const std::int64_t step =
        o.max_checks_per_input > 0 && n > o.max_checks_per_input ? (n + o.max_checks_per_input - 1) / o.max_checks_per_input : 1;
    for (std::int64_t j = 0; j < n; j += step) {
      const double orig = data[j];
      data[j] = orig + o.eps;
      const double fp = objective(f, p.inputs, r);
      data[j] = orig - o.eps;
      const double fm = objective(f, p.inputs, r);
      data[j] = orig;
      const double numeric = (fp - fm) / (2.0 * o.eps);
      consider(res, worst, o, analytic[static_cast<std::size_t>(j)], numeric,
               fmt::format("input {} index {}", i, index_str(x.shape(), j)));
    }
  }
  return res;
}

GradcheckResult gradcheck_direction(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions o) {
  Prepared p = prepare(inputs);
  Generator gen(o.seed);
  Tensor y = f(p.inputs);
  Tensor r = Tensor::empty(y.shape(), DType::f64);
  prim::normal_(r, 0.0, 1.0, gen);
  backward(y, prim::cast(r, y.dtype()));

  // Random direction, normalized over all checked inputs together.
  std::vector<Tensor> dirs(p.inputs.size());
  double norm2 = 0.0;
  for (std::size_t i = 0; i < p.inputs.size(); ++i) {
    if (!p.checked[i]) continue;
    dirs[i] = Tensor::empty(p.inputs[i].shape(), DType::f64);
    prim::normal_(dirs[i], 0.0, 1.0, gen);
    norm2 += prim::sum_all(prim::unary(prim::Unary::square, dirs[i]));
  }
  const double inv = 1.0 / std::sqrt(norm2);
  double analytic = 0.0;
  for (std::size_t i = 0; i < p.inputs.size(); ++i) {
    if (!p.checked[i]) continue;
    prim::scale_(dirs[i], inv);
    const Tensor g = p.inputs[i].grad();
    if (g.defined()) analytic += prim::sum_all(prim::binary(prim::Binary::mul, g, dirs[i]));
  }
  auto shifted = [&](double s) {
    std::vector<Tensor> xs = p.inputs;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (!p.checked[i]) continue;
      xs[i] = prim::clone(p.inputs[i]);
      prim::axpy_(xs[i], dirs[i], s);
    }
    return objective(f, xs, r);
  };
  const double numeric = (shifted(o.eps) - shifted(-o.eps)) / (2.0 * o.eps);
  GradcheckResult res;
  double worst = 0.0;
  consider(res, worst, o, analytic, numeric, "random direction");
  return res;
}

}  // namespace wb::autograd
