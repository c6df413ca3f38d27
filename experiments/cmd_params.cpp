// `whitebox params`: the closed-form parameter count of every named configuration.
#include <fmt/format.h>

#include "crate/models/registry.hpp"
#include "experiments/commands.hpp"

namespace wb::cli {

void add_params_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("params", "parameter counts of every named configuration");
  cmd->callback([] {
    fmt::print("{:<14} {:>5} {:>6} {:>6} {:>5} {:>6} {:>6} {:>8} {:>10} {:>14}\n", "config", "image", "patch", "d", "L",
               "heads", "p", "classes", "blocks", "parameters");
    for (const auto& name : crate::config_names()) {
      const auto c = crate::named_config(name);
      fmt::print("{:<14} {:>5} {:>6} {:>6} {:>5} {:>6} {:>6} {:>8} {:>10} {:>14}\n", name, c.image_size, c.patch_size,
                 c.dim, c.depth, c.heads, c.dim_head, c.num_classes, std::string(crate::name_of(c.attention)) + "/" + crate::name_of(c.mlp),
                 crate::count_parameters(c));
    }
    fmt::print("\n{:<18} {:>5} {:>6} {:>6} {:>9} {:>6} {:>8} {:>14} {:>14}\n", "MAE config", "image", "patch", "d",
               "L enc+dec", "heads", "backbone", "parameters", "trained");
    for (const auto& name : crate::mae_config_names()) {
      const auto c = crate::named_mae_config(name);
      fmt::print("{:<18} {:>5} {:>6} {:>6} {:>9} {:>6} {:>8} {:>14} {:>14}\n", name, c.image_size, c.patch_size, c.dim,
                 fmt::format("{}+{}", c.depth, c.decoder_depth), c.heads, crate::name_of(c.backbone),
                 crate::count_parameters(c), crate::count_trainable_parameters(c));
    }
  });
}

}  // namespace wb::cli
