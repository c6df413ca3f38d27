// Numerical checks of the CRATE derivation (crate-spec §2.3, §2.4, §2.5), as plain numbers.
// `whitebox verify` prints them; docs/derivation.md walks through them. One file per claim:
//   verify/ista_prox.hpp      1. ISTA is one proximal-gradient step of the nonnegative LASSO, on a
//                                synthetic block or on the ISTA blocks of a real layer stack
//   verify/mssa_gradient.hpp  2. MSSA is an approximate gradient step on R^c
//   verify/denoise.hpp        3. a step along -grad R^c with the true subspaces denoises
// and verify/check.hpp for the verdict lines (Check) they all return.
#pragma once

#include "crate/instruments/verify/check.hpp"
#include "crate/instruments/verify/denoise.hpp"
#include "crate/instruments/verify/ista_prox.hpp"
#include "crate/instruments/verify/mssa_gradient.hpp"
