// A token stream cached on disk, so a corpus is tokenized once.
//
// File layout (little-endian):
//   "WBTOKENS"            8 bytes, magic
//   u32 version           1
//   u32 spec length, spec bytes        the tokenizer spec (bpe.hpp: "gpt2", "gpt2:8192", "bytes")
//   u32 source length, source bytes    what was tokenized, e.g. "brown/validation"
//   u64 vocab size V
//   u64 count
//   count x u32 ids       each < V
//   u64 checksum          FNV-1a 64 of the id bytes
// The file is written to <path>.tmp and renamed, so a reader never sees a half-written cache. A read
// checks every field: a wrong magic, a truncated file, trailing bytes, a bad checksum or an id >= V is a
// std::runtime_error naming the file and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/text/bpe.hpp"

namespace wb::data::text {

struct TokenStream {
  std::string tokenizer;  // spec
  std::string source;
  std::int64_t vocab_size = 0;
  std::vector<TokenId> ids;
};

void write_token_cache(const std::string& path, const TokenStream& s);
TokenStream read_token_cache(const std::string& path);

// The ids of `source` under `tok`: read from the cache at `path` when it exists and was made by the same
// tokenizer spec, V and source (a cache made otherwise is an error naming both, never silently reused);
// otherwise `text()` is encoded and the cache written. path "" = no cache.
template <class TextFn>
TokenStream cached_tokens(const std::string& path, const Tokenizer& tok, const std::string& source, TextFn&& text);

// Non-template part of cached_tokens.
bool token_cache_matches(const std::string& path, const Tokenizer& tok, const std::string& source, TokenStream* out);

template <class TextFn>
TokenStream cached_tokens(const std::string& path, const Tokenizer& tok, const std::string& source, TextFn&& text) {
  TokenStream s;
  if (!path.empty() && token_cache_matches(path, tok, source, &s)) return s;
  s.tokenizer = tok.spec();
  s.source = source;
  s.vocab_size = tok.vocab_size();
  s.ids = tok.encode(text());
  if (!path.empty()) write_token_cache(path, s);
  return s;
}

}  // namespace wb::data::text
