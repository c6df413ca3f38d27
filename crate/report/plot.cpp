#include "crate/report/plot.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace wb::crate {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

void plot_png(const std::string& path, const std::vector<Panel>& panels, int width, int height) {
  namespace fs = std::filesystem;
  if (!gnuplot_available())
    throw std::runtime_error(fmt::format("{}: cannot plot, gnuplot is not installed (apt-get install gnuplot-nox)", path));
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  char tmpl[] = "/tmp/whitebox-plot-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error(fmt::format("{}: cannot create a temporary directory", path));
  const fs::path work(tmpl);
  if (width <= 0) width = 520 * static_cast<int>(std::max<std::size_t>(1, panels.size()));
  const fs::path tmp_png = dir / ("." + target.filename().string() + ".tmp.png");
  std::string script = fmt::format("set terminal pngcairo size {},{} font 'Sans,10'\nset output {}\n", width, height,
                                   quote(tmp_png.string()));
  std::size_t most = 1;  // the key below each panel wraps about three entries per row
  for (const auto& p : panels) most = std::max(most, p.series.size());
  script += fmt::format("set multiplot layout 1,{}\nset grid\nset key outside below center horizontal\nset bmargin {}\n"
                        "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n",
                        panels.size(), 5 + (most + 2) / 3);
  int file = 0;
  for (const auto& panel : panels) {
    script += fmt::format("set title {}\nset xlabel {}\nset ylabel {}\n{}", quote(panel.title), quote(panel.xlabel),
                          quote(panel.ylabel), panel.logy ? "set logscale y\n" : "unset logscale y\n");
    std::string plot = "plot ";
    for (std::size_t s = 0; s < panel.series.size(); ++s) {
      const auto& se = panel.series[s];
      const fs::path data = work / fmt::format("s{}.dat", file++);
      std::ofstream out(data);
      const bool err = se.err.size() == se.y.size() && !se.err.empty();
      for (std::size_t i = 0; i < se.x.size() && i < se.y.size(); ++i)
        out << fmt::format("{:.10g} {:.10g}{}\n", se.x[i], se.y[i], err ? fmt::format(" {:.10g}", se.err[i]) : "");
      plot += fmt::format("{}{} using 1:2{} with {} lw 2 pt 7 ps 0.6 title {}", s ? ", " : "", quote(data.string()),
                          err ? ":3" : "", err ? "yerrorlines" : "linespoints", quote(se.label));
    }
    script += (panel.series.empty() ? std::string("plot NaN notitle") : plot) + "\n";
  }
  script += "unset multiplot\n";
  const fs::path script_path = work / "plot.gp";
  std::ofstream(script_path) << script;
  const fs::path log = work / "gnuplot.log";
  const int rc = std::system(fmt::format("gnuplot {} >{} 2>&1", quote(script_path.string()), quote(log.string())).c_str());
  std::string msg;
  if (rc != 0) {
    std::ifstream in(log);
    msg.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::error_code ec;
  if (rc == 0) {
    fs::rename(tmp_png, target, ec);
    if (ec) msg = fmt::format("cannot move the rendered image into place: {}", ec.message());
  }
  std::error_code ignore;
  fs::remove(tmp_png, ignore);
  fs::remove_all(work, ignore);
  if (rc != 0) throw std::runtime_error(fmt::format("{}: gnuplot failed: {}", path, msg));
  if (ec) throw std::runtime_error(fmt::format("{}: {}", path, msg));
}

}  // namespace wb::crate
