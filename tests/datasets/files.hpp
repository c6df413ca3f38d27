// Helpers for the datasets tests: a temporary directory removed on destruction, writers for raw,
// gzip-compressed, IDX and CIFAR-10 files, and a check that an exception's message names what it must.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

#include "tests/support/files.hpp"

namespace wbtest {


using Bytes = std::vector<std::uint8_t>;

inline void write_file(const std::string& path, const Bytes& bytes, bool gzip) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("write_file: gzopen failed for " + path);
    const int n = bytes.empty() ? 0 : gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    const int rc = gzclose(f);
    if (n != static_cast<int>(bytes.size()) || rc != Z_OK) throw std::runtime_error("write_file: gzwrite failed " + path);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("write_file: write failed for " + path);
  }
}

// One gzip member holding `bytes` (zlib's deflate with the gzip wrapper), for files built in memory:
// several concatenated, junk appended, a bomb (a member of zeros repeated).
inline Bytes gzip_member(const Bytes& bytes, int level = 9) {
  z_stream s{};
  if (deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip_member: deflateInit2 failed");
  Bytes out(deflateBound(&s, static_cast<uLong>(bytes.size())) + 64);
  s.next_in = const_cast<Bytef*>(bytes.data());
  s.avail_in = static_cast<uInt>(bytes.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip_member: deflate did not finish");
  return out;
}

inline Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline void put_u32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

// IDX3 image file: magic, N, H, W (big endian) then the pixels.
inline Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, const Bytes& pixels,
                        std::uint32_t magic = 0x00000803) {
  Bytes b;
  put_u32(b, magic);
  put_u32(b, n);
  put_u32(b, rows);
  put_u32(b, cols);
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}

// IDX1 label file: magic, N then the labels.
inline Bytes idx_labels(const Bytes& labels, std::uint32_t magic = 0x00000801) {
  Bytes b;
  put_u32(b, magic);
  put_u32(b, static_cast<std::uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

// One CIFAR-10 record: label, then plane c, row y, column x holds pixel(c, y, x).
inline void put_cifar_record(Bytes& b, std::uint8_t label, const std::function<std::uint8_t(int, int, int)>& pixel) {
  b.push_back(label);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) b.push_back(pixel(c, y, x));
}

// Runs f, which must throw E whose message contains every string of `parts`.
template <class E, class F>
void check_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    BOOST_ERROR("expected an exception whose message contains '" << parts.front() << "', none was thrown");
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
  }
}

}  // namespace wbtest
