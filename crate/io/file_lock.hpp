// An exclusive advisory lock (flock) on a lock file, held for the object's lifetime: one writer per
// run folder or ablation grid. The file holds the holder's pid, so a refused second writer is told who
// holds it. The kernel drops the lock when its holder dies, so a lock file left behind by a killed
// process never blocks. Re-entrant within one process: a second FileLock on a file this process
// already holds succeeds (ablate holds a run's lock around crate::train, which takes it too).
#pragma once

#include <string>
#include <sys/types.h>

namespace wb::crate {

class FileLock {
 public:
  // `what` names the locked thing in the refusal, e.g. "train: run folder out/run1".
  FileLock(const std::string& path, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace wb::crate
