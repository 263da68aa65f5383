#include "cpu/gather.h"

#include <algorithm>
#include <cstring>

#include "cpu/runtime.h"

namespace ember::cpu {

namespace {

constexpr int64_t kLine = 64;
// Asking for every line of the rows ahead issues their misses together, where memcpy alone
// waits for the first line of each row before the hardware prefetcher follows: 64 MNIST rows in
// a training loop, 40 -> 37.5 us on one thread. How far ahead (1 to 16 rows) measured the same.
constexpr int64_t kAhead = 4;

inline void prefetch_row(const char* row, int64_t row_bytes) {
  for (int64_t b = 0; b < row_bytes; b += kLine) __builtin_prefetch(row + b, 0, 3);
  __builtin_prefetch(row + row_bytes - 1, 0, 3);
}

void gather_range(char* out, const char* src, const int64_t* indices, int64_t begin, int64_t end,
                  int64_t row_bytes) {
  for (int64_t i = begin; i < std::min(end, begin + kAhead); ++i)
    prefetch_row(src + indices[i] * row_bytes, row_bytes);
  for (int64_t i = begin; i < end; ++i) {
    if (i + kAhead < end) prefetch_row(src + indices[i + kAhead] * row_bytes, row_bytes);
    std::memcpy(out + i * row_bytes, src + indices[i] * row_bytes, row_bytes);
  }
}

}  // namespace

void gather_rows(char* out, const char* src, const int64_t* indices, int64_t count,
                 int64_t row_bytes) {
  if (count <= 0 || row_bytes <= 0) return;
  // One float-sized word copied counts as one scalar operation in threads_for's units.
  const int threads =
      static_cast<int>(std::min<int64_t>(threads_for(count * row_bytes / 4), count));
  if (threads <= 1) {
    gather_range(out, src, indices, 0, count, row_bytes);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t)
    gather_range(out, src, indices, count * t / threads, count * (t + 1) / threads, row_bytes);
}

}  // namespace ember::cpu
