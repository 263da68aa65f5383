#include "cpu/arithmetic.h"

#include "cpu/runtime.h"

namespace ember::cpu {

namespace {

template <typename T, typename Op>
void apply(T* out, const T* a, const T* b, int64_t n, Op op) {
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = op(a[i], b[i]);
}

}  // namespace

template <typename T>
void arithmetic(Arithmetic op, T* out, const T* a, const T* b, int64_t n) {
  switch (op) {
    case Arithmetic::Add:
      return apply(out, a, b, n, [](T x, T y) { return x + y; });
    case Arithmetic::Subtract:
      return apply(out, a, b, n, [](T x, T y) { return x - y; });
    case Arithmetic::Multiply:
      return apply(out, a, b, n, [](T x, T y) { return x * y; });
    case Arithmetic::Divide:
      return apply(out, a, b, n, [](T x, T y) { return x / y; });
  }
}

template void arithmetic<float>(Arithmetic, float*, const float*, const float*, int64_t);
template void arithmetic<double>(Arithmetic, double*, const double*, const double*, int64_t);

}  // namespace ember::cpu
