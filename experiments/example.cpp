// The smallest whitebox program: a tensor, an op, backward, the gradient. (README.md shows it.)
//   ./build/experiments/example
#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "ops/ops.hpp"

using namespace wb;

int main() {
  // A leaf that requires a gradient, and a constant.
  Tensor w = Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 2.0f}, {3});
  w.requires_grad_();
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});

  // y = sum(softmax(x * w)): broadcasting mul, a row softmax, a reduction; every op records its node.
  const Tensor p = ops::softmax(x * w, -1);
  const Tensor loss = ops::sum(ops::square(p - 0.5));

  autograd::backward(loss);  // fills w.grad()
  fmt::print("p    = {}\n", p);
  fmt::print("loss = {:.6f}\n", loss.item());
  fmt::print("grad = {}\n", w.grad());
  return 0;
}
