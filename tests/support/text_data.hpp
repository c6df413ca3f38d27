// Preconditions for tests that need the npm text packages (the Brown corpus, GPT-2's BPE files, the
// gpt-tokenizer reference) or node itself. Where one is missing the test is reported as skipped with the
// reason (never a silent pass), as wbtest::require_dataset does for image sets.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "datasets/text/brown.hpp"

namespace wbtest {

// Whether npm_dir()/<package>/<file> exists.
inline boost::test_tools::assertion_result npm_file_available(const std::string& package, const std::string& file) {
  const std::filesystem::path p = std::filesystem::path(wb::data::text::npm_dir()) / package / file;
  std::error_code ec;
  boost::test_tools::assertion_result r(std::filesystem::exists(p, ec));
  if (!r) r.message() << "npm package '" << package << "' is not installed: " << p.string() << " not found (scripts/setup.sh installs it)";
  return r;
}

inline boost::unit_test::decorator::precondition require_npm_file(const std::string& package, const std::string& file) {
  return boost::unit_test::decorator::precondition(
      [package, file](boost::unit_test::test_unit_id) { return npm_file_available(package, file); });
}

inline boost::unit_test::decorator::precondition require_node() {
  const std::string probe = "node --version > /dev/null 2>&1";
  return boost::unit_test::decorator::precondition([probe](boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result r(std::system(probe.c_str()) == 0);
    if (!r) r.message() << "node is not installed (apt-get install nodejs)";
    return r;
  });
}

}  // namespace wbtest
