// `whitebox verify`: checks the CRATE derivation numerically (crate/instruments/verify.hpp, docs/derivation.md):
// ISTA as a proximal-gradient step, MSSA as an approximate gradient step on R^c, and compression as
// denoising. One section per claim, a PASS/FAIL line each; the exit code is 1 when a claim fails.
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/atomic_file.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/instruments/verify.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "tensor/parallel.hpp"

namespace wb::cli {
namespace {
struct VerifyFlags {
  std::uint64_t seed = 0;
  std::string json;
  int threads = 0;
  ModelFlags model = ModelFlags::without_default();  // without --model: the default setups of crate/instruments/verify.hpp
};
}  // namespace

void add_verify_command(CLI::App& app) {
  auto flags = std::make_shared<VerifyFlags>();
  VerifyFlags& f = *flags;
  auto* cmd = app.add_subcommand("verify", "check the derivation numerically: ISTA = prox step, MSSA ~ -grad R^c, "
                                           "compression as denoising");
  cmd->add_option("--seed", f.seed, "seed of the random dictionary, subspaces and tokens")->check(Seed)->capture_default_str();
  cmd->add_option("--json", f.json, "also write every number and verdict to this file");
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  f.model.add(*cmd, false);  // --model and variant switches: check that configuration's blocks
  cmd->callback([flags] {
    VerifyFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    if (f.model.name.empty() && f.model.any_override()) f.model.name = "crate-mini-28";
    const std::optional<crate::CrateConfig> config =
        f.model.name.empty() ? std::nullopt : std::optional<crate::CrateConfig>(f.model.resolve());
    bool ok = true;
    nlohmann::json out{{"seed", f.seed}};
    if (config) {
      out["model"] = crate::to_json(*config);
      fmt::print("model configuration {}: attention {}, {} block, dictionary {}{}{}\n\n", config->name,
                 crate::name_of(config->attention), crate::name_of(config->mlp), crate::name_of(config->dictionary), config->learnable_ista ? ", learnable eta/lambda" : "",
                 config->ista_residual ? ", residual around the block" : "");
    }

    if (config && config->mlp != crate::MlpKind::ista) {
      fmt::print("== 1. ISTA is one proximal-gradient step (spec §2.4) ==\nnot applicable: {} uses a GELU MLP, which the "
                 "derivation does not produce\n\n",
                 config->name);
      out["ista"] = {{"applicable", false}};
    } else {
      crate::IstaProxOptions io = config ? crate::ista_options_for(*config) : crate::IstaProxOptions{};
      io.seed = f.seed;
      const std::vector<crate::IstaProxResult> ista{crate::ista_prox_check(io, DType::f64),
                                                    crate::ista_prox_check(io, DType::f32)};
      const auto ista_checks = crate::ista_checks(ista);
      fmt::print("== 1. ISTA is one proximal-gradient step (spec §2.4) ==\n{}{}\n", crate::format_ista(ista, io),
                 crate::format_checks(io.dictionary == crate::Dictionary::overcomplete
                                          ? "the ODL block equals two prox-gradient steps from 0 and the output dictionary"
                                          : "the ISTA block equals one prox-gradient step of the nonnegative LASSO",
                                      ista_checks));
      ok = ok && crate::all_pass(ista_checks);
      out["ista"] = {{"results", {crate::to_json(ista[0]), crate::to_json(ista[1])}}, {"checks", crate::to_json(ista_checks)}};
    }

    if (config && (config->attention != crate::AttentionKind::mssa || config->inner_dim() != config->dim)) {
      fmt::print("== 2. MSSA as an approximate gradient step on R^c (spec §2.3) ==\nnot applicable: {}\n\n",
                 config->attention == crate::AttentionKind::tssa
                     ? "TSSA is a step on ToST's variational bound of R^c, not MSSA's approximation of its gradient"
                 : config->attention != crate::AttentionKind::mssa
                     ? "standard attention (separate Q, K, V) is not derived from R^c"
                     : "the derivation needs K p = d (subspaces spanning the space)");
      out["mssa"] = {{"applicable", false}};
    } else {
      crate::MssaOptions mo;
      mo.seed = f.seed;
      if (config) {
        mo.dim = config->dim;
        mo.heads = config->heads;
      }
      const auto mssa = crate::mssa_vs_gradient(mo);
      const auto mssa_checks = crate::mssa_checks(mssa);
      fmt::print("== 2. MSSA as an approximate gradient step on R^c (spec §2.3) ==\n{}{}\n", crate::format_mssa(mssa),
                 crate::format_checks("the Neumann/softmax forms approximate -grad R^c for small t, as derived", mssa_checks));
      ok = ok && crate::all_pass(mssa_checks);
      out["mssa"] = {{"results", crate::to_json(mssa)}, {"checks", crate::to_json(mssa_checks)}};
    }

    crate::DenoiseOptions dn;
    dn.seed = f.seed;
    const auto denoise = crate::denoising_check(dn);
    const auto denoise_checks = crate::denoise_checks(denoise);
    fmt::print("== 3. Compression as denoising (spec §2.5) ==\n{}{}\n", crate::format_denoise(denoise),
               crate::format_checks("a step along -grad R^c with the true subspaces moves noisy tokens toward the clean ones",
                                    denoise_checks));
    ok = ok && crate::all_pass(denoise_checks);
    out["denoise"] = {{"results", crate::to_json(denoise)}, {"checks", crate::to_json(denoise_checks)}};

    out["pass"] = ok;
    if (!f.json.empty()) {
      crate::write_file_atomic(f.json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", f.json);
    }
    fmt::print("verify: {}\n", ok ? "all claims PASS" : "some claim FAILED");
    std::fflush(stdout);
    if (!ok) throw CLI::RuntimeError(1);
  });
}

}  // namespace wb::cli
