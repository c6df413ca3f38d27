// ByteStream: sequential reads of a file's bytes, gzip-decompressed when the file starts with the gzip
// magic (1f 8b) and passed through unchanged otherwise, so a .gz file and a plain one read alike. The
// readers in idx.cpp and cifar.cpp use it to check that a stream holds exactly the bytes its header
// promises.
//
// A gzip file is one or more gzip members (RFC 1952; `cat a.gz b.gz` is valid and reads as the
// concatenation). Anything else after the end of a member (appended junk, a plain file concatenated
// to a .gz) is an error naming the file and the offset, as are corrupt data and a truncated member.
// Memory is constant: decompression goes through fixed buffers into the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace wb::data {

class ByteStream {
 public:
  // Throws std::runtime_error naming the path when the file cannot be opened.
  explicit ByteStream(std::string path);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  // Reads up to n bytes into dst and returns how many were read: fewer than n only at the end of the
  // stream. Throws std::runtime_error naming the file when the gzip data is corrupt or followed by
  // data that is not a gzip member.
  std::size_t read(void* dst, std::size_t n);
  // Reads and discards the rest of the stream, at most `limit` bytes; returns how many were left
  // (limit + 1 when there were more than `limit`).
  std::uint64_t skip_rest(std::uint64_t limit = std::uint64_t{1} << 20);

  const std::string& path() const { return path_; }
  bool gzip() const { return gzip_; }
  // " (the gzip stream ends early: the .gz file is truncated)" once a read hit a cut-off gzip member,
  // else "": appended to the callers' size errors.
  std::string end_note() const;

 private:
  bool fill();  // more compressed input; false at the end of the file
  std::size_t read_gzip(unsigned char* out, std::size_t n);
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false;
  bool cut_off_ = false;
  bool ended_ = false;         // the whole stream has been read
  bool member_done_ = false;   // a gzip member ended; the next bytes must start another or be the end
  std::uint64_t consumed_ = 0;  // compressed bytes taken from the file (for messages)
  std::vector<unsigned char> in_;
  std::size_t in_pos_ = 0, in_len_ = 0;
  struct Inflater;
  std::unique_ptr<Inflater> z_;
};

// dir/name + ".gz" when that file exists, else dir/name when it exists; otherwise throws
// std::runtime_error naming both paths and `what` (e.g. "Fashion-MNIST train images").
std::string find_gz_or_plain(const std::string& dir, const std::string& name, const std::string& what);

}  // namespace wb::data
