#include "cpu/activation.h"

#include "cpu/runtime.h"

namespace ember::cpu {

template <typename T>
void relu_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] > T(0) ? inp[i] : T(0);
}

template <typename T>
void relu_backward(T* dinp, const T* dout, const T* inp, int64_t n) {
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) dinp[i] = inp[i] > T(0) ? dout[i] : T(0);
}

#define EMBER_INSTANTIATE(T)                                   \
  template void relu_forward<T>(T*, const T*, int64_t); \
  template void relu_backward<T>(T*, const T*, const T*, int64_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
