// Optimizer: the base of wb::optim (SGD, AdamW, Lion), parameter groups and the decay/no-decay split.
//
//   step():  for each group g, for each parameter p whose gradient is defined:
//              state.step += 1;  update(g, p, p.grad(), state)        (under autograd::NoGradGuard)
//
// Each group carries its own lr and weight decay (e.g. no decay on LayerNorm weights and biases, see
// split_decay). Parameters whose gradient is undefined are skipped and their step count does not move,
// as in PyTorch. zero_grad() zero-fills gradients and keeps their memory. Per-parameter state (the
// optimizer's buffers, zero-initialised, and a step count) is allocated at construction, so
// state_tensors() always lists every entry and load_state_tensors() insists on all of them:
//   group<g>.lr, group<g>.weight_decay            f64 scalars
//   group<g>.param<i>.step                        i64 scalar
//   group<g>.param<i>.<buffer>                    the parameter's shape and dtype (e.g. exp_avg)
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct ParamGroup {
  std::vector<Tensor> params = {};
  double lr = 1e-3;
  double weight_decay = 0.0;
  std::vector<std::string> names = {};  // optional, one per param; used in error messages
};

// Decides which parameters get no weight decay.
using NoDecayPredicate = std::function<bool(const std::string& name, const Tensor& p)>;
// The default (PyTorch/timm style): tensors of rank <= 1, i.e. norm scales and biases.
bool is_norm_or_bias(const std::string& name, const Tensor& p);
// Returns {decay group (weight_decay), no-decay group (0)}, both with `lr`, parameters in the order
// given and names filled in. Both groups are always present (one may be empty), so group indices in
// state names are stable.
std::vector<ParamGroup> split_decay(const NamedTensors& named, double lr, double weight_decay,
                                    const NoDecayPredicate& no_decay = is_norm_or_bias);

struct ParamState {
  std::int64_t step = 0;        // updates applied to this parameter
  std::vector<Tensor> buffers;  // one per Optimizer::buffer_names(), shaped like the parameter
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void step();
  void zero_grad();

  std::string_view name() const { return name_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  std::vector<Tensor> params() const;  // every group's parameters, in order (e.g. for clip_grad_norm_)
  const std::vector<std::string>& buffer_names() const { return buffer_names_; }
  const ParamState& state(std::size_t group, std::size_t index) const;

  double lr(std::size_t group = 0) const;
  void set_lr(double lr);                     // every group
  void set_group_lr(std::size_t group, double lr);
  // lr of group g = (its lr at construction) * factor; what a LambdaLR-style schedule calls.
  void set_lr_factor(double factor);

  // A snapshot (deep copies) of the full state, named as in the header comment.
  NamedTensors state_tensors() const;
  // Restores a snapshot taken from an optimizer of the same kind over the same parameters: buffers, step
  // counts and each group's lr and weight_decay (as PyTorch's load_state_dict; set_lr_factor still scales
  // the construction-time lr). Every entry is checked (present, shape, dtype; no unknown names) before
  // anything is written; the first problem throws std::invalid_argument naming the entry. Tensors may
  // come from another device.
  void load_state_tensors(const NamedTensors& state);

 protected:
  Optimizer(std::string name, std::vector<ParamGroup> groups, std::vector<std::string> buffer_names);
  // Applies one update to p in place; s.step has already been incremented (1 on the first update).
  virtual void update(const ParamGroup& group, const Tensor& p, const Tensor& grad, ParamState& s) = 0;

 private:
  std::string param_label(std::size_t g, std::size_t i) const;

  std::string name_;
  std::vector<ParamGroup> groups_;
  std::vector<double> initial_lr_;
  std::vector<std::string> buffer_names_;
  std::vector<std::vector<ParamState>> state_;  // [group][param]
};

}  // namespace wb::optim
