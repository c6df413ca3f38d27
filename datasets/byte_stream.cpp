#include "datasets/byte_stream.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <zlib.h>

namespace wb::data {

ByteStream::ByteStream(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  if (std::filesystem::is_directory(path_, ec))
    throw std::runtime_error(fmt::format("{}: expected a data file, found a directory", path_));
  errno = 0;
  gzFile f = gzopen(path_.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    throw std::runtime_error(fmt::format("{}: cannot open for reading ({})", path_,
                                         err != 0 ? std::strerror(err) : "zlib could not allocate its state"));
  }
  gzbuffer(f, 1 << 17);
  file_ = f;
}

ByteStream::~ByteStream() {
  if (file_ != nullptr) gzclose(static_cast<gzFile>(file_));
}

std::size_t ByteStream::read(void* dst, std::size_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  std::size_t done = 0;
  while (done < n) {
    // gzread takes an unsigned count and returns an int: read in chunks of at most 1 GiB.
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, std::size_t{1} << 30));
    const int got = gzread(static_cast<gzFile>(file_), out + done, chunk);
    int errnum = Z_OK;
    const char* msg = gzerror(static_cast<gzFile>(file_), &errnum);
    if (got < 0 || (errnum != Z_OK && errnum != Z_BUF_ERROR))
      throw std::runtime_error(fmt::format("{}: corrupt or unreadable data after {} bytes ({})", path_, done,
                                           msg != nullptr ? msg : "unknown zlib error"));
    if (errnum == Z_BUF_ERROR) cut_off_ = true;  // "unexpected end of file" inside a gzip member
    done += static_cast<std::size_t>(got);
    if (static_cast<unsigned>(got) < chunk) break;  // end of the stream
  }
  return done;
}

std::uint64_t ByteStream::skip_rest() {
  std::vector<unsigned char> buf(1 << 16);
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t got = read(buf.data(), buf.size());
    total += got;
    if (got < buf.size()) return total;
  }
}

std::string ByteStream::end_note() const {
  return cut_off_ ? " (the gzip stream ends early: the .gz file is truncated)" : "";
}

std::string find_gz_or_plain(const std::string& dir, const std::string& name, const std::string& what) {
  const std::filesystem::path base = std::filesystem::path(dir) / name;
  const std::string gz = base.string() + ".gz";
  std::error_code ec;
  if (std::filesystem::is_regular_file(gz, ec)) return gz;
  if (std::filesystem::is_regular_file(base, ec)) return base.string();
  throw std::runtime_error(fmt::format("{}: file not found: expected {} or {}{}", what, gz, base.string(),
                                       std::filesystem::is_directory(dir, ec)
                                           ? ""
                                           : fmt::format(" (the directory {} does not exist)", dir)));
}

}  // namespace wb::data
