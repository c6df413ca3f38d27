// A progress line for long loops: position, rate (items/s), ETA and caller-supplied fields
// ("loss 0.412"). On a terminal it redraws one line in place (stderr, '\r'); otherwise it prints a
// line at most every `log_seconds`, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace wb::crate {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, std::string unit = "img", double log_seconds = 10.0);
  // Marks `done` steps of `total` complete, having processed `items` more items since the last call.
  void update(std::int64_t done, std::int64_t items, const std::string& fields);
  void finish(const std::string& fields);
  void count(std::int64_t items) { items_ += items; }  // counts items without drawing (quiet runs)
  double elapsed_seconds() const;
  double rate() const;  // items per second since construction

 private:
  void draw(std::int64_t done, const std::string& fields, bool final);
  std::string label_, unit_;
  std::int64_t total_, items_ = 0;
  double log_seconds_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

std::string format_duration(double seconds);  // "1:02:03" or "2:03"

}  // namespace wb::crate
