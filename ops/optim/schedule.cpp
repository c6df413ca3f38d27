#include "ops/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include <fmt/format.h>

namespace wb::optim {

double crate_lambda(std::int64_t epoch, std::int64_t warmup_epochs, std::int64_t epochs) {
  if (epoch < 0 || warmup_epochs < 1 || epochs < 1)
    throw std::invalid_argument(fmt::format("crate_lambda: need epoch >= 0, warmup_epochs >= 1 and epochs >= 1 (got "
                                            "{}, {}, {})", epoch, warmup_epochs, epochs));
  const double e = static_cast<double>(std::min(epoch, epochs));
  const double warm = (e + 1.0) / static_cast<double>(warmup_epochs);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * e / static_cast<double>(epochs)));
  return std::min(warm, cosine);
}

Schedule::Schedule(ScheduleConfig c) : config_(c) {
  auto fail = [](const std::string& msg) { throw std::invalid_argument("Schedule: " + msg); };
  if (!(c.base_lr >= 0.0) || !std::isfinite(c.base_lr)) fail(fmt::format("base_lr = {} must be finite and >= 0", c.base_lr));
  if (!(c.min_lr >= 0.0) || c.min_lr > c.base_lr)
    fail(fmt::format("min_lr = {} must be in [0, base_lr = {}]", c.min_lr, c.base_lr));
  if (c.warmup < 0) fail(fmt::format("warmup = {} must be >= 0", c.warmup));
  if (c.total < 1 || c.total < c.warmup)
    fail(fmt::format("total = {} must be >= 1 and >= warmup = {}", c.total, c.warmup));
  if (c.kind == ScheduleKind::crate_official) {
    if (c.warmup < 1) fail("crate_official needs warmup >= 1 (its factor divides by the warmup length)");
    if (c.min_lr != 0.0)
      fail(fmt::format("crate_official has no floor (it decays to 0), but min_lr = {}; use warmup_cosine for a floor",
                       c.min_lr));
  }
}

double Schedule::lr(std::int64_t t) const {
  if (t < 0) throw std::invalid_argument(fmt::format("Schedule::lr: t = {} must be >= 0", t));
  const ScheduleConfig& c = config_;
  if (c.kind == ScheduleKind::crate_official) return c.base_lr * crate_lambda(t, c.warmup, c.total);
  if (t < c.warmup) return c.base_lr * static_cast<double>(t + 1) / static_cast<double>(c.warmup);
  if (t >= c.total) return c.min_lr;
  const double progress = static_cast<double>(t - c.warmup) / static_cast<double>(c.total - c.warmup);
  return c.min_lr + (c.base_lr - c.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

double Schedule::factor(std::int64_t t) const {
  const double v = lr(t);
  return config_.base_lr == 0.0 ? 0.0 : v / config_.base_lr;
}

double Schedule::apply(Optimizer& opt, std::int64_t t) const {
  opt.set_lr_factor(factor(t));
  return lr(t);
}

}  // namespace wb::optim
