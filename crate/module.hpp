// Module: a named tree of parameters, the way PyTorch's nn.Module names them.
//
// A module registers its parameters and child modules under names; named_parameters() walks the tree
// and returns dotted names ("transformer.layers.0.0.fn.qkv.weight") in registration order. Models use
// exactly the names of the official PyTorch CRATE state_dict (crate-spec Appendix B), so checkpoints
// load on both sides. Forward functions are ordinary member functions of the concrete modules.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace wb::crate {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::int64_t parameter_count() const;
  // Sets training mode (dropout and similar) on this module and every child.
  void train(bool on = true);
  bool training() const { return training_; }
  // Casts every parameter to `dtype` in place of the old tensor (a fresh leaf).
  void to(DType dtype);

 protected:
  // Registers a leaf parameter (marks it requires_grad) and returns a reference to the stored handle.
  Tensor& register_parameter(std::string name, Tensor value);
  template <class M>
  M& register_module(std::string name, std::shared_ptr<M> child) {
    M& ref = *child;
    children_.emplace_back(std::move(name), std::move(child));
    return ref;
  }

 private:
  void collect(const std::string& prefix, NamedTensors& out) const;
  std::deque<std::pair<std::string, Tensor>> params_;  // deque: references stay valid as it grows
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// y = x W^T + b; W: (out, in), b: (out). PyTorch nn.Linear init: U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(std::int64_t in, std::int64_t out, bool bias, DType dtype, Generator& gen);
  Tensor forward(const Tensor& x) const;
  Tensor& weight() { return *weight_; }
  Tensor& bias() { return *bias_; }
  bool has_bias() const { return bias_ != nullptr; }

 private:
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
};

// LayerNorm over the last axis with affine weight (init 1) and bias (init 0).
class LayerNorm : public Module {
 public:
  LayerNorm(std::int64_t dim, double eps, DType dtype);
  Tensor forward(const Tensor& x) const;

 private:
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
  double eps_;
};

// Draws U(-bound, bound) into a new tensor of `shape`.
Tensor uniform_init(const Shape& shape, double bound, DType dtype, Generator& gen);
Tensor normal_init(const Shape& shape, double stddev, DType dtype, Generator& gen);

}  // namespace wb::crate
