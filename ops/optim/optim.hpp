// wb::optim in one include: parameter groups and the Optimizer base (optimizer.hpp), SGD, AdamW, Lion,
// learning-rate schedules (schedule.hpp) and gradient-norm clipping (clip.hpp). Each header states its
// update rule.
#pragma once

#include "ops/optim/adamw.hpp"
#include "ops/optim/clip.hpp"
#include "ops/optim/lion.hpp"
#include "ops/optim/optimizer.hpp"
#include "ops/optim/schedule.hpp"
#include "ops/optim/sgd.hpp"
