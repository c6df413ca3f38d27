// Grad mode: whether ops record graph nodes. A thread-local flag behind RAII guards, like PyTorch's
// torch.no_grad() and torch.enable_grad(). Evaluation loops and optimizer steps hold a NoGradGuard;
// code that needs a backward inside such a scope (an exact gradient step in an instrument) holds an
// EnableGradGuard. Each guard restores the mode it found.
#pragma once

namespace wb::autograd {

class GradMode {
 public:
  static bool enabled();
  static void set_enabled(bool on);
};

// Sets grad mode to `on` for the guard's lifetime.
template <bool on>
class GradModeGuard {
 public:
  GradModeGuard() : prev_(GradMode::enabled()) { GradMode::set_enabled(on); }
  ~GradModeGuard() { GradMode::set_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};
using NoGradGuard = GradModeGuard<false>;
using EnableGradGuard = GradModeGuard<true>;

}  // namespace wb::autograd
