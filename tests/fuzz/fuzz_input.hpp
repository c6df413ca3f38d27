// The fuzz targets' input as a file: the readers take paths, so each input is written to an anonymous
// in-memory file (memfd) and read back through /proc/self/fd/N, with no disk traffic and nothing left
// behind. A std::exception is the readers' way to reject bad input; anything else (a crash, a sanitizer
// report, a leak, an allocation past libFuzzer's -malloc_limit_mb) is a bug.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace wbfuzz {

class InputFile {
 public:
  InputFile(const std::uint8_t* data, std::size_t size) {
    fd_ = memfd_create("wb-fuzz", 0);
    if (fd_ < 0) std::abort();
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace wbfuzz
