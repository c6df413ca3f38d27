// The atomic writers behind every checkpoint, log rewrite and results file: a reader (or a resumed
// run) sees the old contents or the new, never a half-written file or directory.
//
// Files and directories are created with the user's umask (0666 & ~umask, 0777 & ~umask), as open(2)
// would, not mkstemp's 0600. Temporaries are named ".<name>.tmp.XXXXXX" beside their target, so that
// remove_temporaries finds what a killed writer left behind.
//
// The seam for crash-point tests: every write, fsync, rename and link these writers do first asks
// the hook set by set_file_op_hook, which may let it proceed, make it fail (as a full disk or an I/O
// error would; the writer cleans up and throws its usual error) or stop the process there (the writer
// throws SimulatedCrash without any clean-up, leaving the disk as a kill at that moment would; a
// "crashed" write writes half its bytes first).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace wb::crate {

// Writes `bytes` to `path` atomically (temporary file beside it, fsync, rename, directory fsync).
// Throws std::runtime_error naming the path and the failing step; the temporary file is removed.
void write_file_atomic(const std::string& path, const std::string& bytes);

// A directory filled under a temporary name and published by one rename: create it, write its files
// (with write_file_atomic or anything built on it), then commit. A StagedDir destroyed uncommitted is
// removed with its contents.
class StagedDir {
 public:
  // Creates <parent>/.<name>.tmp.XXXXXX.
  StagedDir(const std::string& parent, const std::string& name);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;
  const std::string& path() const { return path_; }
  // fsyncs the directory, renames it to <parent>/<name> (which must not exist) and fsyncs the parent.
  // Throws std::runtime_error naming the step; the staged directory is then removed.
  void commit();

 private:
  std::string parent_, name_, path_;
  bool done_ = false;
};

// Makes `path` name the same file as `existing` (a hard link under a temporary name renamed over
// `path`, then a directory fsync; a copy where the filesystem has no hard links), atomically.
void link_file_atomic(const std::string& existing, const std::string& path);

// Removes the temporaries (".*.tmp.XXXXXX" files and directories) directly in `dir` and returns
// their names: what a writer killed mid-way left. Only for a directory this process owns (a run
// folder under its lock).
std::vector<std::string> remove_temporaries(const std::string& dir);

// fsyncs a directory; throws naming it when that fails (EINVAL, a filesystem with nothing to sync
// there, is not a failure).
void fsync_directory(const std::string& dir);

// ---------------------------------------------------------------- the crash-point seam (tests only)
enum class FileOp { write, fsync, rename, link };
enum class FaultAction { proceed, fail, crash };
using FileOpHook = std::function<FaultAction(FileOp op, const std::string& path)>;
// Installs `hook` for every later write, fsync, rename and link of this file's writers (an empty
// function removes it). Not thread-safe: tests install it around single-threaded writers.
void set_file_op_hook(FileOpHook hook);
const char* file_op_name(FileOp op);

// What the writers throw when the hook stops the process; nothing is cleaned up.
class SimulatedCrash : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace wb::crate
