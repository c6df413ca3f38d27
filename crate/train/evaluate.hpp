// Evaluation of any task: loss and metric means over one pass of a loader, in evaluation mode
// (ModeGuard) and without recording a graph. Batches are weighted by their example counts.
#pragma once

#include "crate/train/task.hpp"

namespace wb::crate {

EvalResult evaluate(Task& task, data::Loader& loader);

}  // namespace wb::crate
