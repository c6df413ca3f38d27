#include "crate/train/evaluate.hpp"

#include "autograd/grad_mode.hpp"

namespace wb::crate {

EvalResult evaluate(Task& task, data::Loader& loader) {
  const ModeGuard eval(task.model(), false);
  autograd::NoGradGuard ng;
  EvalResult r;
  double loss_sum = 0.0;
  Metrics sums;
  loader.start(0, 0);
  while (auto b = loader.next()) {
    const TaskStep s = task.step(*b, Phase::eval, nullptr);
    loss_sum += s.loss.item() * static_cast<double>(s.count);
    for (const auto& [name, v] : s.sums) sums[name] += v;
    r.count += s.count;
  }
  if (r.count > 0) {
    r.loss = loss_sum / static_cast<double>(r.count);
    for (const auto& [name, v] : sums) r.metrics[name] = v / static_cast<double>(r.count);
  }
  return r;
}

}  // namespace wb::crate
