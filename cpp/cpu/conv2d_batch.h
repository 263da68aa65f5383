// How the convolution kernels split a batch across threads (see conv2d.cpp for why): images are
// cut into one contiguous chunk per thread, and each thread owns its scratch buffers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>

#include "cpu/runtime.h"

namespace ember::cpu::conv_batch {

// Threads for `macs` multiply-adds over N images: never more threads than images.
inline int threads(int64_t N, int64_t macs) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads_for(macs), N)));
}

// First image of chunk t of nt. The partition depends only on (N, nt), so results are bitwise
// reproducible at a fixed thread count.
inline int64_t chunk_begin(int64_t N, int t, int nt) { return N * t / nt; }

// Uninitialised scratch, allocated before any parallel region: an exception (bad_alloc) thrown
// inside one would terminate the process instead of reaching Python as MemoryError.
template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(n > 0 ? new T[n] : nullptr);
}

// dst[i] += sum over t of partials[t * n + i], t = 0 .. count-1 in order.
template <typename T>
void add_partials(T* dst, const T* partials, int count, int64_t n) {
  if (count == 0) return;
#pragma omp parallel for num_threads(threads_for(count * n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T sum = dst[i];
    for (int t = 0; t < count; ++t) sum += partials[t * n + i];
    dst[i] = sum;
  }
}

}  // namespace ember::cpu::conv_batch
