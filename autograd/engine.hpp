// Reverse-mode autodiff for whitebox: the engine that runs a recorded graph backwards.
//
// Overview of the autograd layer (autograd/):
//   GradMode / NoGradGuard   whether ops record nodes (thread-local)            grad_mode.hpp
//   Node / Edge              one recorded op, its inputs, its backward()         node.hpp
//   backward()               topological walk from an output to the leaves      this file
//   gradcheck()              float64 central-difference checker for any op       gradcheck.hpp
//
// How it works. Every op in ops/ computes its forward with prim:: calls; when should_record() says a
// gradient is needed it attaches a Node holding the saved data, so the output Tensor points to the
// Node and the Node to its inputs' producers (define-by-run, no global tape). backward(y) collects the
// nodes reachable from y's Node with an explicit stack (no recursion, so a 100,000-op chain is fine),
// counts how many consumers each node has inside the graph, then releases nodes in dependency order,
// ties broken by creation order (newest first) so the floating-point summation order never changes.
// Intermediate gradients live in an engine-local map and are freed as soon as their node has run;
// gradients reaching a leaf accumulate (+=) into leaf.grad(). Saved tensors are released after the
// pass unless retain_graph is set.
#pragma once

#include <string>

#include "tensor/tensor.hpp"

namespace wb::autograd {

struct BackwardOptions {
  bool retain_graph = false;
};

// Backpropagates from `root`. A scalar root is seeded with 1; any other root needs `seed`, a tensor of
// root's shape holding d(objective)/d(root).
void backward(const Tensor& root, const Tensor& seed = Tensor(), BackwardOptions options = {});

// Graphviz DOT text of the graph behind `root` (op names, sequence numbers, leaf shapes).
std::string to_dot(const Tensor& root);

}  // namespace wb::autograd
