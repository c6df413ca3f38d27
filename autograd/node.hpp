// Node: one recorded op in the define-by-run graph.
//
// A Node is created by an op's forward when grad mode is on and some input requires a gradient. It
// holds one Edge per input (to the Node that produced that input, or to a leaf's AutogradMeta, or
// nothing when that input needs no gradient), the data it saved for its backward, and its op name.
// It never holds its own output or any graph handle of it, so the graph has no cycles: outputs point
// to nodes, nodes point only to their inputs' producers.
//
// Each op file in ops/ defines its Node subclass right below the forward (see ops/README in
// docs/ARCHITECTURE.md). backward() receives the gradient of the output and returns one gradient per
// input (undefined where needs_grad(i) is false); it runs with grad mode off and calls only prim::.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::autograd {

struct Edge {
  std::shared_ptr<Node> node;          // producer of a non-leaf input
  std::shared_ptr<AutogradMeta> leaf;  // a leaf input that requires grad
  Shape shape;                         // the input's shape, checked against its gradient
  DType dtype = DType::f32;
  bool valid() const { return node != nullptr || leaf != nullptr; }
};

class Node {
 public:
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual std::string_view name() const = 0;
  virtual std::vector<Tensor> backward(const Tensor& dout) = 0;
  // Drops saved tensors; called after backward unless the graph is retained.
  virtual void release_saved() {}

  bool needs_grad(std::size_t input) const { return input < next_.size() && next_[input].valid(); }
  const std::vector<Edge>& next() const { return next_; }
  std::uint64_t sequence_nr() const { return seq_; }
  bool released() const { return released_; }
  void mark_released() { released_ = true; }

 private:
  friend void attach(Tensor& out, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs);
  std::vector<Edge> next_;
  std::uint64_t seq_;
  bool released_ = false;
};

// True when an op over `inputs` must record a node: grad mode is on and some input requires grad.
bool should_record(const std::vector<Tensor>& inputs);
// Makes `node` the producer of `out` (giving out a fresh autograd slot) with one edge per input.
void attach(Tensor& out, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs);

// Convenience for op files: records N(args...) as the producer of out when should_record(inputs).
template <class N, class... Args>
void record(Tensor& out, const std::vector<Tensor>& inputs, Args&&... args) {
  if (should_record(inputs)) attach(out, std::make_shared<N>(std::forward<Args>(args)...), inputs);
}

}  // namespace wb::autograd
