// ByteStream: sequential reads of a file's bytes through zlib, so a gzip-compressed file and a plain
// one read alike (gzopen/gzread pass an uncompressed file through unchanged). The readers in idx.cpp
// and cifar.cpp use it to check that a stream holds exactly the bytes its header promises.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace wb::data {

class ByteStream {
 public:
  // Throws std::runtime_error naming the path when the file cannot be opened.
  explicit ByteStream(std::string path);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  // Reads up to n bytes into dst and returns how many were read: fewer than n only at the end of the
  // stream. Throws std::runtime_error naming the file when the gzip data is corrupt.
  std::size_t read(void* dst, std::size_t n);
  // Reads and discards the rest of the stream; returns how many bytes were left.
  std::uint64_t skip_rest();

  const std::string& path() const { return path_; }
  // " (the gzip stream ends early: the .gz file is truncated)" once a read hit a cut-off gzip member,
  // else "": appended to the callers' size errors.
  std::string end_note() const;

 private:
  std::string path_;
  void* file_ = nullptr;  // gzFile
  bool cut_off_ = false;
};

// dir/name + ".gz" when that file exists, else dir/name when it exists; otherwise throws
// std::runtime_error naming both paths and `what` (e.g. "Fashion-MNIST train images").
std::string find_gz_or_plain(const std::string& dir, const std::string& name, const std::string& what);

}  // namespace wb::data
