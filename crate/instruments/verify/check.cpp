#include "crate/instruments/verify/check.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace wb::crate {

bool all_pass(const std::vector<Check>& checks) {
  return std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.pass; });
}

std::string format_checks(const std::string& claim, const std::vector<Check>& checks) {
  std::string s;
  for (const auto& c : checks)
    s += fmt::format("  [{}] {}{}\n", c.pass ? "pass" : "FAIL", c.name, c.detail.empty() ? "" : ": " + c.detail);
  s += fmt::format("{}: {}\n", all_pass(checks) ? "PASS" : "FAIL", claim);
  return s;
}

nlohmann::json to_json(const std::vector<Check>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : checks) out.push_back({{"name", c.name}, {"pass", c.pass}, {"detail", c.detail}});
  return out;
}

}  // namespace wb::crate
