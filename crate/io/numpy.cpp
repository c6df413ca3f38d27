#include "crate/io/numpy.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <zlib.h>

#include "crate/io/file_error.hpp"
#include "crate/io/safetensors.hpp"

namespace wb::crate {
namespace {

constexpr std::uint64_t kNpyMaxHeader = 1u << 20;  // numpy itself refuses headers above 10 kB by default

[[noreturn]] void npy_fail(const std::string& where, const std::string& what) { io_error::fail(where, what); }

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) io_error::fail(path, "cannot open the file (missing or unreadable)");
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) io_error::fail(path, "cannot determine the file's size");
  in.seekg(0);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), size);
  if (in.gcount() != size) io_error::fail(path, "read fewer bytes than the file holds");
  return bytes;
}

// Text from the file as it may be printed: printable ASCII kept, anything else as \xNN, at most 200 bytes.
std::string printable(const std::string& raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    out += c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
  }
  return raw.size() > 200 ? out + "..." : out;
}

std::uint64_t le(const std::string& b, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

// A strict reader of the Python dict literal numpy writes.
struct NpyHeaderParser {
  const std::string& s;
  const std::string& where;
  std::size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  [[noreturn]] void bad(const std::string& what) {
    npy_fail(where, fmt::format("malformed .npy header at character {} ({}): {}", i, what, printable(s)));
  }
  void expect(char c) {
    ws();
    if (i >= s.size() || s[i] != c) bad(fmt::format("expected '{}'", c));
    ++i;
  }
  bool peek(char c) {
    ws();
    return i < s.size() && s[i] == c;
  }
  std::string str() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) bad("expected a quoted string");
    const char q = s[i++];
    const std::size_t start = i;
    while (i < s.size() && s[i] != q) ++i;
    if (i >= s.size()) bad("unterminated string");
    return s.substr(start, i++ - start);
  }
  bool boolean() {
    ws();
    if (s.compare(i, 4, "True") == 0) return i += 4, true;
    if (s.compare(i, 5, "False") == 0) return i += 5, false;
    bad("expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (!peek(')')) {
      ws();
      std::uint64_t v = 0;
      const std::size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (v > (static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - 9) / 10) bad("dimension too large");
        v = v * 10 + static_cast<std::uint64_t>(s[i++] - '0');
      }
      if (i == start) bad("expected a non-negative integer dimension");
      if (i < s.size() && s[i] == 'L') ++i;  // Python 2 longs
      shape.push_back(static_cast<std::int64_t>(v));
      if (peek(',')) ++i;
      else if (!peek(')')) bad("expected ',' or ')' in the shape");
    }
    ++i;
    return shape;
  }
};

struct NpyDescr {
  DType dtype;
  int itemsize;
  bool is_signed_int, is_float, is_bool;
};

NpyDescr parse_descr(const std::string& d, const std::string& where) {
  if (d.size() < 3 || d.size() > 8 || printable(d) != d)
    npy_fail(where, fmt::format("dtype '{}' is not a simple numeric dtype", printable(d)));
  const char order = d[0], kind = d[1];
  int size = 0;
  try {
    size = std::stoi(d.substr(2));
  } catch (const std::exception&) {
    npy_fail(where, fmt::format("dtype '{}' is not a simple numeric dtype", d));
  }
  if (order == '>' && size > 1)
    npy_fail(where, fmt::format("dtype '{}' is big-endian; save it little-endian (a.astype('<{}{}'))", d, kind, size));
  if (order != '<' && order != '|' && order != '=')
    npy_fail(where, fmt::format("dtype '{}' has an unknown byte order '{}'", d, order));
  if (kind == 'f' && size == 4) return {DType::f32, 4, false, true, false};
  if (kind == 'f' && size == 8) return {DType::f64, 8, false, true, false};
  if (kind == 'i' && (size == 1 || size == 2 || size == 4 || size == 8)) return {DType::i64, size, true, false, false};
  if (kind == 'u' && (size == 1 || size == 2 || size == 4)) return {DType::i64, size, false, false, false};
  if (kind == 'b' && size == 1) return {DType::i64, 1, false, false, true};
  npy_fail(where, fmt::format("dtype '{}' is not read (float32, float64, signed integers, uint8/16/32 and bool are); "
                              "convert it with a.astype(np.float32)",
                              d));
}

}  // namespace

Tensor parse_npy(const std::string& b, const std::string& where) {
  static const char magic[] = "\x93NUMPY";
  if (b.size() < 10 || std::memcmp(b.data(), magic, 6) != 0)
    npy_fail(where, fmt::format("not a .npy file ({} bytes; a .npy file starts with \\x93NUMPY and a version)", b.size()));
  const int major = static_cast<unsigned char>(b[6]);
  std::uint64_t hl = 0;
  std::size_t start = 0;
  if (major == 1) {
    hl = le(b, 8, 2);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) npy_fail(where, fmt::format("truncated .npy header ({} bytes)", b.size()));
    hl = le(b, 8, 4);
    start = 12;
  } else {
    npy_fail(where, fmt::format(".npy format version {}.{} is not read (1.0, 2.0, 3.0 are)", major,
                                static_cast<unsigned char>(b[7])));
  }
  if (hl > kNpyMaxHeader || hl > b.size() - start)
    npy_fail(where, fmt::format("header length {} does not fit in {} bytes (truncated file?)", hl, b.size()));
  std::string header = b.substr(start, hl);
  while (!header.empty() && (header.back() == '\n' || header.back() == ' ' || header.back() == '\0')) header.pop_back();
  NpyHeaderParser p{header, where};
  p.expect('{');
  std::string descr;
  bool have_descr = false, have_order = false, have_shape = false, fortran = false;
  Shape shape;
  while (!p.peek('}')) {
    const std::string key = p.str();
    p.expect(':');
    if (key == "descr" && !have_descr) {
      descr = p.str();
      have_descr = true;
    } else if (key == "fortran_order" && !have_order) {
      fortran = p.boolean();
      have_order = true;
    } else if (key == "shape" && !have_shape) {
      shape = p.tuple();
      have_shape = true;
    } else {
      p.bad(fmt::format("unexpected or repeated key '{}' (structured and object arrays are not read)", printable(key)));
    }
    if (p.peek(',')) ++p.i;
    else if (!p.peek('}')) p.bad("expected ',' or '}'");
  }
  ++p.i;
  p.ws();
  if (p.i != header.size()) p.bad("text after the closing brace");
  if (!have_descr || !have_order || !have_shape) p.bad("the keys 'descr', 'fortran_order' and 'shape' are required");
  if (fortran)
    npy_fail(where, "fortran_order is True; save a C-ordered array (np.save(f, np.ascontiguousarray(a)))");
  const NpyDescr dt = parse_descr(descr, where);
  std::int64_t count = 0, nbytes = 0;
  try {
    count = numel_of(shape);
    nbytes = checked_mul(count, dt.itemsize, "the size in bytes");
  } catch (const std::overflow_error&) {
    npy_fail(where, fmt::format("shape {} has more bytes than fit in 64 bits (corrupt header)", shape_str(shape)));
  }
  const std::uint64_t data = start + hl;
  const std::uint64_t have = b.size() - data;
  if (have != static_cast<std::uint64_t>(nbytes))
    npy_fail(where, fmt::format("array of shape {} and dtype '{}' needs {} data bytes, the file holds {} ({})",
                                shape_str(shape), descr, nbytes, have, have < static_cast<std::uint64_t>(nbytes) ? "truncated" : "trailing bytes"));
  Tensor t = Tensor::empty(shape, dt.dtype);
  const char* src = b.data() + data;
  if (dt.dtype != DType::i64 || (dt.itemsize == 8 && dt.is_signed_int)) {
    if (nbytes > 0) std::memcpy(t.raw_data(), src, static_cast<std::size_t>(nbytes));
    return t;
  }
  auto* out = t.data<std::int64_t>();
  for (std::int64_t k = 0; k < count; ++k) {
    const std::uint64_t raw = le(b, static_cast<std::size_t>(data + k * dt.itemsize), dt.itemsize);
    std::int64_t v = static_cast<std::int64_t>(raw);
    if (dt.is_bool) {
      if (raw > 1) npy_fail(where, fmt::format("bool element {} holds byte {}, not 0 or 1", k, raw));
    } else if (dt.is_signed_int) {
      const int bits = 8 * dt.itemsize;
      if (raw & (std::uint64_t{1} << (bits - 1))) v = static_cast<std::int64_t>(raw | (~std::uint64_t{0} << bits));
    }
    out[k] = v;
  }
  return t;
}

Tensor read_npy(const std::string& path) { return parse_npy(read_whole_file(path), path); }

NamedArrays read_npz(const std::string& path) {
  const std::string b = read_whole_file(path);
  const std::uint64_t size = b.size();
  // End of central directory: 22 bytes plus a comment of at most 65535 bytes, at the very end.
  if (size < 22) io_error::fail(path, fmt::format("not a .npz (zip) file: {} bytes, shorter than a zip directory", size));
  std::int64_t eocd = -1;
  for (std::int64_t at = static_cast<std::int64_t>(size) - 22; at >= 0 && at >= static_cast<std::int64_t>(size) - 22 - 65535; --at)
    if (le(b, static_cast<std::size_t>(at), 4) == 0x06054b50 && at + 22 + static_cast<std::int64_t>(le(b, at + 20, 2)) == static_cast<std::int64_t>(size)) {
      eocd = at;
      break;
    }
  if (eocd < 0) io_error::fail(path, "no zip end-of-central-directory record (truncated or not a .npz file)");
  const auto e = static_cast<std::size_t>(eocd);
  if (le(b, e + 4, 2) != 0 || le(b, e + 6, 2) != 0) io_error::fail(path, "multi-disk zip archives are not read");
  std::uint64_t entries = le(b, e + 10, 2), cd_size = le(b, e + 12, 4), cd_offset = le(b, e + 16, 4);
  if (entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    // zip64: a locator 20 bytes before the EOCD points to the zip64 EOCD record
    if (e < 20 || le(b, e - 20, 4) != 0x07064b50) io_error::fail(path, "zip64 archive without a zip64 locator (corrupt)");
    const std::uint64_t z = le(b, e - 20 + 8, 8);
    if (size < 56 || z > size - 56 || le(b, static_cast<std::size_t>(z), 4) != 0x06064b50)
      io_error::fail(path, "the zip64 end-of-central-directory record lies outside the file (corrupt)");
    entries = le(b, z + 32, 8);
    cd_size = le(b, z + 40, 8);
    cd_offset = le(b, z + 48, 8);
  }
  if (cd_offset > size || cd_size > size - cd_offset)
    io_error::fail(path, fmt::format("the zip central directory [{}, +{}) lies outside the {}-byte file (truncated?)",
                                     cd_offset, cd_size, size));
  if (entries > cd_size / 46) io_error::fail(path, fmt::format("{} zip entries cannot fit in a {}-byte directory", entries, cd_size));
  NamedArrays out;
  std::size_t at = static_cast<std::size_t>(cd_offset);
  const std::size_t cd_end = static_cast<std::size_t>(cd_offset + cd_size);
  for (std::uint64_t k = 0; k < entries; ++k) {
    if (at + 46 > cd_end || le(b, at, 4) != 0x02014b50)
      io_error::fail(path, fmt::format("zip central directory entry {} is malformed", k));
    const std::uint64_t flags = le(b, at + 8, 2), method = le(b, at + 10, 2), crc = le(b, at + 16, 4);
    std::uint64_t csize = le(b, at + 20, 4), usize = le(b, at + 24, 4);
    const std::size_t name_len = le(b, at + 28, 2), extra_len = le(b, at + 30, 2), comment_len = le(b, at + 32, 2);
    std::uint64_t local = le(b, at + 42, 4);
    if (at + 46 + name_len + extra_len + comment_len > cd_end)
      io_error::fail(path, fmt::format("zip central directory entry {} runs past the directory", k));
    const std::string name = printable(b.substr(at + 46, name_len));
    // zip64 extra field (id 1): the 64-bit values of the fields that hold 0xffffffff, in this order
    std::size_t x = at + 46 + name_len;
    const std::size_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const std::uint64_t id = le(b, x, 2), len = le(b, x + 2, 2);
      if (x + 4 + len > x_end) io_error::fail(path, fmt::format("member '{}': malformed zip extra field", name));
      if (id == 1) {
        std::size_t y = x + 4;
        auto take = [&](std::uint64_t& field) {
          if (field != 0xffffffff) return;
          if (y + 8 > x + 4 + len) io_error::fail(path, fmt::format("member '{}': short zip64 extra field", name));
          field = le(b, y, 8);
          y += 8;
        };
        take(usize);
        take(csize);
        take(local);
      }
      x += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;
    const std::string where = fmt::format("{}: member '{}'", path, name);
    if (flags & 1) io_error::fail(where, "is encrypted");
    if (method != 0 && method != 8)
      io_error::fail(where, fmt::format("uses zip compression method {} (only stored, 0, and deflate, 8, are read)", method));
    if (size < 30 || local > size - 30 || le(b, static_cast<std::size_t>(local), 4) != 0x04034b50)
      io_error::fail(where, fmt::format("has no local header at offset {} (corrupt or truncated archive)", local));
    const std::uint64_t data = local + 30 + le(b, local + 26, 2) + le(b, local + 28, 2);
    if (data > size || csize > size - data)
      io_error::fail(where, fmt::format("data [{}, +{}) runs past the end of the {}-byte file (truncated)", data, csize, size));
    if (method == 0 && csize != usize)
      io_error::fail(where, fmt::format("is stored but its sizes differ ({} compressed, {} not)", csize, usize));
    if (method == 8 && usize > csize * 1032 + 1024)
      io_error::fail(where, fmt::format("declares {} bytes from {} deflated bytes, more than deflate can produce (corrupt)",
                                        usize, csize));
    if (usize > 0xffffffffu || csize > 0xffffffffu) io_error::fail(where, "members above 4 GiB are not read");
    std::string member;
    if (method == 0) {
      member = b.substr(static_cast<std::size_t>(data), static_cast<std::size_t>(csize));
    } else {
      member.assign(static_cast<std::size_t>(usize), '\0');
      z_stream zs{};
      if (inflateInit2(&zs, -15) != Z_OK) io_error::fail(where, "zlib inflateInit2 failed");
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(b.data() + data));
      zs.avail_in = static_cast<uInt>(csize);
      zs.next_out = reinterpret_cast<Bytef*>(member.data());
      zs.avail_out = static_cast<uInt>(usize);
      const int rc = inflate(&zs, Z_FINISH);
      const std::uint64_t produced = usize - zs.avail_out, left = zs.avail_in;
      inflateEnd(&zs);
      if (rc == Z_BUF_ERROR && zs.avail_out == 0 && left > 0)
        io_error::fail(where, fmt::format("inflates to more than its declared {} bytes (corrupt)", usize));
      if (rc != Z_STREAM_END)
        io_error::fail(where, fmt::format("deflate stream is corrupt or truncated after {} of {} bytes", produced, usize));
      if (produced != usize || left != 0)
        io_error::fail(where, fmt::format("deflate stream ends after {} of {} bytes with {} compressed bytes unread",
                                          produced, usize, left));
    }
    const auto got = static_cast<std::uint64_t>(
        crc32(0, reinterpret_cast<const Bytef*>(member.data()), static_cast<uInt>(member.size())));
    if (got != crc) io_error::fail(where, fmt::format("CRC-32 {:08x} does not match the directory's {:08x} (corrupt)", got, crc));
    std::string array_name = name;
    if (array_name.size() > 4 && array_name.compare(array_name.size() - 4, 4, ".npy") == 0)
      array_name.resize(array_name.size() - 4);
    else
      io_error::fail(where, "is not a .npy member (an .npz holds name.npy files only)");
    for (const auto& [n, unused] : out)
      if (n == array_name) io_error::fail(where, "appears twice in the archive");
    out.emplace_back(array_name, parse_npy(member, where));
  }
  if (out.empty()) io_error::fail(path, "the archive holds no arrays");
  return out;
}

NamedArrays read_array_file(const std::string& path) {
  std::string head(8, '\0');
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) io_error::fail(path, "cannot open the file (missing or unreadable)");
    in.read(head.data(), 8);
    head.resize(static_cast<std::size_t>(in.gcount()));
  }
  if (head.size() >= 6 && head.compare(0, 6, "\x93NUMPY") == 0) {
    std::string stem = path;
    if (const auto slash = stem.find_last_of('/'); slash != std::string::npos) stem = stem.substr(slash + 1);
    if (const auto dot = stem.find_last_of('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
    return {{stem, read_npy(path)}};
  }
  if (head.size() >= 4 && head.compare(0, 4, "PK\x03\x04") == 0) return read_npz(path);
  if (head.size() >= 4 && head.compare(0, 4, "PK\x05\x06") == 0) io_error::fail(path, "the .npz archive is empty");
  SafeTensors st = read_safetensors(path);
  return std::move(st.tensors);
}

}  // namespace wb::crate
