// Fully connected layer in PyTorch's layout, on top of gemm:
//   x is (N, in), weight is (out, in), bias is (out,) or null, y is (N, out);
//   y = x @ weight^T + bias.
// Backward writes (does not accumulate) each requested gradient; a null output pointer skips it:
//   dx = dy @ weight        (N, in)
//   dweight = dy^T @ x      (out, in)
//   dbias = sum_n dy[n, :]  (out,)
#pragma once

#include <cstdint>

namespace ember::cpu {

template <typename T>
void linear_forward(T* y, const T* x, const T* weight, const T* bias, int64_t N, int64_t in,
                    int64_t out);

template <typename T>
void linear_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                     int64_t N, int64_t in, int64_t out);

// dbias[j] = sum_i dy[i, j] for dy (N, out): columns split across threads, each summed in row
// order in double, so the result does not depend on the thread count.
template <typename T>
void column_sums(T* dbias, const T* dy, int64_t N, int64_t out);

}  // namespace ember::cpu
