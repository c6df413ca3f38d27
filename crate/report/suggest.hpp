// "Did you mean ...?" for error messages: the edit distance between two names and the nearest of a
// list of known names (the grid parser's unknown keys, the CLI's unknown commands).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace wb::crate {

// Levenshtein distance (insertions, deletions and substitutions of one character, each costing 1).
std::size_t edit_distance(const std::string& a, const std::string& b);
// The name of `known` nearest to `given` when within `max_distance` edits (the first of equals); ""
// otherwise.
std::string nearest_name(const std::string& given, const std::vector<std::string>& known, std::size_t max_distance);

}  // namespace wb::crate
