#include "datasets/text/token_cache.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace wb::data::text {
namespace {

namespace fs = std::filesystem;

constexpr char kTokenMagic[8] = {'W', 'B', 'T', 'O', 'K', 'E', 'N', 'S'};
constexpr std::uint32_t kTokenCacheVersion = 1;

std::uint64_t fnv1a_ids(const std::vector<TokenId>& ids) {
  std::uint64_t h = 1469598103934665603ull;
  for (TokenId id : ids) {
    const auto v = static_cast<std::uint32_t>(id);
    for (int k = 0; k < 4; ++k) {
      h ^= (v >> (8 * k)) & 0xFF;
      h *= 1099511628211ull;
    }
  }
  return h;
}

template <class T>
void put_le(std::string& out, T v) {
  for (std::size_t k = 0; k < sizeof(T); ++k) out += static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * k)) & 0xFF);
}

struct CacheReader {
  const std::string& path;
  const std::string& data;
  std::size_t pos = 0;
  void need(std::size_t n, const char* what) {
    if (data.size() - pos < n)
      throw std::runtime_error(fmt::format("token cache {} is truncated: {} bytes, it ends inside the {} (at byte {})",
                                           path, data.size(), what, pos));
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < sizeof(T); ++k) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[pos + k])) << (8 * k);
    pos += sizeof(T);
    return static_cast<T>(v);
  }
  std::string str(const char* what) {
    const auto n = get<std::uint32_t>(what);
    if (n > 4096) throw std::runtime_error(fmt::format("token cache {} is corrupt: the {} is {} bytes long", path, what, n));
    need(n, what);
    std::string s = data.substr(pos, n);
    pos += n;
    return s;
  }
};

}  // namespace

void write_token_cache(const std::string& path, const TokenStream& s) {
  std::string out;
  out.append(kTokenMagic, sizeof kTokenMagic);
  put_le<std::uint32_t>(out, kTokenCacheVersion);
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(s.tokenizer.size()));
  out += s.tokenizer;
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(s.source.size()));
  out += s.source;
  put_le<std::uint64_t>(out, static_cast<std::uint64_t>(s.vocab_size));
  put_le<std::uint64_t>(out, s.ids.size());
  // The ids, 4 little-endian bytes each, written in place (a million-token corpus is one pass).
  const std::size_t at = out.size();
  out.resize(at + 4 * s.ids.size());
  char* w = out.data() + at;
  for (TokenId id : s.ids) {
    if (id < 0 || id >= s.vocab_size)
      throw std::invalid_argument(fmt::format("write_token_cache {}: id {} is outside [0, {})", path, id, s.vocab_size));
    const auto u = static_cast<std::uint32_t>(id);
    *w++ = static_cast<char>(u & 0xFF);
    *w++ = static_cast<char>((u >> 8) & 0xFF);
    *w++ = static_cast<char>((u >> 16) & 0xFF);
    *w++ = static_cast<char>((u >> 24) & 0xFF);
  }
  put_le<std::uint64_t>(out, fnv1a_ids(s.ids));
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(fmt::format("cannot write token cache {}", tmp));
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      throw std::runtime_error(fmt::format("writing token cache {} failed (disk full?)", tmp));
    }
  }
  fs::rename(tmp, p);
}

TokenStream read_token_cache(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(fmt::format("cannot open token cache {}", path));
  const std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CacheReader r{path, data};
  r.need(sizeof kTokenMagic, "magic");
  if (std::memcmp(data.data(), kTokenMagic, sizeof kTokenMagic) != 0)
    throw std::runtime_error(fmt::format("{} is not a whitebox token cache (no WBTOKENS magic)", path));
  r.pos = sizeof kTokenMagic;
  const auto version = r.get<std::uint32_t>("version");
  if (version != kTokenCacheVersion)
    throw std::runtime_error(fmt::format("token cache {} has version {}, this whitebox reads {}: delete it to rebuild",
                                         path, version, kTokenCacheVersion));
  TokenStream s;
  s.tokenizer = r.str("tokenizer spec");
  s.source = r.str("source name");
  s.vocab_size = static_cast<std::int64_t>(r.get<std::uint64_t>("vocabulary size"));
  const auto count = r.get<std::uint64_t>("token count");
  if (s.vocab_size <= 0 || s.vocab_size > (std::int64_t{1} << 31))
    throw std::runtime_error(fmt::format("token cache {} is corrupt: vocabulary size {}", path, s.vocab_size));
  const std::size_t rest = data.size() - r.pos;
  if (count > rest / 4 || rest != 4 * count + 8)
    throw std::runtime_error(fmt::format(
        "token cache {} is {}: the header promises {} ids ({} bytes with the checksum), {} bytes follow it",
        path, rest < 4 * count + 8 ? "truncated" : "corrupt (trailing bytes)", count, 4 * count + 8, rest));
  s.ids.resize(count);
  for (std::uint64_t k = 0; k < count; ++k) {
    const auto v = r.get<std::uint32_t>("ids");
    if (v >= static_cast<std::uint64_t>(s.vocab_size))
      throw std::runtime_error(fmt::format("token cache {} is corrupt: id {} at position {} is >= V = {}", path, v, k,
                                           s.vocab_size));
    s.ids[k] = static_cast<TokenId>(v);
  }
  const auto sum = r.get<std::uint64_t>("checksum");
  if (sum != fnv1a_ids(s.ids))
    throw std::runtime_error(fmt::format("token cache {} is corrupt: the checksum does not match its ids", path));
  return s;
}

bool token_cache_matches(const std::string& path, const Tokenizer& tok, const std::string& source, TokenStream* out) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  TokenStream s = read_token_cache(path);
  if (s.tokenizer != tok.spec() || s.vocab_size != tok.vocab_size() || s.source != source)
    throw std::runtime_error(fmt::format(
        "token cache {} holds {} tokenized by '{}' (V = {}), but {} with '{}' (V = {}) is asked for: delete it or choose "
        "another cache folder",
        path, s.source, s.tokenizer, s.vocab_size, source, tok.spec(), tok.vocab_size()));
  *out = std::move(s);
  return true;
}

}  // namespace wb::data::text
