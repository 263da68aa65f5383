#include "cpu/softmax_rows.h"

#include <cmath>
#include <limits>

#include "cpu/activation_avx2.h"
#include "cpu/activation_avx512.h"

namespace ember::cpu {

template <typename T>
T row_max(const T* x, int64_t n) {
  if constexpr (avx512::candidate<T>)
    if (avx512::active()) return avx512::row_max(x, n);
  if constexpr (avx2::candidate<T>)
    if (avx2::active()) return avx2::row_max(x, n);
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

template <typename T>
double exp_shifted_sum(T* out, const T* x, T shift, int64_t n) {
  if constexpr (avx512::candidate<T>)
    if (avx512::active()) return avx512::exp_shifted_sum(out, x, shift, n);
  if constexpr (avx2::candidate<T>)
    if (avx2::active()) return avx2::exp_shifted_sum(out, x, shift, n);
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    const T e = std::exp(x[j] - shift);
    if (out) out[j] = e;
    s += e;
  }
  return s;
}

template <typename T>
void scale_row(T* y, T a, int64_t n) {
  if constexpr (avx512::candidate<T>)
    if (avx512::active()) return avx512::scale_row(y, a, n);
  for (int64_t j = 0; j < n; ++j) y[j] *= a;
}

template float row_max<float>(const float*, int64_t);
template double row_max<double>(const double*, int64_t);
template double exp_shifted_sum<float>(float*, const float*, float, int64_t);
template double exp_shifted_sum<double>(double*, const double*, double, int64_t);
template void scale_row<float>(float*, float, int64_t);
template void scale_row<double>(double*, double, int64_t);

}  // namespace ember::cpu
