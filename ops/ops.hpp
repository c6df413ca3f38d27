// Everything differentiable in whitebox, in one include. Each op's header states its forward math,
// its derivative and what it saves; the Node that implements the backward sits right below the
// forward in the matching .cpp.
#pragma once

#include "ops/activation.hpp"
#include "ops/arith.hpp"
#include "ops/attention.hpp"
#include "ops/coding_rate.hpp"
#include "ops/dropout.hpp"
#include "ops/index.hpp"
#include "ops/layer_norm.hpp"
#include "ops/logdet.hpp"
#include "ops/loss.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/softmax.hpp"
#include "ops/tssa.hpp"
#include "ops/unary.hpp"
