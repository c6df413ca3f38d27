// Grad mode: whether ops record graph nodes. A thread-local flag behind RAII guards, like PyTorch's
// torch.no_grad(). Evaluation loops and optimizer steps hold a NoGradGuard.
#pragma once

namespace wb::autograd {

class GradMode {
 public:
  static bool enabled();
  static void set_enabled(bool on);
};

class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace wb::autograd
