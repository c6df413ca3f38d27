// The atomic file writer behind every checkpoint, log rewrite and results file: a reader (or a
// resumed run) sees the old contents or the new, never a half-written file.
#pragma once

#include <string>

namespace wb::crate {

// Writes `bytes` to `path` atomically (temporary file beside it, fsync, rename, directory fsync).
// Throws std::runtime_error naming the path and the failing step; the temporary file is removed.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace wb::crate
