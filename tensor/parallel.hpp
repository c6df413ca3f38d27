// The one owner of the cores: a small persistent thread pool for whitebox's own loops, sized together
// with OpenBLAS's pool by set_num_threads(). Workers block on a condition variable (no spinning), so
// they never compete with OpenBLAS threads for the cores while a large GEMM runs.
#pragma once

#include <cstdint>
#include <functional>

namespace wb {

// Sets the threads used by whitebox loops and by OpenBLAS (default: hardware cores, or
// WB_NUM_THREADS when set).
void set_num_threads(int n);
int num_threads();

// Runs fn(begin, end) over [0, n) split into at most num_threads() contiguous chunks of at least
// `grain` items each. The calling thread takes the first chunk. Nested calls run serially.
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

}  // namespace wb
