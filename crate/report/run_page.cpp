#include "crate/report/run_page.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace wb::crate {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uintmax_t kMaxInlineFigure = 16u << 20;
constexpr std::size_t kMaxText = 64u << 10;

bool page_read_file(const fs::path& p, std::string& out, std::uintmax_t limit = std::uintmax_t(-1)) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec || size > limit) return false;
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string fmt_cell(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return fmt::format("{}", v.get<std::int64_t>());
  if (v.is_number_float()) {
    const double x = v.get<double>();
    return std::abs(x) >= 1e5 || (x != 0 && std::abs(x) < 1e-3) ? fmt::format("{:.4g}", x) : fmt::format("{:.4f}", x);
  }
  if (v.is_string()) return html_escape(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "";
  return html_escape(v.dump());
}

void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else {
    out.emplace_back(prefix, fmt_cell(j));
  }
}

std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  std::string s = "<table><thead><tr>";
  for (const auto& h : head) s += "<th>" + html_escape(h) + "</th>";
  s += "</tr></thead><tbody>\n";
  for (const auto& r : rows) {
    s += "<tr>";
    for (const auto& c : r) s += "<td>" + c + "</td>";
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n";
}

// The rows of a JSONL file that parse, and the numbers of the lines that do not.
std::vector<json> read_jsonl(const fs::path& p, std::vector<std::string>& notes) {
  std::vector<json> rows;
  std::ifstream in(p);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      rows.push_back(json::parse(line));
    } catch (const json::exception&) {
      notes.push_back(fmt::format("{} line {}: not JSON, left out", p.filename().string(), n));
    }
  }
  return rows;
}

std::string metrics_table(const std::vector<json>& records) {
  static const std::vector<std::string> first{"epoch",     "step",          "train_loss", "train_accuracy",
                                              "test_loss", "test_accuracy", "lr",         "images_per_second", "tokens_per_second",
                                              "seconds"};
  std::vector<std::string> cols;
  std::set<std::string> seen;
  for (const auto& k : first)
    for (const auto& r : records)
      if (r.contains(k) && seen.insert(k).second) cols.push_back(k);
  for (const auto& r : records)
    for (auto it = r.begin(); it != r.end(); ++it)
      if (it.key() != "kind" && seen.insert(it.key()).second) cols.push_back(it.key());
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : records) {
    std::vector<std::string> row;
    for (const auto& c : cols) row.push_back(r.contains(c) ? fmt_cell(r.at(c)) : "");
    rows.push_back(row);
  }
  return table(cols, rows);
}

// A measurement record ({"label", "images", "layers": [{"layer", q: {"mean", "std"}}]}) as a table.
std::string measurement_table(const json& m) {
  if (!m.is_object() || !m.contains("layers") || !m.at("layers").is_array() || m.at("layers").empty()) return "";
  std::vector<std::string> cols{"layer"};
  for (auto it = m.at("layers")[0].begin(); it != m.at("layers")[0].end(); ++it)
    if (it.key() != "layer") cols.push_back(it.key());
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : m.at("layers")) {
    std::vector<std::string> row;
    for (const auto& c : cols) {
      if (!l.contains(c)) row.emplace_back("");
      else if (l.at(c).is_object() && l.at(c).contains("mean"))
        row.push_back(fmt_cell(l.at(c).at("mean")) + (l.at(c).contains("std") ? " ± " + fmt_cell(l.at(c).at("std")) : ""));
      else row.push_back(fmt_cell(l.at(c)));
    }
    rows.push_back(row);
  }
  std::string title = m.contains("label") ? fmt_cell(m.at("label")) : "";
  if (m.contains("images")) title += fmt::format(" ({} images)", fmt_cell(m.at("images")));
  return "<p class=\"caption\">" + title + "</p>\n" + table(cols, rows);
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') out.push_back(cur), cur.clear();
    else if (c != '\r') cur.push_back(c);
  }
  out.push_back(cur);
  return out;
}

std::string csv_table(const std::string& text, std::size_t max_rows = 500) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) return "";
  const auto head = split_csv_line(line);
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line) && rows.size() < max_rows) {
    if (line.empty()) continue;
    std::vector<std::string> r;
    for (const auto& c : split_csv_line(line)) {
      char* end = nullptr;
      const double x = std::strtod(c.c_str(), &end);
      const bool number = !c.empty() && end == c.c_str() + c.size() && c.find_first_not_of("0123456789-") != std::string::npos;
      r.push_back(number ? fmt_cell(json(x)) : html_escape(c));
    }
    rows.push_back(r);
  }
  return table(head, rows);
}

int figure_rank(const std::string& name) {
  static const std::vector<std::string> order{"curves", "measure", "layers", "rate", "accuracy", "reconstructions", "attention"};
  for (std::size_t i = 0; i < order.size(); ++i)
    if (name.find(order[i]) != std::string::npos) return static_cast<int>(i);
  return static_cast<int>(order.size());
}

// Figures (PNG) of dir and of its sub-folders one level down, checkpoint folders skipped.
std::vector<fs::path> find_figures(const fs::path& dir, bool descend) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && e.path().extension() == ".png" && name.find(".tmp") == std::string::npos) out.push_back(e.path());
    else if (descend && e.is_directory(ec) && name.rfind("checkpoint", 0) != 0 && name[0] != '.' &&
             !fs::exists(e.path() / "options.json") && !fs::exists(e.path() / "metrics.jsonl"))
      for (const auto& f : find_figures(e.path(), false)) out.push_back(f);
  }
  std::sort(out.begin(), out.end(), [&](const fs::path& a, const fs::path& b) {
    const int ra = figure_rank(a.filename().string()), rb = figure_rank(b.filename().string());
    return ra != rb ? ra < rb : a < b;
  });
  return out;
}

std::string figures_html(const fs::path& dir, bool descend, std::vector<std::string>& notes) {
  std::string s;
  for (const auto& p : find_figures(dir, descend)) {
    const std::string rel = fs::relative(p, dir).string();
    std::string bytes;
    if (!page_read_file(p, bytes, kMaxInlineFigure)) {
      notes.push_back(fmt::format("{}: unreadable or above 16 MiB, not inlined", rel));
      continue;
    }
    if (bytes.size() < 8 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
      notes.push_back(fmt::format("{}: not a PNG, left out", rel));
      continue;
    }
    s += fmt::format("<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}</figcaption></figure>\n",
                     html_escape(rel), base64_encode(bytes));
  }
  return s;
}

const char* kStyle =
    "body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.85em}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}"
    "td:first-child{text-align:left}figure{display:inline-block;margin:0.5em;vertical-align:top}"
    "img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.8em;color:#555}"
    "pre{background:#f6f6f6;padding:0.5em;white-space:pre-wrap;max-height:30em;overflow:auto}"
    ".caption{font-weight:bold;margin-bottom:0}.notes{color:#a33}";

std::string page(const std::string& title, const std::string& body, const std::vector<std::string>& notes) {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
                  "style-src 'unsafe-inline'\"><title>" +
                  html_escape(title) + "</title><style>" + kStyle + "</style></head>\n<body>\n<h1>" +
                  html_escape(title) + "</h1>\n" + body;
  if (!notes.empty()) {
    s += "<h2>Not shown</h2><ul class=\"notes\">";
    for (const auto& n : notes) s += "<li>" + html_escape(n) + "</li>";
    s += "</ul>\n";
  }
  return s + "<p class=\"caption\">written by whitebox report</p>\n</body></html>\n";
}

}  // namespace

std::string base64_encode(const std::string& b) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(b[i]) << 16) | (static_cast<unsigned char>(b[i + 1]) << 8) |
                       static_cast<unsigned char>(b[i + 2]);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += t[v & 63];
  }
  if (i + 1 == b.size()) {
    const unsigned v = static_cast<unsigned char>(b[i]) << 16;
    out += t[v >> 18], out += t[(v >> 12) & 63], out += "==";
  } else if (i + 2 == b.size()) {
    const unsigned v = (static_cast<unsigned char>(b[i]) << 16) | (static_cast<unsigned char>(b[i + 1]) << 8);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += '=';
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': s += "&amp;"; break;
      case '<': s += "&lt;"; break;
      case '>': s += "&gt;"; break;
      case '"': s += "&quot;"; break;
      case '\'': s += "&#39;"; break;
      default: s += c;
    }
  }
  return s;
}

bool is_sweep_folder(const std::string& dir) { return fs::is_regular_file(fs::path(dir) / "results.csv"); }

std::string run_page_html(const std::string& dir_name) {
  const fs::path dir(dir_name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(fmt::format("{}: not a folder (give a run folder)", dir_name));
  std::vector<std::string> notes;
  std::string body;
  bool anything = false;
  std::string text;
  if (page_read_file(dir / "options.json", text)) {
    anything = true;
    try {
      std::vector<std::pair<std::string, std::string>> kv;
      flatten(json::parse(text), "", kv);
      std::vector<std::vector<std::string>> rows;
      for (auto& [k, v] : kv) rows.push_back({html_escape(k), v});
      body += "<h2>Configuration</h2>\n" + table({"option", "value"}, rows);
    } catch (const json::exception&) {
      notes.push_back("options.json: not JSON, left out");
    }
  }
  if (fs::exists(dir / "metrics.jsonl")) {
    anything = true;
    std::vector<json> epochs, steps;
    for (auto& r : read_jsonl(dir / "metrics.jsonl", notes)) {
      if (r.value("kind", "") == "epoch") epochs.push_back(r);
      else if (r.value("kind", "") == "step") steps.push_back(r);
    }
    body += "<h2>Metrics</h2>\n";
    body += epochs.empty() ? "<p>no epoch finished yet</p>\n" : metrics_table(epochs);
    if (!steps.empty()) body += fmt::format("<p>{} step records in metrics.jsonl (last: step {}).</p>\n", steps.size(),
                                            fmt_cell(steps.back().value("step", json())));
  }
  std::string measures;
  if (fs::exists(dir / "measurements.jsonl")) {
    const auto ms = read_jsonl(dir / "measurements.jsonl", notes);
    if (!ms.empty()) measures += measurement_table(ms.back());
  }
  if (page_read_file(dir / "final_measure.json", text)) {
    try {
      measures += measurement_table(json::parse(text));
    } catch (const json::exception&) {
      notes.push_back("final_measure.json: not JSON, left out");
    }
  }
  std::vector<fs::path> csvs;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".csv") csvs.push_back(e.path());
  std::sort(csvs.begin(), csvs.end());
  for (const auto& c : csvs)
    if (page_read_file(c, text, 4u << 20) && text.rfind("label,layer", 0) == 0)
      measures += "<p class=\"caption\">" + html_escape(c.filename().string()) + "</p>\n" + csv_table(text);
  if (!measures.empty()) {
    anything = true;
    body += "<h2>Per-layer measurements</h2>\n" + measures;
  }
  const std::string figs = figures_html(dir, true, notes);
  if (!figs.empty()) {
    anything = true;
    body += "<h2>Figures</h2>\n" + figs;
  }
  std::vector<fs::path> texts;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".txt") texts.push_back(e.path());
  std::sort(texts.begin(), texts.end());
  for (const auto& p : texts) {
    std::string t;
    if (!page_read_file(p, t)) continue;
    const bool cut = t.size() > kMaxText;
    if (cut) t.resize(kMaxText);
    body += "<h2>" + html_escape(p.filename().string()) + "</h2>\n<pre>" + html_escape(t) + (cut ? "\n[...]" : "") + "</pre>\n";
    anything = true;
  }
  if (!anything)
    throw std::runtime_error(fmt::format("{}: holds no options.json, metrics.jsonl, measurement or figure: not a run folder",
                                         dir_name));
  return page(fmt::format("whitebox run {}", fs::absolute(dir).lexically_normal().filename().string().empty()
                                                ? dir_name
                                                : fs::absolute(dir).lexically_normal().filename().string()),
              body, notes);
}

std::vector<std::string> sweep_run_folders(const std::string& dir_name) {
  const fs::path dir(dir_name);
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it.depth() > 2) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_directory(ec)) continue;
    const std::string name = it->path().filename().string();
    if (name.rfind("checkpoint", 0) == 0 || name[0] == '.') {
      it.disable_recursion_pending();
      continue;
    }
    if (fs::exists(it->path() / "options.json") || fs::exists(it->path() / "metrics.jsonl")) {
      out.push_back(fs::relative(it->path(), dir).string());
      it.disable_recursion_pending();
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string sweep_page_html(const std::string& dir_name, const std::vector<std::string>& runs) {
  const fs::path dir(dir_name);
  std::vector<std::string> notes;
  std::string body, text;
  if (page_read_file(dir / "results.json", text)) {
    try {
      const json j = json::parse(text);
      if (j.contains("description") && j.at("description").is_string())
        body += "<p>" + html_escape(j.at("description").get<std::string>()) + "</p>\n";
    } catch (const json::exception&) {
      notes.push_back("results.json: not JSON, left out");
    }
  }
  if (page_read_file(dir / "results.csv", text)) body += "<h2>Results</h2>\n" + csv_table(text);
  const std::string figs = figures_html(dir, false, notes);
  if (!figs.empty()) body += "<h2>Figures</h2>\n" + figs;
  body += "<h2>Runs</h2>\n<ul>\n";
  for (const auto& r : runs) {
    std::string summary;
    std::vector<std::string> ignored;
    const auto records = read_jsonl(dir / r / "metrics.jsonl", ignored);
    for (auto it = records.rbegin(); it != records.rend(); ++it)
      if (it->value("kind", "") == "epoch" && it->contains("test_accuracy")) {
        summary = fmt::format(" (epoch {}, test accuracy {:.2f}%)", fmt_cell(it->value("epoch", json())),
                              100 * it->at("test_accuracy").get<double>());
        break;
      }
    body += fmt::format("<li><a href=\"{0}/report.html\">{1}</a>{2}</li>\n", html_escape(r), html_escape(r), summary);
  }
  body += "</ul>\n";
  return page(fmt::format("whitebox sweep {}", fs::absolute(dir).lexically_normal().filename().string()), body, notes);
}

}  // namespace wb::crate
