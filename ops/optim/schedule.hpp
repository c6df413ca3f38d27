// Learning-rate schedules. t counts steps or epochs: whatever unit warmup and total are given in.
//   warmup_cosine   (timm / nanoGPT style, W = warmup, T = total)
//     t <  W:       lr = base * (t + 1) / W                                 (linear warmup from base / W)
//     W <= t < T:   lr = min + (base - min) * 0.5 * (1 + cos(pi * (t - W) / (T - W)))
//     t >= T:       lr = min
//   crate_official  (CRATE main.py's LambdaLR, stepped per epoch, W warmup epochs, T = E epochs)
//     lr = base * min((t + 1) / W, 0.5 * (1 + cos(pi * t / T)))            (t clamped to T; no floor)
// apply() sets each optimizer group's lr to (its lr at construction) * lr(t) / base.
#pragma once

#include <cstdint>

#include "ops/optim/optimizer.hpp"

namespace wb::optim {

enum class ScheduleKind { warmup_cosine, crate_official };

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::warmup_cosine;
  double base_lr = 1e-3;
  std::int64_t warmup = 0;  // crate_official needs warmup >= 1
  std::int64_t total = 1;   // T >= max(W, 1)
  double min_lr = 0.0;      // floor of warmup_cosine; must be 0 for crate_official
};

// The official CRATE per-epoch LambdaLR factor min((e + 1) / W, 0.5 (1 + cos(pi e / E))), e clamped to E.
double crate_lambda(std::int64_t epoch, std::int64_t warmup_epochs, std::int64_t epochs);

class Schedule {
 public:
  explicit Schedule(ScheduleConfig config);  // validates; throws std::invalid_argument naming the field

  double lr(std::int64_t t) const;      // t >= 0
  double factor(std::int64_t t) const;  // lr(t) / base_lr (0 when base_lr is 0)
  // Sets the lr of every group of `opt` to its construction-time lr times factor(t); returns lr(t).
  double apply(Optimizer& opt, std::int64_t t) const;
  const ScheduleConfig& config() const { return config_; }

 private:
  ScheduleConfig config_;
};

}  // namespace wb::optim
