#include "experiments/cli_common.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "crate/io/checkpoint.hpp"

namespace wb::cli {
namespace {
CLI::Validator sign_check(bool strict) {
  return CLI::Validator(
      [strict](std::string& s) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(s, &used);
          if (used != s.size()) throw std::invalid_argument(s);
        } catch (const std::exception&) {
          return "expected a number, got '" + s + "'";
        }
        if (strict ? v > 0 : v >= 0) return {};
        return std::string(strict ? "must be positive" : "must be >= 0") + ", got " + s;
      },
      strict ? "POSITIVE" : "NONNEGATIVE");
}
}  // namespace

const CLI::Validator Positive = sign_check(true);
const CLI::Validator NonNegative = sign_check(false);

namespace {
// The integer CLI11 will store for `s` (strtoll, base 0 like CLI11), or nullopt if it is not one.
std::optional<long long> parse_integer(const std::string& s, bool is_unsigned) {
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 0);
  if (end != s.c_str() + s.size() || errno == ERANGE) {
    if (!is_unsigned || s.find('-') != std::string::npos) return std::nullopt;
    errno = 0;
    const unsigned long long u = std::strtoull(s.c_str(), &end, 0);
    if (end != s.c_str() + s.size() || errno == ERANGE) return std::nullopt;
    return u > static_cast<unsigned long long>(LLONG_MAX) ? LLONG_MAX : static_cast<long long>(u);
  }
  return v;
}
}  // namespace

CLI::Validator IntRange(std::int64_t lo, std::int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        const auto v = parse_integer(s, false);
        if (!v) return fmt::format("expected an integer in [{}, {}], got '{}'", lo, hi, s);
        if (*v < lo) return lo == 1 ? fmt::format("must be positive, got {}", s)
                            : lo == 0 ? fmt::format("must be >= 0, got {}", s)
                                      : fmt::format("must be >= {}, got {}", lo, s);
        if (*v > hi) return fmt::format("must be at most {}, got {}", hi, s);
        return {};
      },
      fmt::format("INT in [{}, {}]", lo, hi));
}

const CLI::Validator Threads = IntRange(0, 1024);
const CLI::Validator Epochs = IntRange(1, 1'000'000);
const CLI::Validator BatchSize = IntRange(1, 10'000'000);
const CLI::Validator Count = IntRange(0, 1'000'000'000'000);
const CLI::Validator Seed = CLI::Validator(
    [](std::string& s) -> std::string {
      if (s.find('-') != std::string::npos || !parse_integer(s, true))
        return fmt::format("must be an integer in [0, 2^64), got '{}'", s);
      return {};
    },
    "UINT64");

void ModelFlags::add(CLI::App& app, bool with_default) {
  auto* m = app.add_option("--model", name, "named configuration (see `whitebox params`)");
  if (with_default) m->capture_default_str();
  app.add_option("--dim", dim, "override the width d")->check(Positive);
  app.add_option("--depth", depth, "override the number of layers L")->check(NonNegative);
  app.add_option("--heads", heads, "override the number of heads K")->check(Positive);
  app.add_option("--dim-head", dim_head, "override the head width p")->check(Positive);
  app.add_option("--patch", patch, "override the patch size P")->check(Positive);
  app.add_option("--image-size", image_size, "override the input size")->check(Positive);
  app.add_option("--classes", classes, "override the number of classes")->check(Positive);
  app.add_option("--eta", eta, "ISTA step size (default 0.1)")->check(Positive);
  app.add_option("--lambda", lambda, "ISTA sparsity weight (default 0.1)")->check(NonNegative);
  app.add_option("--pool", pool, "head pooling")->check(one_of<crate::Pool>());
  app.add_option("--attention", attention,
                 "mssa (CRATE, tied U), standard (separate Q, K, V) or tssa (ToST's linear-time token statistics)")
      ->check(one_of<crate::AttentionKind>());
  app.add_option("--mlp", mlp, "ista (CRATE), mlp (ViT's GELU MLP) or none (attention only: MSSA layers, no ISTA)")
      ->check(one_of<crate::MlpKind>());
  app.add_option("--mssa-sign", mssa_sign, "plus (Z + MSSA, official) or minus (Z - MSSA, the critique's negative variant)")
      ->check(one_of<crate::MssaSign>());
  app.add_option("--output-map", output_map,
                 "free (W_o, official), paper (U scaled by p/(N eps^2)) or transposed (U unscaled: W_o tied to U^T)")
      ->check(one_of<crate::OutputMap>());
  app.add_option("--dictionary", dictionary, "complete (d x d) or overcomplete (CRATE-alpha, d x 4d)")
      ->check(one_of<crate::Dictionary>());
  app.add_option("--tssa-form", tssa_form, "TSSA's form: coded (ToST's code) or paper (raw ||U_k^T z||^2, d/eps^2)")
      ->check(one_of<ops::TssaForm>());
  app.add_option("--layer-scale", layer_scale, "LayerScale gammas initialised to this value (0: none)")
      ->check(NonNegative);
  app.add_flag("--ista-residual", ista_residual, "add a residual connection around ISTA");
  app.add_flag("--learnable-ista", learnable_ista, "train eta and lambda");
  app.add_flag("--f64", f64, "float64 parameters and activations");
}

bool ModelFlags::any_override() const {
  return dim || depth || heads || dim_head || patch || image_size || classes || eta || lambda || pool || attention ||
         mlp || mssa_sign || output_map || dictionary || ista_residual || learnable_ista || f64 || tssa_form || layer_scale;
}

crate::CrateConfig ModelFlags::resolve() const {
  crate::CrateConfig c = crate::named_config(name);
  if (dim) {
    c.dim = *dim;
    if (!dim_head) c.dim_head = c.dim / c.heads;
  }
  if (depth) c.depth = *depth;
  if (heads) {
    c.heads = *heads;
    if (!dim_head) c.dim_head = c.dim / c.heads;
  }
  if (dim_head) c.dim_head = *dim_head;
  if (patch) c.patch_size = *patch;
  if (image_size) c.image_size = *image_size;
  if (classes) c.num_classes = *classes;
  if (eta) c.eta = *eta;
  if (lambda) c.lambda = *lambda;
  if (pool) c.pool = crate::enum_from_name<crate::Pool>(*pool, "--pool");
  if (attention) c.attention = crate::enum_from_name<crate::AttentionKind>(*attention, "--attention");
  if (mlp) c.mlp = crate::enum_from_name<crate::MlpKind>(*mlp, "--mlp");
  if (mssa_sign) c.mssa_sign = crate::enum_from_name<crate::MssaSign>(*mssa_sign, "--mssa-sign");
  if (output_map) c.output_map = crate::enum_from_name<crate::OutputMap>(*output_map, "--output-map");
  if (dictionary) c.dictionary = crate::enum_from_name<crate::Dictionary>(*dictionary, "--dictionary");
  if (ista_residual) c.ista_residual = true;
  if (learnable_ista) c.learnable_ista = true;
  if (tssa_form) c.tssa_form = crate::enum_from_name<ops::TssaForm>(*tssa_form, "--tssa-form");
  if (layer_scale) c.layer_scale = *layer_scale;
  if (f64) c.dtype = DType::f64;
  if (any_override()) c.name += "+custom";
  c.validate();
  return c;
}

crate::MaeConfig MaeFlags::resolve(const ModelFlags& model) const {
  const std::string name = model.name.empty() || model.name == "crate-mini-28" ? "crate-mae-mini-28" : model.name;
  crate::MaeConfig c = crate::named_mae_config(name);
  if (model.pool || model.attention || model.mlp || model.mssa_sign || model.output_map || model.dictionary ||
      model.ista_residual || model.learnable_ista || model.tssa_form || model.layer_scale)
    throw std::invalid_argument(
        "MAE models: --pool, --attention, --mlp, --mssa-sign, --output-map, --dictionary, --ista-residual and --learnable-ista do not "
        "apply (name a vit-mae-* model for the ViT baseline)");
  bool custom = false;
  if (model.dim) c.dim = *model.dim, c.dim_head = c.dim / c.heads, custom = true;
  if (model.heads) c.heads = *model.heads, c.dim_head = c.dim / c.heads, custom = true;
  if (model.dim_head) c.dim_head = *model.dim_head, custom = true;
  if (model.patch) c.patch_size = *model.patch, custom = true;
  if (model.image_size) c.image_size = *model.image_size, custom = true;
  if (model.depth) c.depth = c.decoder_depth = *model.depth, custom = true;
  if (model.eta) c.eta = *model.eta, custom = true;
  if (model.lambda) c.lambda = *model.lambda, custom = true;
  if (mask_ratio) c.mask_ratio = *mask_ratio, custom = true;
  if (norm_pix) c.norm_pix = true, custom = true;
  if (model.f64) c.dtype = DType::f64;
  if (custom) c.name += "+custom";
  c.validate();
  return c;
}

std::unique_ptr<crate::CrateModel> load_checkpoint_model(const std::string& path, const ModelFlags& flags,
                                                         const char* command) {
  if (!flags.name.empty())
    return crate::load_model(path, flags.resolve(), fmt::format("'{}', given by --model", flags.name));
  ModelFlags rest = flags;
  rest.f64 = false;
  if (rest.any_override())
    throw std::invalid_argument(fmt::format("{}: configuration overrides need --model to name the base configuration "
                                            "(only --f64 applies to the checkpoint's own configuration)",
                                            command));
  crate::CrateConfig c = crate::checkpoint_config(path);
  if (flags.f64) c.dtype = DType::f64;
  return crate::load_model(path, c, flags.f64 ? "its 'whitebox.config' metadata, with --f64" : "its 'whitebox.config' metadata");
}

}  // namespace wb::cli
