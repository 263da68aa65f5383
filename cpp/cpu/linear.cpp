#include "cpu/linear.h"

#include <algorithm>

#include "cpu/gemm.h"
#include "cpu/runtime.h"

namespace ember::cpu {

template <typename T>
void linear_forward(T* y, const T* x, const T* weight, const T* bias, int64_t N, int64_t in,
                    int64_t out) {
  if (N <= 0 || out <= 0) return;
  // The bias rides on GEMM's beta: y starts as the broadcast bias and beta = 1 adds x W^T onto it,
  // one pass over y fewer than adding the bias afterwards.
  if (bias) {
#pragma omp parallel for num_threads(threads_for(N * out)) schedule(static)
    for (int64_t i = 0; i < N; ++i) std::copy(bias, bias + out, y + i * out);
  }
  gemm<T>(false, true, N, out, in, T(1), x, in, weight, in, bias ? T(1) : T(0), y, out);
}

template <typename T>
void column_sums(T* dbias, const T* dy, int64_t N, int64_t out) {
  if (out <= 0) return;
  // Blocks of columns keep each thread's accumulators in L1 while it walks dy row by row.
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (out + kBlock - 1) / kBlock;
  const int threads = static_cast<int>(std::min<int64_t>(threads_for(N * out), blocks));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t j0 = blk * kBlock, width = std::min(kBlock, out - j0);
    double acc[kBlock] = {};
    for (int64_t i = 0; i < N; ++i) {
      const T* row = dy + i * out + j0;
      for (int64_t j = 0; j < width; ++j) acc[j] += static_cast<double>(row[j]);
    }
    for (int64_t j = 0; j < width; ++j) dbias[j0 + j] = static_cast<T>(acc[j]);
  }
}

template <typename T>
void linear_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                     int64_t N, int64_t in, int64_t out) {
  const GemmProblem<T> for_dx{false, false, N, in, out, T(1), dy, out, weight, in, T(0), dx, in};
  const GemmProblem<T> for_dweight{true, false, out, in, N, T(1), dy, out, x, in, T(0), dweight,
                                   in};
  if (dx && dweight)
    gemm_pair(for_dx, for_dweight);
  else if (dx)
    gemm(for_dx);
  else if (dweight)
    gemm(for_dweight);
  if (dbias) column_sums(dbias, dy, N, out);
}

#define EMBER_INSTANTIATE(T)                                                                  \
  template void linear_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t,         \
                                  int64_t);                                                   \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                   int64_t);                                                  \
  template void column_sums<T>(T*, const T*, int64_t, int64_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
