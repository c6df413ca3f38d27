#include "ops/optim/optimizer.hpp"

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/grad_mode.hpp"
#include "tensor/prim.hpp"

namespace wb::optim {

bool is_norm_or_bias(const std::string& /*name*/, const Tensor& p) { return p.dim() <= 1; }

std::vector<ParamGroup> split_decay(const NamedTensors& named, double lr, double weight_decay,
                                    const NoDecayPredicate& no_decay) {
  ParamGroup decay{.params = {}, .lr = lr, .weight_decay = weight_decay, .names = {}};
  ParamGroup no{.params = {}, .lr = lr, .weight_decay = 0.0, .names = {}};
  for (const auto& [name, p] : named) {
    ParamGroup& g = no_decay(name, p) ? no : decay;
    g.params.push_back(p);
    g.names.push_back(name);
  }
  return {std::move(decay), std::move(no)};
}

namespace {

void check_hyper(const std::string& opt, std::size_t g, double lr, double weight_decay) {
  if (!(lr >= 0.0) || !std::isfinite(lr))
    throw std::invalid_argument(fmt::format("{}: group {} has lr = {}; it must be finite and >= 0", opt, g, lr));
  if (!(weight_decay >= 0.0) || !std::isfinite(weight_decay))
    throw std::invalid_argument(
        fmt::format("{}: group {} has weight_decay = {}; it must be finite and >= 0", opt, g, weight_decay));
}

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, std::vector<std::string> buffer_names)
    : name_(std::move(name)), groups_(std::move(groups)), buffer_names_(std::move(buffer_names)) {
  std::size_t total = 0;
  std::map<std::pair<const void*, std::int64_t>, std::string> seen;  // (storage, offset) -> label
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    check_hyper(name_, g, group.lr, group.weight_decay);
    if (!group.names.empty() && group.names.size() != group.params.size())
      throw std::invalid_argument(fmt::format("{}: group {} has {} params but {} names; give one name per param or none",
                                              name_, g, group.params.size(), group.names.size()));
    initial_lr_.push_back(group.lr);
    state_.emplace_back();
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      const std::string label = param_label(g, i);
      if (!p.defined()) throw std::invalid_argument(fmt::format("{}: {} is an undefined tensor", name_, label));
      if (!is_floating(p.dtype()))
        throw std::invalid_argument(fmt::format("{}: {} has dtype {}; parameters must be f32 or f64", name_, label,
                                                dtype_name(p.dtype())));
      const auto [it, fresh] = seen.emplace(std::make_pair(p.storage().get(), p.offset()), label);
      if (!fresh)
        throw std::invalid_argument(fmt::format("{}: {} is the same tensor as {}; a parameter may appear only once "
                                                "across all groups", name_, label, it->second));
      ParamState s;
      for (std::size_t b = 0; b < buffer_names_.size(); ++b) s.buffers.push_back(prim::zeros_like(p));
      state_[g].push_back(std::move(s));
      ++total;
    }
  }
  if (total == 0) throw std::invalid_argument(fmt::format("{}: got an empty parameter list", name_));
}

std::string Optimizer::param_label(std::size_t g, std::size_t i) const {
  const ParamGroup& group = groups_[g];
  if (!group.names.empty()) return fmt::format("group{}.param{} ({})", g, i, group.names[i]);
  return fmt::format("group{}.param{}", g, i);
}

void Optimizer::step() {
  autograd::NoGradGuard no_grad;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      const Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (grad.shape() != p.shape() || grad.dtype() != p.dtype() || grad.device() != p.device())
        throw std::invalid_argument(fmt::format("{}.step: {} is {} {} on {} but its gradient is {} {} on {}", name_,
                                                param_label(g, i), shape_str(p.shape()), dtype_name(p.dtype()),
                                                device_name(p.device()), shape_str(grad.shape()),
                                                dtype_name(grad.dtype()), device_name(grad.device())));
      ParamState& s = state_[g][i];
      ++s.step;
      update(group, p, grad, s);
    }
  }
}

void Optimizer::zero_grad() {
  for (const ParamGroup& group : groups_)
    for (const Tensor& p : group.params) p.zero_grad();
}

std::vector<Tensor> Optimizer::params() const {
  std::vector<Tensor> all;
  for (const ParamGroup& group : groups_) all.insert(all.end(), group.params.begin(), group.params.end());
  return all;
}

const ParamState& Optimizer::state(std::size_t group, std::size_t index) const {
  if (group >= state_.size() || index >= state_[group].size())
    throw std::out_of_range(fmt::format("{}.state: no parameter {} in group {} ({} groups)", name_, index, group,
                                        state_.size()));
  return state_[group][index];
}

double Optimizer::lr(std::size_t group) const {
  if (group >= groups_.size())
    throw std::out_of_range(fmt::format("{}.lr: no group {} ({} groups)", name_, group, groups_.size()));
  return groups_[group].lr;
}

void Optimizer::set_lr(double lr) {
  for (std::size_t g = 0; g < groups_.size(); ++g) set_group_lr(g, lr);
}

void Optimizer::set_group_lr(std::size_t group, double lr) {
  if (group >= groups_.size())
    throw std::out_of_range(fmt::format("{}.set_group_lr: no group {} ({} groups)", name_, group, groups_.size()));
  check_hyper(name_, group, lr, groups_[group].weight_decay);
  groups_[group].lr = lr;
}

void Optimizer::set_lr_factor(double factor) {
  for (std::size_t g = 0; g < groups_.size(); ++g) set_group_lr(g, initial_lr_[g] * factor);
}

NamedTensors Optimizer::state_tensors() const {
  NamedTensors out;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    out.emplace_back(fmt::format("group{}.lr", g), Tensor::scalar(groups_[g].lr, DType::f64));
    out.emplace_back(fmt::format("group{}.weight_decay", g), Tensor::scalar(groups_[g].weight_decay, DType::f64));
    for (std::size_t i = 0; i < groups_[g].params.size(); ++i) {
      const ParamState& s = state_[g][i];
      out.emplace_back(fmt::format("group{}.param{}.step", g, i),
                       Tensor::scalar(static_cast<double>(s.step), DType::i64));
      for (std::size_t b = 0; b < buffer_names_.size(); ++b)
        out.emplace_back(fmt::format("group{}.param{}.{}", g, i, buffer_names_[b]), prim::clone(s.buffers[b]));
    }
  }
  return out;
}

void Optimizer::load_state_tensors(const NamedTensors& state) {
  const std::string what = name_ + ".load_state_tensors";
  std::map<std::string, Tensor> given;
  for (const auto& [name, t] : state) {
    if (!given.emplace(name, t).second)
      throw std::invalid_argument(fmt::format("{}: entry '{}' appears twice", what, name));
  }
  std::set<std::string> used;
  // Looks up one expected entry and checks its shape and dtype.
  auto take = [&](const std::string& name, const std::string& label, const Shape& shape, DType dtype) -> Tensor {
    const auto it = given.find(name);
    if (it == given.end())
      throw std::invalid_argument(fmt::format("{}: missing entry '{}'{}; was the state saved by a {} over the same "
                                              "parameter groups?", what, name, label, name_));
    const Tensor& t = it->second;
    if (!t.defined()) throw std::invalid_argument(fmt::format("{}: entry '{}'{} is undefined", what, name, label));
    if (t.shape() != shape || t.dtype() != dtype)
      throw std::invalid_argument(fmt::format("{}: entry '{}'{} is {} {}, expected {} {}", what, name, label,
                                              shape_str(t.shape()), dtype_name(t.dtype()), shape_str(shape),
                                              dtype_name(dtype)));
    used.insert(name);
    return t;
  };

  struct Pending {
    std::vector<double> lr, weight_decay;
    std::vector<std::vector<std::int64_t>> step;
    std::vector<std::vector<std::vector<Tensor>>> buffers;
  } pending;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string gname = fmt::format("group{}", g);
    const double lr = take(gname + ".lr", "", {}, DType::f64).item();
    const double wd = take(gname + ".weight_decay", "", {}, DType::f64).item();
    check_hyper(what, g, lr, wd);
    pending.lr.push_back(lr);
    pending.weight_decay.push_back(wd);
    pending.step.emplace_back();
    pending.buffers.emplace_back();
    for (std::size_t i = 0; i < groups_[g].params.size(); ++i) {
      const Tensor& p = groups_[g].params[i];
      const std::string pname = fmt::format("{}.param{}", gname, i);
      const std::string label = groups_[g].names.empty() ? "" : fmt::format(" ({})", groups_[g].names[i]);
      const double step = take(pname + ".step", label, {}, DType::i64).item();
      if (step < 0)
        throw std::invalid_argument(fmt::format("{}: entry '{}.step'{} is {}; a step count is >= 0", what, pname,
                                                label, step));
      pending.step[g].push_back(static_cast<std::int64_t>(step));
      pending.buffers[g].emplace_back();
      for (const std::string& b : buffer_names_)
        pending.buffers[g][i].push_back(take(pname + "." + b, label, p.shape(), p.dtype()));
    }
  }
  for (const auto& [name, t] : given) {
    if (!used.contains(name))
      throw std::invalid_argument(fmt::format("{}: unknown entry '{}'; was the state saved by a {} over the same "
                                              "parameter groups?", what, name, name_));
  }
  // Everything checked: commit.
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = pending.lr[g];
    groups_[g].weight_decay = pending.weight_decay[g];
    for (std::size_t i = 0; i < groups_[g].params.size(); ++i) {
      ParamState& s = state_[g][i];
      s.step = pending.step[g][i];
      for (std::size_t b = 0; b < buffer_names_.size(); ++b) prim::copy_(s.buffers[b], pending.buffers[g][i][b]);
    }
  }
}

}  // namespace wb::optim
