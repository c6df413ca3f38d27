// White-box measurement of both halves of a masked autoencoder (issue 13 item 5): whether the decoder
// undoes the encoder's compression. Per image (the official measurement convention of measure.hpp:
// eps^2 = 0.01, unit-norm head projections, n = N + 1 tokens), for
//   encoder layer l:  rc = R^c(LN1(Z^l) | U^l)          (measure.hpp's rc_in, the MSSA input)
//                     nonzero = ||Z^{l+1}||_0 / (n d)    (the ISTA output's sparsity)
//   decoder layer l:  rc = R^c(LN_b(Z_half^l) | U~^l)    (the decoder MSSA's input, its own subspaces)
//                     and rc_out = R^c(Z^{l+1} | U~^l)     (the layer output)
// each as mean and standard deviation over the images. Compression falling through the encoder and
// rising back through the decoder is the paper's claim; the figure shows whether it does.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "crate/instruments/measure.hpp"
#include "crate/models/mae/autoencoder.hpp"
#include "datasets/loader.hpp"

namespace wb::crate {

struct MaeProfile {
  std::string label;
  std::int64_t images = 0;
  std::vector<Stat> encoder_rc, encoder_nonzero;  // per encoder layer
  std::vector<Stat> decoder_rc, decoder_rc_out;   // per CRATE decoder layer
};

// The mask of one batch (B, N), e.g. the task's fixed evaluation mask.
using MaskOf = std::function<Tensor(const data::Batch&)>;
// One pass over `loader` in evaluation mode without a graph. Throws std::invalid_argument for a ViT
// backbone (its decoder has no CRATE layers).
MaeProfile measure_mae(const MaskedAutoencoder& model, data::Loader& loader, const std::string& label,
                       const MaskOf& mask_of);

// <prefix>.csv (one row per half, layer and profile) and, with gnuplot, <prefix>.png: R^c against
// the layer index through encoder then decoder (one curve per profile, with error bars) and the
// encoder's sparsity.
void write_mae_profiles(const std::string& prefix, const std::vector<MaeProfile>& profiles, bool plot);

}  // namespace wb::crate
