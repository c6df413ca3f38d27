// One verdict line of `whitebox verify`: what was checked, whether it held, and the numbers behind
// it; the PASS/FAIL summary of a claim and the JSON form of its checks.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace wb::crate {

struct Check {
  std::string name;
  bool pass = false;
  std::string detail;
};
bool all_pass(const std::vector<Check>& checks);

// "  [pass] name: detail" per check, then "PASS: claim" (or FAIL), as `whitebox verify` prints them.
std::string format_checks(const std::string& claim, const std::vector<Check>& checks);
nlohmann::json to_json(const std::vector<Check>& checks);

}  // namespace wb::crate
