// PNG plots through gnuplot (Debian package gnuplot-nox, pngcairo terminal): panels side by side,
// each with several named series, optional error bars (mean +- std). The image is rendered to a
// temporary file and renamed into place, so a failed plot never leaves a partial PNG.
#pragma once

#include <string>
#include <vector>

namespace wb::crate {

struct Series {
  std::string label;
  std::vector<double> x, y;
  std::vector<double> err;  // optional, same length as y: drawn as error bars
};

struct Panel {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  bool logy = false;
};

bool gnuplot_available();
// Throws std::runtime_error naming the file when gnuplot is missing or fails.
void plot_png(const std::string& path, const std::vector<Panel>& panels, int width = 0, int height = 480);

}  // namespace wb::crate
