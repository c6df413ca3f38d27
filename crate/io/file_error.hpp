// The one error of crate/io/: a std::runtime_error whose message starts with the file's path.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace wb::crate::io_error {

[[noreturn]] inline void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", path, what));
}

}  // namespace wb::crate::io_error
