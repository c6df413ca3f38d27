// Module: a named tree of parameters, the way PyTorch's nn.Module names them.
//
// A module registers its parameters and child modules under names; named_parameters() walks the tree
// and returns dotted names ("transformer.layers.0.0.fn.qkv.weight") in registration order. Models use
// exactly the names of the official PyTorch CRATE state_dict (crate-spec Appendix B), so checkpoints
// load on both sides. Forward functions are ordinary member functions of the concrete modules.
// ModeGuard switches a module tree to training or evaluation mode for a scope (torch's
// `model.eval()` ... `model.train(was)`), so evaluation code never edits a caller's mode by hand.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// Sets `module`'s tree to training (true) or evaluation (false) mode for the guard's lifetime and
// restores the mode the module had before, also when an exception leaves the scope.
class ModeGuard {
 public:
  ModeGuard(Module& module, bool training) : module_(module), prev_(module.training()) { module_.train(training); }
  ~ModeGuard() { module_.train(prev_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  Module& module_;
  bool prev_;
};

}  // namespace wb::crate
