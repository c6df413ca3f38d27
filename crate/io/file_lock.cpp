#include "crate/io/file_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace wb::crate {
namespace {

struct Held {
  int fd = -1;
  int count = 0;
};

// The lock files this process holds, by (device, inode): the re-entrant case.
std::mutex g_mutex;
std::map<std::pair<dev_t, ino_t>, Held> g_held;

// The pid written in a lock file ("unknown" when it is empty or unreadable).
std::string holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown" : s;
}

void write_pid(int fd) {
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid; only the refusal message of a second writer is poorer.
  }
}

}  // namespace

FileLock::FileLock(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot open the lock file {}: {}", what, path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("{}: cannot stat the lock file {}: {}", what, path, std::strerror(err)));
  }
  dev_ = st.st_dev, ino_ = st.st_ino;
  const std::lock_guard<std::mutex> guard(g_mutex);
  auto it = g_held.find({dev_, ino_});
  if (it != g_held.end()) {
    ::close(fd);
    ++it->second.count;
    return;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const std::string pid = holder_pid(fd);
    ::close(fd);
    throw std::runtime_error(fmt::format(
        "{} is in use by another whitebox process (pid {}, lock {}); wait for it to end", what, pid, path));
  }
  write_pid(fd);
  g_held[{dev_, ino_}] = Held{fd, 1};
}

FileLock::~FileLock() {
  const std::lock_guard<std::mutex> guard(g_mutex);
  auto it = g_held.find({dev_, ino_});
  if (it == g_held.end() || --it->second.count > 0) return;
  if (::ftruncate(it->second.fd, 0) != 0) {
    // A stale pid left in the file is harmless: the lock itself is gone with the descriptor.
  }
  ::close(it->second.fd);
  g_held.erase(it);
}

}  // namespace wb::crate
