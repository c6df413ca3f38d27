#include "autograd/engine.hpp"

#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "autograd/grad_mode.hpp"
#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::autograd {
namespace {

void accumulate_leaf(AutogradMeta& meta, const Tensor& g) {
  if (!meta.grad.defined())
    meta.grad = prim::clone(g);
  else
    prim::axpy_(meta.grad, g, 1.0);
}

void check_grad(const Node& node, std::size_t i, const Edge& e, const Tensor& g) {
  if (g.shape() != e.shape || g.dtype() != e.dtype)
    throw std::logic_error(fmt::format("backward of {}: gradient for input {} is {} {}, expected {} {}", node.name(), i,
                                       shape_str(g.shape()), dtype_name(g.dtype()), shape_str(e.shape),
                                       dtype_name(e.dtype)));
}

}  // namespace

void backward(const Tensor& root, const Tensor& seed_in, BackwardOptions options) {
  if (!root.defined()) throw std::invalid_argument("backward: undefined tensor");
  Tensor seed = seed_in;
  if (!seed.defined()) {
    if (root.numel() != 1)
      throw std::invalid_argument(fmt::format(
          "backward: the output has shape {}; a non-scalar output needs an explicit seed gradient of that shape",
          shape_str(root.shape())));
    seed = Tensor::full(root.shape(), 1.0, root.dtype(), root.device());
  } else if (seed.shape() != root.shape() || seed.dtype() != root.dtype()) {
    throw std::invalid_argument(fmt::format("backward: seed {} {} does not match the output {} {}",
                                            shape_str(seed.shape()), dtype_name(seed.dtype()),
                                            shape_str(root.shape()), dtype_name(root.dtype())));
  }
  NoGradGuard no_grad;
  const auto root_fn = root.grad_fn();
  if (!root_fn) {
    if (!root.requires_grad())
      throw std::invalid_argument("backward: the tensor does not require grad and has no grad_fn "
                                  "(was it computed under NoGradGuard, or from tensors without requires_grad_()?)");
    accumulate_leaf(*root.meta(), seed);
    return;
  }

  // 1. Collect the graph and count, for each node, its consumers inside the graph.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack{root_fn.get()};
  std::unordered_set<Node*> seen{root_fn.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (n->released())
      throw std::runtime_error(fmt::format(
          "backward: the graph through {} was already run backwards and its saved tensors were released; "
          "pass BackwardOptions{{.retain_graph = true}} to the first backward to run it twice",
          n->name()));
    for (const auto& e : n->next()) {
      if (!e.node) continue;
      deps[e.node.get()] += 1;
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }

  // 2. Run nodes whose consumers have all delivered, newest first.
  auto newer = [](Node* a, Node* b) { return a->sequence_nr() < b->sequence_nr(); };
  std::priority_queue<Node*, std::vector<Node*>, decltype(newer)> ready(newer);
  std::unordered_map<Node*, Tensor> grads;
  grads[root_fn.get()] = seed;
  ready.push(root_fn.get());
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    Tensor dout = std::move(grads[n]);
    grads.erase(n);
    std::vector<Tensor> din;
    if (dout.defined()) din = n->backward(dout);
    const auto& next = n->next();
    if (dout.defined() && din.size() != next.size())
      throw std::logic_error(fmt::format("backward of {}: returned {} gradients for {} inputs", n->name(), din.size(),
                                         next.size()));
    for (std::size_t i = 0; i < next.size(); ++i) {
      const Edge& e = next[i];
      if (!e.valid()) continue;
      const Tensor g = i < din.size() ? din[i] : Tensor();
      if (g.defined()) check_grad(*n, i, e, g);
      if (e.leaf) {
        if (g.defined()) accumulate_leaf(*e.leaf, g);
        continue;
      }
      Node* p = e.node.get();
      if (g.defined()) {
        auto it = grads.find(p);
        if (it == grads.end() || !it->second.defined())
          grads[p] = g;
        else
          it->second = prim::binary(prim::Binary::add, it->second, g);
      } else {
        grads.try_emplace(p);  // keeps an undefined slot so the producer still runs its turn
      }
      if (--deps[p] == 0) ready.push(p);
    }
    if (!options.retain_graph) {
      n->release_saved();
      n->mark_released();
    }
  }
}

std::string to_dot(const Tensor& root) {
  std::string out = "digraph whitebox {\n  rankdir=BT;\n";
  const auto root_fn = root.grad_fn();
  if (!root_fn) return out + "}\n";
  std::vector<Node*> stack{root_fn.get()};
  std::unordered_set<Node*> seen{root_fn.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    out += fmt::format("  n{} [label=\"{} #{}\"];\n", n->sequence_nr(), n->name(), n->sequence_nr());
    for (const auto& e : n->next()) {
      if (e.node) {
        out += fmt::format("  n{} -> n{};\n", e.node->sequence_nr(), n->sequence_nr());
        if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
      } else if (e.leaf) {
        const auto id = reinterpret_cast<std::uintptr_t>(e.leaf.get());
        out += fmt::format("  l{} [shape=box,label=\"leaf {}\"];\n  l{} -> n{};\n", id, shape_str(e.shape), id,
                           n->sequence_nr());
      }
    }
  }
  return out + "}\n";
}

}  // namespace wb::autograd
