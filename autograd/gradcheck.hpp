// gradcheck: compares the gradients an op's backward computes with float64 central differences.
//
// The output y = f(inputs) is reduced to a scalar as L = sum(y * R) with a fixed random R (a plain
// sum or mean is blind to errors that cancel, e.g. in softmax, whose rows sum to 1). Each checked
// element x_j is perturbed by +-eps and dL/dx_j = (L(x+eps) - L(x-eps)) / (2 eps) is compared with the
// analytic gradient: |a - n| <= atol + rtol |n| (PyTorch's defaults). The report names the worst input
// and index. gradcheck_direction does the same along one random direction for whole blocks, at the
// cost of two extra forward passes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  std::uint64_t seed = 1234;               // for R (and the direction)
  std::int64_t max_checks_per_input = -1;  // -1: every element; else an evenly spread subset
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_err = 0.0;
  double max_rel_err = 0.0;
  std::int64_t checked = 0;
  std::string worst;  // "input 1 index [2, 3]: analytic ... numeric ..."
  std::string message() const;
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d sum(f(inputs) * R) / d input for every input with requires_grad() set. Inputs must be f64;
// they are cloned, so the caller's tensors are not modified.
GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions options = {});

// Directional check: compares sum_i <grad_i, v_i> with (L(x + eps v) - L(x - eps v)) / (2 eps) for one
// random unit direction v over all inputs that require grad.
GradcheckResult gradcheck_direction(const TensorFn& f, const std::vector<Tensor>& inputs,
                                    GradcheckOptions options = {});

}  // namespace wb::autograd
