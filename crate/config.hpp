// CrateConfig: every architecture choice of a CRATE (or ViT baseline) as a config value.
//
// Defaults follow the official implementation (crate-spec §1): one projection U shared by query, key
// and value, scale 1/sqrt(p), free output projection with bias, ISTA with a square dictionary, step
// eta = 0.1 and threshold lambda = 0.1, no residual around ISTA, pre-LN, class-token pooling.
// The switches below select the paper's forms and the variants of spec §1.6 and §9.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tensor/dtype.hpp"

namespace wb::crate {

struct CrateConfig {
  std::string name = "custom";
  // input
  std::int64_t image_size = 224;
  std::int64_t patch_size = 16;
  std::int64_t channels = 3;
  std::int64_t num_classes = 1000;
  // width and depth
  std::int64_t dim = 384;       // d
  std::int64_t depth = 12;      // L
  std::int64_t heads = 6;       // K
  std::int64_t dim_head = 64;   // p (K * p = d in every released configuration)
  // ISTA
  double eta = 0.1;     // step size (`step_size` / `ista` in the official code)
  double lambda = 0.1;  // sparsity weight (`lambd`)
  // head
  std::string pool = "cls";  // "cls" or "mean"
  double ln_eps = 1e-5;
  double dropout = 0.0;      // embedding / attention dropout (0 in the official CRATE)
  DType dtype = DType::f32;
  std::uint64_t seed = 0;    // initialization seed

  // ---- variants (the official CRATE is the default of each) ----
  std::string attention = "mssa";        // "mssa" (tied U) | "standard" (separate Q, K, V, as ViT)
  std::string mlp = "ista";              // "ista" | "mlp" (GELU, mlp_ratio x width, as ViT)
  std::int64_t mlp_ratio = 4;
  bool ista_residual = false;            // z = z_half + ISTA(LN(z_half)) instead of ISTA(LN(z_half))
  bool learnable_ista = false;           // eta and lambda as trained parameters
  std::string output_map = "free";       // "free" (W_o, b_o) | "paper" (U itself times p/(N eps^2))
  double paper_eps = 0.1;                // eps of the paper's output scale p/(N eps^2)
  std::string dictionary = "complete";   // "complete" (d x d) | "overcomplete" (CRATE-alpha, d x 4d)
  std::int64_t overcomplete_ratio = 4;

  std::int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  std::int64_t tokens() const { return num_patches() + 1; }  // n = N + 1 with the class token
  std::int64_t patch_dim() const { return patch_size * patch_size * channels; }
  std::int64_t inner_dim() const { return heads * dim_head; }
  // Throws std::invalid_argument naming the first inconsistent field.
  void validate() const;
};

// Named configurations: crate-tiny/small/base/large (224/16, 1000 classes; spec §1.5), the small
// ones for 28x28 and 32x32 input (patch 4), and vit-* baselines matched to them.
CrateConfig named_config(const std::string& name);
std::vector<std::string> config_names();

// Closed-form parameter count of a configuration (spec §1.5), without building the model.
std::int64_t count_parameters(const CrateConfig& c);

nlohmann::json to_json(const CrateConfig& c);
CrateConfig config_from_json(const nlohmann::json& j);

}  // namespace wb::crate
