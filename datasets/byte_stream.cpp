#include "datasets/byte_stream.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <zlib.h>

#include <sys/stat.h>

namespace wb::data {

struct ByteStream::Inflater {
  z_stream s{};
  bool live = false;
  ~Inflater() {
    if (live) inflateEnd(&s);
  }
};

namespace {
constexpr std::size_t kByteStreamBuffer = std::size_t{1} << 17;
}  // namespace

ByteStream::ByteStream(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  if (std::filesystem::is_directory(path_, ec))
    throw std::runtime_error(fmt::format("{}: expected a data file, found a directory", path_));
  errno = 0;
  file_ = std::fopen(path_.c_str(), "rb");
  if (file_ == nullptr) {
    const int err = errno;
    throw std::runtime_error(
        fmt::format("{}: cannot open for reading ({})", path_, err != 0 ? std::strerror(err) : "unknown error"));
  }
  // The input buffer: 128 KiB, or the whole file when it is smaller (a small file stays cheap).
  struct stat st{};
  std::size_t buffer = kByteStreamBuffer;
  if (fstat(fileno(file_), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) < buffer)
    buffer = std::max<std::size_t>(static_cast<std::size_t>(st.st_size), 16);
  in_.resize(buffer);
  // Sniff the gzip magic: at least two bytes in the buffer, or the file is shorter than that.
  while (in_len_ < 2 && fill()) {
  }
  gzip_ = in_len_ >= 2 && in_[0] == 0x1f && in_[1] == 0x8b;
  if (gzip_) {
    z_ = std::make_unique<Inflater>();
    if (inflateInit2(&z_->s, 15 + 16) != Z_OK) {  // gzip wrapper only
      std::fclose(file_);
      file_ = nullptr;
      throw std::runtime_error(fmt::format("{}: zlib could not allocate its state", path_));
    }
    z_->live = true;
  }
}

ByteStream::~ByteStream() {
  if (file_ != nullptr) std::fclose(file_);
}

void ByteStream::fail(const std::string& what) const { throw std::runtime_error(fmt::format("{}: {}", path_, what)); }

bool ByteStream::fill() {
  if (in_pos_ > 0) {  // keep the unread tail at the front
    std::memmove(in_.data(), in_.data() + in_pos_, in_len_ - in_pos_);
    in_len_ -= in_pos_;
    in_pos_ = 0;
  }
  if (in_len_ == in_.size()) return true;
  const std::size_t got = std::fread(in_.data() + in_len_, 1, in_.size() - in_len_, file_);
  if (got == 0 && std::ferror(file_)) fail(fmt::format("read error ({})", std::strerror(errno)));
  in_len_ += got;
  return got > 0;
}

std::size_t ByteStream::read_gzip(unsigned char* out, std::size_t n) {
  z_stream& s = z_->s;
  std::size_t done = 0;
  while (done < n && !ended_) {
    if (member_done_) {
      // After a member: the end of the file, or the magic of the next member.
      while (in_len_ - in_pos_ < 2 && fill()) {
      }
      const std::size_t left = in_len_ - in_pos_;
      if (left == 0) {
        ended_ = true;
        break;
      }
      if (left < 2 || in_[in_pos_] != 0x1f || in_[in_pos_ + 1] != 0x8b) {
        std::uint64_t trailing = left;
        in_pos_ = in_len_;
        while (trailing <= (std::uint64_t{1} << 20) && fill()) {
          trailing += in_len_ - in_pos_;
          in_pos_ = in_len_;
        }
        fail(fmt::format("{}{} bytes of data after the end of the gzip member that ends at byte {} (not another gzip "
                         "member: junk appended to the .gz file?)",
                         trailing > (std::uint64_t{1} << 20) ? "more than " : "", trailing, consumed_));
      }
      inflateReset(&s);
      member_done_ = false;
    }
    if (in_pos_ == in_len_ && !fill()) {  // the file ends inside a member
      cut_off_ = true;
      ended_ = true;
      break;
    }
    s.next_in = in_.data() + in_pos_;
    s.avail_in = static_cast<uInt>(in_len_ - in_pos_);
    const auto want = static_cast<uInt>(std::min<std::size_t>(n - done, std::size_t{1} << 30));
    s.next_out = out + done;
    s.avail_out = want;
    const int rc = inflate(&s, Z_NO_FLUSH);
    const std::size_t used = (in_len_ - in_pos_) - s.avail_in;
    in_pos_ += used;
    consumed_ += used;
    done += want - s.avail_out;
    if (rc == Z_STREAM_END) {
      member_done_ = true;
    } else if (rc == Z_BUF_ERROR) {
      // No progress possible: needs more input (the loop refills, or finds the end of the file).
      if (in_pos_ < in_len_) fail("zlib made no progress (internal error)");
    } else if (rc != Z_OK) {
      fail(fmt::format("corrupt gzip data near compressed byte {} after {} decompressed bytes ({})", consumed_, done,
                       s.msg != nullptr ? s.msg : zError(rc)));
    }
  }
  return done;
}

std::size_t ByteStream::read(void* dst, std::size_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  if (gzip_) return read_gzip(out, n);
  std::size_t done = 0;
  while (done < n && !ended_) {
    if (in_pos_ == in_len_ && !fill()) {
      ended_ = true;
      break;
    }
    const std::size_t k = std::min(n - done, in_len_ - in_pos_);
    std::memcpy(out + done, in_.data() + in_pos_, k);
    in_pos_ += k;
    done += k;
  }
  return done;
}

std::uint64_t ByteStream::skip_rest(std::uint64_t limit) {
  std::vector<unsigned char> buf(1 << 14);
  std::uint64_t total = 0;
  while (total <= limit) {
    const std::size_t got = read(buf.data(), buf.size());
    total += got;
    if (got < buf.size()) return total;
  }
  return limit + 1;
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
