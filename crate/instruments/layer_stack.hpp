// A stack of CRATE layers as the instruments take it: any model's layers in order (an encoder, a
// decoder or a causal stack alike), with one LayerTrace per layer from the same forward pass. U comes
// from each block (CrateLayer::subspaces()) and the block choices from its BlockConfig, never from a
// model class or a tensor name. CrateModel::layers() (a std::vector<CrateLayer*>) converts implicitly.
#pragma once

#include <span>

#include "crate/blocks/layer.hpp"

namespace wb::crate {

using LayerStack = std::span<const CrateLayer* const>;

}  // namespace wb::crate
