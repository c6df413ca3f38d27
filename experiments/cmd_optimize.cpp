// `whitebox optimize`: an unrolled, untrained CRATE-like process that lowers the sparse rate reduction
// R^c + lambda ||Z||_1 - R directly (crate/instruments/unrolled.hpp, crate/instruments/optimize.hpp), with exact gradient steps on
// R^c and with MSSA steps, side by side; writes <out>.csv, <out>.json and <out>.png.
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "crate/instruments/optimize.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "tensor/parallel.hpp"

namespace wb::cli {
namespace {
struct OptimizeFlags {
  crate::OptimizeOptions o;
  std::optional<std::int64_t> subspace_dim;
  std::string out = "optimize";
  bool plot = true;
  int threads = 0;
};
}  // namespace

void add_optimize_command(CLI::App& app) {
  auto flags = std::make_shared<OptimizeFlags>();
  OptimizeFlags& f = *flags;
  crate::OptimizeOptions& o = f.o;
  crate::UnrolledOptions& p = o.process;
  auto* cmd = app.add_subcommand("optimize", "unrolled exact-gradient vs MSSA process on the sparse rate reduction objective");
  cmd->add_option("--data", o.data, "token source")->check(CLI::IsMember({"synthetic", "fashion-mnist"}))->capture_default_str();
  cmd->add_option("--layers", p.layers, "number of layers L")->check(Positive)->capture_default_str();
  cmd->add_option("--step", p.kappa, "compression step size kappa")->check(Positive)->capture_default_str();
  cmd->add_option("--eta", p.eta, "ISTA step size eta")->check(Positive)->capture_default_str();
  cmd->add_option("--lambda", p.lambda, "sparsity weight lambda")->check(NonNegative)->capture_default_str();
  cmd->add_option("--eps", p.eps, "distortion eps (paper convention: scale d/(N eps^2))")->check(Positive)->capture_default_str();
  cmd->add_flag("--nonnegative", p.nonnegative, "ReLU(x - eta lambda) (CRATE) instead of the signed soft threshold");
  cmd->add_option("--softmax-scale", p.softmax_scale, "MSSA softmax temperature (0: 1/sqrt(p), 1: the spec's plain softmax)")
      ->check(NonNegative)->capture_default_str();
  cmd->add_option("--subspaces", o.subspaces, "true (synthetic only), pca (per cluster) or random")
      ->check(CLI::IsMember({"true", "pca", "random"}))->capture_default_str();
  cmd->add_option("--dictionary", o.dictionary, "ISTA dictionary D")->check(CLI::IsMember({"identity", "orthogonal"}))->capture_default_str();
  cmd->add_option("--subspace-dim", f.subspace_dim, "subspace dimension p (default 8 synthetic, 4 fashion-mnist)")->check(Positive);
  cmd->add_option("--seed", o.seed, "seed of data, random subspaces, dictionary, projection")->check(Seed)->capture_default_str();
  cmd->add_option("--dim", o.dim, "synthetic: ambient dimension d")->check(Positive)->capture_default_str();
  cmd->add_option("--num-subspaces", o.num_subspaces, "synthetic: number of subspaces K")->check(Positive)->capture_default_str();
  cmd->add_option("--tokens", o.tokens, "synthetic: number of tokens N")->check(Positive)->capture_default_str();
  cmd->add_option("--noise", o.noise, "synthetic: noise standard deviation")->check(NonNegative)->capture_default_str();
  cmd->add_option("--data-dir", o.data_dir, "fashion-mnist: directory of the IDX files");
  cmd->add_option("--images-per-class", o.images_per_class, "fashion-mnist: test images per class")->check(Positive)->capture_default_str();
  cmd->add_option("--patch", o.patch, "fashion-mnist: patch size P (divides 28)")->check(Positive)->capture_default_str();
  cmd->add_option("--project-dim", o.project_dim, "fashion-mnist: random projection of the P^2-dim patches to d (0: none)")
      ->check(NonNegative)->capture_default_str();
  cmd->add_option("--out", f.out, "output prefix: <out>.csv, <out>.json, <out>.png")->capture_default_str();
  cmd->add_flag("!--no-plot", f.plot, "do not write the PNG");
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  cmd->callback([flags] {
    OptimizeFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    f.o.subspace_dim = f.subspace_dim.value_or(f.o.data == "synthetic" ? 8 : 4);
    const crate::OptimizeResult r = crate::optimize(f.o);
    fmt::print("{}", crate::format_optimize_table(r));
    crate::write_optimize(f.out, r, f.plot);
    fmt::print("wrote {0}.csv, {0}.json{1}\n", f.out, f.plot ? fmt::format(", {}.png", f.out) : "");
  });
}

}  // namespace wb::cli
