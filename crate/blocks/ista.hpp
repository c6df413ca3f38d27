// ISTA, the CRATE sparsification step (crate-spec §1.2, §2.4). Input: X = LN2(Z_half), (B, n, d).
//
// Complete dictionary D (d x d, the official `fn.weight`), one proximal-gradient step on the
// nonnegative LASSO  lambda ||A||_1 + 1/2 ||X - A D^T||^2  (row form) warm-started at A = X:
//   out = ReLU(X + eta (X D - X D^T D) - eta lambda) = soft_threshold(X M, eta lambda),  M = I + eta (D - D^T D)
// computed with one token-sized product: M (as K = M - I, a d x d x d product) is formed once per step
// and shared by all B n tokens, then X M = X + X K. The backward goes through K by autodiff. No residual (the official code);
// config.ista_residual adds one in the model. config.learnable_ista makes eta and lambda trained
// parameters ("eta", "lambd").
//
// Overcomplete dictionary (CRATE-alpha, spec §9): D (d x r d), two ISTA steps from A0 = 0 and a
// decoupled output dictionary D1 (d x r d), row form:
//   A1 = ReLU(eta X D - eta lambda);  A2 = ReLU(A1 - eta (A1 D^T - X) D - eta lambda);  out = A2 D1^T
// Init: kaiming_uniform (a = 0, fan_in = columns of D, gain sqrt 2): U(-sqrt(6 / fan_in), +sqrt(6 / fan_in)).
#pragma once

#include "crate/blocks/config.hpp"
#include "crate/nn/module.hpp"
#include "tensor/rng.hpp"

namespace wb::crate {

class ISTA : public Module {
 public:
  ISTA(const BlockConfig& c, Generator& gen);
  // `code`, when given, receives the sparse code: the output itself for the complete dictionary, A2
  // (B, n, r d) for the overcomplete one (its output A2 D1^T is dense).
  Tensor forward(const Tensor& x, Tensor* code = nullptr) const;
  const Tensor& dictionary() const { return *d_; }
  // The decoupled output dictionary D1 of the overcomplete variant (undefined otherwise).
  Tensor output_dictionary() const { return d_out_ != nullptr ? *d_out_ : Tensor(); }

 private:
  BlockConfig c_;
  Tensor* d_ = nullptr;
  Tensor* d_out_ = nullptr;  // overcomplete only
  Tensor* eta_ = nullptr;    // learnable_ista only
  Tensor* lambda_ = nullptr;
};

}  // namespace wb::crate
