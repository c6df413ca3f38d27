// `whitebox verify`: checks the CRATE derivation numerically (crate/verify.hpp, docs/derivation.md):
// ISTA as a proximal-gradient step, MSSA as an approximate gradient step on R^c, and compression as
// denoising. One section per claim, a PASS/FAIL line each; the exit code is 1 when a claim fails.
#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/verify.hpp"
#include "experiments/commands.hpp"
#include "tensor/parallel.hpp"

namespace wb::cli {
namespace {
struct VerifyFlags {
  std::uint64_t seed = 0;
  std::string json;
  int threads = 0;
};
}  // namespace

void add_verify_command(CLI::App& app) {
  auto flags = std::make_shared<VerifyFlags>();
  VerifyFlags& f = *flags;
  auto* cmd = app.add_subcommand("verify", "check the derivation numerically: ISTA = prox step, MSSA ~ -grad R^c, "
                                           "compression as denoising");
  cmd->add_option("--seed", f.seed, "seed of the random dictionary, subspaces and tokens")->capture_default_str();
  cmd->add_option("--json", f.json, "also write every number and verdict to this file");
  cmd->add_option("--threads", f.threads, "threads")->check(CLI::NonNegativeNumber);
  cmd->callback([flags] {
    const VerifyFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    bool ok = true;
    nlohmann::json out{{"seed", f.seed}};

    crate::IstaProxOptions io;
    io.seed = f.seed;
    const std::vector<crate::IstaProxResult> ista{crate::ista_prox_check(io, DType::f64),
                                                  crate::ista_prox_check(io, DType::f32)};
    const auto ista_checks = crate::ista_checks(ista);
    fmt::print("== 1. ISTA is one proximal-gradient step (spec §2.4) ==\n{}{}\n", crate::format_ista(ista, io),
               crate::format_checks("the ISTA block equals one prox-gradient step of the nonnegative LASSO", ista_checks));
    ok = ok && crate::all_pass(ista_checks);
    out["ista"] = {{"results", {crate::to_json(ista[0]), crate::to_json(ista[1])}}, {"checks", crate::to_json(ista_checks)}};

    crate::MssaOptions mo;
    mo.seed = f.seed;
    const auto mssa = crate::mssa_vs_gradient(mo);
    const auto mssa_checks = crate::mssa_checks(mssa);
    fmt::print("== 2. MSSA as an approximate gradient step on R^c (spec §2.3) ==\n{}{}\n", crate::format_mssa(mssa),
               crate::format_checks("the Neumann/softmax forms approximate -grad R^c for small t, as derived", mssa_checks));
    ok = ok && crate::all_pass(mssa_checks);
    out["mssa"] = {{"results", crate::to_json(mssa)}, {"checks", crate::to_json(mssa_checks)}};

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
      std::ofstream file(f.json);
      if (!file) throw std::runtime_error(fmt::format("verify: cannot write {}", f.json));
      file << out.dump(2) << "\n";
      fmt::print("wrote {}\n", f.json);
    }
    fmt::print("verify: {}\n", ok ? "all claims PASS" : "some claim FAILED");
    std::fflush(stdout);
    if (!ok) throw CLI::RuntimeError(1);
  });
}

}  // namespace wb::cli
