// The loss and every parameter's gradient for one batch, as `whitebox grads` writes them for parity
// checks against another framework (the PyTorch transcription of the official model, say).
//
// The model runs in evaluation mode (no dropout, so the numbers depend on the weights and the batch
// alone) with the task's training loss (label smoothing included) plus the loop's objectives
// (srr_weight * the sparse rate reduction term). Gradients start from zero; a parameter that the loss
// does not reach gets a zero gradient.
#pragma once

#include "crate/train/task.hpp"

namespace wb::crate {

struct BatchGradients {
  double loss = 0.0;
  double srr = 0.0;              // the sparse rate reduction term (0 when srr_weight is 0)
  NamedTensors grads;            // one per parameter, the parameter's name and shape, in model order
};

BatchGradients batch_gradients(Task& task, const data::Batch& batch, double srr_weight);

}  // namespace wb::crate
