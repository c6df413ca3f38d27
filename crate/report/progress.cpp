#include "crate/report/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace wb::crate {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const auto s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}

Progress::Progress(std::string label, std::int64_t total, std::string unit, double log_seconds)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), log_seconds_(log_seconds),
      tty_(::isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()), last_print_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::rate() const {
  const double t = elapsed_seconds();
  return t > 0 ? static_cast<double>(items_) / t : 0.0;
}

void Progress::update(std::int64_t done, std::int64_t items, const std::string& fields) {
  items_ += items;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (tty_ ? since >= 0.1 : since >= log_seconds_) {
    last_print_ = now;
    draw(done, fields, false);
  }
}

void Progress::finish(const std::string& fields) { draw(total_, fields, true); }

void Progress::draw(std::int64_t done, const std::string& fields, bool final) {
  const double t = elapsed_seconds();
  const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const double eta = frac > 0 ? t * (1.0 - frac) / frac : -1.0;
  std::string line = fmt::format("{} {:>5}/{:<5}", label_, done, total_);
  if (tty_) {
    const int width = 24, filled = static_cast<int>(frac * width);
    line += fmt::format(" [{}{}]", std::string(static_cast<std::size_t>(filled), '='),
                        std::string(static_cast<std::size_t>(width - filled), ' '));
  }
  line += fmt::format(" {} {:.0f} {}/s {} {}", fields, rate(), unit_, final ? "in" : "ETA",
                      format_duration(final ? t : eta));
  if (tty_)
    std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace wb::crate
