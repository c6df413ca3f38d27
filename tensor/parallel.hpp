// The one owner of the cores: a small persistent thread pool for whitebox's loops and for BLAS/LAPACK.
// OpenBLAS itself is held at one thread; large products are split into blocks run on this pool
// (tensor/cpu/matmul.cpp), so no second pool spins on the same cores. Between jobs a worker watches
// for the next one for up to 50 us, then blocks on a condition variable: back-to-back regions skip the
// kernel's sleep and wake, an idle pool costs nothing.
#pragma once

#include <cstdint>
#include <functional>

namespace wb {

// Sets the threads used by whitebox loops and BLAS calls (default: hardware cores, or WB_NUM_THREADS
// when set).
void set_num_threads(int n);
int num_threads();

// Runs fn(begin, end) over [0, n) split into at most num_threads() contiguous chunks of at least
// `grain` items each. The calling thread takes the first chunk. Nested calls run serially.
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

}  // namespace wb
