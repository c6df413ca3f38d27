#include "crate/io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

#include <fmt/format.h>

#include "crate/io/file_error.hpp"

namespace wb::crate {
namespace {

using io_error::fail;
namespace fs = std::filesystem;

FileOpHook& file_op_hook() {
  static FileOpHook hook;
  return hook;
}

// Set once the hook has "killed" the process: from then on nothing is cleaned up (StagedDir's
// destructor runs while SimulatedCrash unwinds, and must leave the disk as a kill would).
bool g_crashed = false;

[[noreturn]] void simulated_crash(FileOp op, const std::string& path) {
  g_crashed = true;
  throw SimulatedCrash(fmt::format("{}: simulated crash at {}", path, file_op_name(op)));
}

// Asks the test hook about `op` on `path`: true to go on, false when the op must fail (errno is
// set to EIO for the caller's message); throws SimulatedCrash when the process "dies" here.
bool op_allowed(FileOp op, const std::string& path) {
  const FileOpHook& hook = file_op_hook();
  if (!hook) return true;
  const FaultAction a = hook(op, path);
  if (a == FaultAction::crash) simulated_crash(op, path);
  if (a == FaultAction::fail) {
    errno = op == FileOp::write ? ENOSPC : EIO;
    return false;
  }
  return true;
}

// The process umask, read without changing it (Linux reports it in /proc/self/status); 022 where
// that is unavailable.
mode_t process_umask() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
  return 022;
}

void write_all(int fd, const char* data, std::size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path, fmt::format("write failed: {}", std::strerror(errno)));
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

// A torn write for a simulated crash: half the bytes reach the file.
void write_half_and_crash(int fd, const char* data, std::size_t n, const std::string& path) {
  std::size_t half = n / 2;
  while (half > 0) {
    const ssize_t w = ::write(fd, data, half);
    if (w <= 0) break;
    data += w;
    half -= static_cast<std::size_t>(w);
  }
  simulated_crash(FileOp::write, path);
}

void rename_or_fail(const std::string& from, const std::string& to) {
  if (!op_allowed(FileOp::rename, to) || ::rename(from.c_str(), to.c_str()) != 0)
    fail(to, fmt::format("rename from {} failed: {}", from, std::strerror(errno)));
}

std::string temporary_template(const fs::path& dir, const std::string& name) {
  return (dir / fmt::format(".{}.tmp.XXXXXX", name)).string();
}

fs::path parent_of(const fs::path& p) { return p.has_parent_path() ? p.parent_path() : fs::path("."); }

}  // namespace

const char* file_op_name(FileOp op) {
  switch (op) {
    case FileOp::write: return "write";
    case FileOp::fsync: return "fsync";
    case FileOp::rename: return "rename";
    case FileOp::link: return "link";
  }
  return "?";
}

void set_file_op_hook(FileOpHook hook) {
  file_op_hook() = std::move(hook);
  g_crashed = false;
}

void fsync_directory(const std::string& dir) {
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;  // some filesystems do not open directories; nothing to sync there
  bool allowed = false;
  try {
    allowed = op_allowed(FileOp::fsync, dir);
  } catch (...) {
    ::close(dfd);
    throw;
  }
  const bool ok = allowed && ::fsync(dfd) == 0;
  const int err = errno;
  ::close(dfd);
  // EINVAL: the filesystem cannot sync a directory (it has nothing to make durable).
  if (!ok && err != EINVAL) fail(dir, fmt::format("fsync of the directory failed: {}", std::strerror(err)));
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const fs::path target(path);
  const fs::path dir = parent_of(target);
  std::string tmpl = temporary_template(dir, target.filename().string());
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) fail(path, fmt::format("cannot create a temporary file in {}: {}", dir.string(), std::strerror(errno)));
  try {
    if (::fchmod(fd, 0666 & ~process_umask()) != 0) fail(path, fmt::format("fchmod failed: {}", std::strerror(errno)));
    const FaultAction a = file_op_hook() ? file_op_hook()(FileOp::write, path) : FaultAction::proceed;
    if (a == FaultAction::crash) write_half_and_crash(fd, bytes.data(), bytes.size(), path);
    if (a == FaultAction::fail) fail(path, fmt::format("write failed: {}", std::strerror(ENOSPC)));
    write_all(fd, bytes.data(), bytes.size(), path);
    if (!op_allowed(FileOp::fsync, path) || ::fsync(fd) != 0) fail(path, fmt::format("fsync failed: {}", std::strerror(errno)));
  } catch (const SimulatedCrash&) {
    ::close(fd);
    throw;
  } catch (...) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw;
  }
  ::close(fd);
  try {
    rename_or_fail(tmpl, path);
  } catch (const SimulatedCrash&) {
    throw;
  } catch (...) {
    ::unlink(tmpl.c_str());
    throw;
  }
  fsync_directory(dir.string());
}

StagedDir::StagedDir(const std::string& parent, const std::string& name) : parent_(parent), name_(name) {
  std::string tmpl = temporary_template(parent, name);
  if (::mkdtemp(tmpl.data()) == nullptr)
    fail((fs::path(parent) / name).string(),
         fmt::format("cannot create a temporary directory in {}: {}", parent, std::strerror(errno)));
  path_ = tmpl;
  ::chmod(path_.c_str(), 0777 & ~process_umask());
}

StagedDir::~StagedDir() {
  if (done_ || g_crashed) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void StagedDir::commit() {
  const std::string target = (fs::path(parent_) / name_).string();
  fsync_directory(path_);
  rename_or_fail(path_, target);
  done_ = true;
  fsync_directory(parent_);
}

void link_file_atomic(const std::string& existing, const std::string& path) {
  const fs::path target(path);
  const fs::path dir = parent_of(target);
  // A unique temporary name: mkstemp reserves it, and the link replaces the empty file.
  std::string tmpl = temporary_template(dir, target.filename().string());
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) fail(path, fmt::format("cannot create a temporary file in {}: {}", dir.string(), std::strerror(errno)));
  ::close(fd);
  ::unlink(tmpl.c_str());
  if (!op_allowed(FileOp::link, path)) fail(path, fmt::format("link to {} failed: {}", existing, std::strerror(errno)));
  if (::link(existing.c_str(), tmpl.c_str()) != 0) {
    // No hard links here (some network and FUSE filesystems): a copy, written atomically.
    std::ifstream in(existing, std::ios::binary);
    if (!in) fail(path, fmt::format("cannot read {} to copy it: {}", existing, std::strerror(errno)));
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    write_file_atomic(path, bytes);
    return;
  }
  try {
    rename_or_fail(tmpl, path);
  } catch (const SimulatedCrash&) {
    throw;
  } catch (...) {
    ::unlink(tmpl.c_str());
    throw;
  }
  fsync_directory(dir.string());
}

std::vector<std::string> remove_temporaries(const std::string& dir) {
  static const std::regex temporary(R"(\..+\.tmp\.[A-Za-z0-9]{6})");
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, temporary)) continue;
    std::error_code rec;
    fs::remove_all(entry.path(), rec);
    if (!rec) removed.push_back(name);
  }
  return removed;
}

}  // namespace wb::crate
