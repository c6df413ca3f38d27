// Peak memory of a piece of code, for the tests that forged files stay cheap: the growth of the
// process's peak resident set (VmHWM, reset first through /proc/self/clear_refs) and of the tensor
// allocator's peak live bytes (which also sees allocations never touched, so never resident). The
// result is the larger of the two, in bytes.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

#include "tensor/storage.hpp"

namespace wbtest {

// A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1.
inline std::int64_t proc_status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return -1;
}

// Runs f (exceptions are caught and ignored: the caller checks the error separately) and returns the
// peak extra memory it took.
template <class F>
std::int64_t peak_memory_growth(F&& f) {
  bool reset = false;
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";  // reset VmHWM to the current RSS (Linux >= 4.0)
    clear.flush();
    reset = static_cast<bool>(clear);
  }
  const std::int64_t rss0 = proc_status_kb("VmRSS");
  rusage ru0{};
  getrusage(RUSAGE_SELF, &ru0);
  wb::reset_peak_host_memory();
  const std::int64_t live0 = wb::host_memory_stats().live_bytes;
  try {
    f();
  } catch (...) {
  }
  const std::int64_t tensor_peak = wb::host_memory_stats().peak_bytes - live0;
  std::int64_t rss_peak = 0;
  if (reset) {
    rss_peak = (proc_status_kb("VmHWM") - rss0) * 1024;
  } else {  // no reset possible: the lifetime peak grows only past its old value (a weaker check)
    rusage ru1{};
    getrusage(RUSAGE_SELF, &ru1);
    rss_peak = (ru1.ru_maxrss - ru0.ru_maxrss) * 1024;
  }
  return std::max(tensor_peak, rss_peak);
}

}  // namespace wbtest
