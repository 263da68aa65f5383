#include "cpu/activation.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "cpu/activation_avx2.h"
#include "cpu/activation_avx512.h"
#include "cpu/runtime.h"
#include "cpu/softmax_rows.h"

namespace ember::cpu {

namespace {

// exp, erf and tanh cost some tens of flops each: count them so that threads_for starts a team
// at a size where the work pays for it.
constexpr int64_t kTranscendentalWork = 16;

// f(begin, count) over [0, n) in fixed blocks spread over the threads, so that the vector
// kernels see long contiguous ranges.
template <typename F>
void for_blocks(int64_t n, int64_t work_per_element, const F& f) {
  const int threads = threads_for(n * work_per_element);
  if (threads == 1) {  // one call over the whole range: no team, no per-block head and tail
    if (n > 0) f(0, n);
    return;
  }
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) f(b * kBlock, std::min(kBlock, n - b * kBlock));
}

// 1 / (1 + exp(-x)) is safe as it stands: for very negative x, exp(-x) overflows to +inf and
// the result is exactly 0 (the true value is then below the smallest normal number). No branch
// on the sign: with random signs a branch mispredicts every other element, which costs several
// times the exp.
template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

}  // namespace

template <typename T>
void relu_forward(T* out, const T* inp, int64_t n) {
  if constexpr (avx512::candidate<T>)
    if (avx512::active())
      return for_blocks(n, 1,
                        [&](int64_t i, int64_t m) { avx512::relu_forward(out + i, inp + i, m); });
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] < T(0) ? T(0) : inp[i];
}

template <typename T>
void relu_backward(T* dinp, const T* dout, const T* inp, int64_t n) {
  if constexpr (avx512::candidate<T>)
    if (avx512::active())
      return for_blocks(n, 1, [&](int64_t i, int64_t m) {
        avx512::relu_backward(dinp + i, dout + i, inp + i, m);
      });
  // dout is read unconditionally: a load behind the condition stops GCC from vectorising, and the
  // resulting branch on the input's sign mispredicts half the time (25x slower on random signs).
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T g = dout[i];
    dinp[i] = inp[i] <= T(0) ? T(0) : g;
  }
}

template <typename T>
void leaky_relu_forward(T* out, const T* inp, int64_t n, T negative_slope) {
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] > T(0) ? inp[i] : negative_slope * inp[i];
}

template <typename T>
void leaky_relu_backward(T* dinp, const T* dout, const T* inp, int64_t n, T negative_slope) {
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T g = dout[i];  // unconditional load, as in relu_backward
    dinp[i] = inp[i] > T(0) ? g : negative_slope * g;
  }
}

template <typename T>
void sigmoid_forward(T* out, const T* inp, int64_t n) {
  if constexpr (avx512::candidate<T>)
    if (avx512::active())
      return for_blocks(n, kTranscendentalWork, [&](int64_t i, int64_t m) {
        avx512::sigmoid_forward(out + i, inp + i, m);
      });
  if constexpr (avx2::candidate<T>)
    if (avx2::active())
      return for_blocks(n, kTranscendentalWork,
                        [&](int64_t i, int64_t m) { avx2::sigmoid_forward(out + i, inp + i, m); });
#pragma omp parallel for num_threads(threads_for(n * kTranscendentalWork)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = sigmoid(inp[i]);
}

template <typename T>
void sigmoid_backward(T* dinp, const T* dout, const T* out, int64_t n) {
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * out[i] * (T(1) - out[i]);
}

template <typename T>
void tanh_forward(T* out, const T* inp, int64_t n) {
  if constexpr (avx2::candidate<T>)
    if (avx2::active())
      return for_blocks(n, kTranscendentalWork,
                        [&](int64_t i, int64_t m) { avx2::tanh_forward(out + i, inp + i, m); });
#pragma omp parallel for num_threads(threads_for(n * kTranscendentalWork)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(inp[i]);
}

template <typename T>
void tanh_backward(T* dinp, const T* dout, const T* out, int64_t n) {
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * (T(1) - out[i] * out[i]);
}

namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;       // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;    // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;   // sqrt(2 / pi)
constexpr double kKappa = 0.044715;

// Phi(x) = 0.5 (1 + erf(x / sqrt 2)), written as 0.5 erfc(-x / sqrt 2): the same function
// without the cancellation in 1 + erf for negative x.
template <typename T>
T normal_cdf(T x) {
  return T(0.5) * std::erfc(-x * T(kSqrt1_2));
}

template <typename T>
T gelu_exact(T x) {
  return x * normal_cdf(x);
}

template <typename T>
T gelu_exact_grad(T x) {
  const T cdf = normal_cdf(x);
  const T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
  return cdf + x * pdf;
}

template <typename T>
T gelu_tanh(T x) {
  const T inner = T(kSqrt2OverPi) * (x + T(kKappa) * x * x * x);
  return T(0.5) * x * (T(1) + std::tanh(inner));
}

template <typename T>
T gelu_tanh_grad(T x) {
  const T x2 = x * x;
  const T th = std::tanh(T(kSqrt2OverPi) * (x + T(kKappa) * x2 * x));
  const T dinner = T(kSqrt2OverPi) * (T(1) + T(3 * kKappa) * x2);
  return T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * dinner;
}

}  // namespace

template <typename T>
void gelu_forward(T* out, const T* inp, int64_t n, bool approximate) {
  if (approximate) {
    if constexpr (avx2::candidate<T>)
      if (avx2::active())
        return for_blocks(n, kTranscendentalWork, [&](int64_t i, int64_t m) {
          avx2::gelu_tanh_forward(out + i, inp + i, m);
        });
#pragma omp parallel for num_threads(threads_for(n * kTranscendentalWork)) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh(inp[i]);
  } else {
    if constexpr (avx2::candidate<T>)
      if (avx2::active())
        return for_blocks(n, kTranscendentalWork, [&](int64_t i, int64_t m) {
          avx2::gelu_exact_forward(out + i, inp + i, m);
        });
#pragma omp parallel for num_threads(threads_for(n * kTranscendentalWork)) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = gelu_exact(inp[i]);
  }
}

template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, int64_t n, bool approximate) {
  if (approximate) {
    if constexpr (avx2::candidate<T>)
      if (avx2::active())
        return for_blocks(n, kTranscendentalWork, [&](int64_t i, int64_t m) {
          avx2::gelu_tanh_backward(dinp + i, dout + i, inp + i, m);
        });
#pragma omp parallel for num_threads(threads_for(n * kTranscendentalWork)) schedule(static)
    for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * gelu_tanh_grad(inp[i]);
  } else {
    if constexpr (avx2::candidate<T>)
      if (avx2::active())
        return for_blocks(n, kTranscendentalWork, [&](int64_t i, int64_t m) {
          avx2::gelu_exact_backward(dinp + i, dout + i, inp + i, m);
        });
#pragma omp parallel for num_threads(threads_for(n * kTranscendentalWork)) schedule(static)
    for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * gelu_exact_grad(inp[i]);
  }
}

// The softmax family: one row per iteration, so each thread writes whole rows of its own.
// Subtracting the row max keeps every exp argument <= 0 (no overflow for any finite input); an
// all -inf row has max -inf and (-inf) - (-inf) = NaN, which is PyTorch's answer too.

template <typename T>
void softmax_forward(T* out, const T* inp, int64_t rows, int64_t cols) {
#pragma omp parallel for num_threads(threads_for(rows * cols * kTranscendentalWork)) \
    schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = inp + r * cols;
    T* y = out + r * cols;
    const double sum = exp_shifted_sum(y, x, row_max(x, cols), cols);
    scale_row(y, T(1.0 / sum), cols);
  }
}

template <typename T>
void softmax_backward(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
#pragma omp parallel for num_threads(threads_for(rows * cols)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dout + r * cols;
    const T* y = out + r * cols;
    T* d = dinp + r * cols;
    double dot = 0.0;
    for (int64_t j = 0; j < cols; ++j) dot += double(g[j]) * double(y[j]);
    const T t = T(dot);
    for (int64_t j = 0; j < cols; ++j) d[j] = y[j] * (g[j] - t);
  }
}

template <typename T>
void log_softmax_forward(T* out, const T* inp, int64_t rows, int64_t cols) {
#pragma omp parallel for num_threads(threads_for(rows * cols * kTranscendentalWork)) \
    schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = inp + r * cols;
    T* y = out + r * cols;
    const T m = row_max(x, cols);
    const T log_sum = T(std::log(exp_shifted_sum<T>(nullptr, x, m, cols)));
    // (x - m) first: for large logits x - m is exact, x - (m + log_sum) would not be.
    for (int64_t j = 0; j < cols; ++j) y[j] = (x[j] - m) - log_sum;
  }
}

template <typename T>
void log_softmax_backward(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
#pragma omp parallel for num_threads(threads_for(rows * cols * kTranscendentalWork)) \
    schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dout + r * cols;
    const T* y = out + r * cols;
    T* d = dinp + r * cols;
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += g[j];
    const T s = T(sum);
    if constexpr (avx512::candidate<T>) {
      if (avx512::active()) {
        avx512::log_softmax_backward_row(d, g, y, s, cols);
        continue;
      }
    }
    if constexpr (avx2::candidate<T>) {
      if (avx2::active()) {
        avx2::log_softmax_backward_row(d, g, y, s, cols);
        continue;
      }
    }
    for (int64_t j = 0; j < cols; ++j) d[j] = g[j] - std::exp(y[j]) * s;
  }
}

#define EMBER_INSTANTIATE(T)                                                     \
  template void relu_forward<T>(T*, const T*, int64_t);                          \
  template void relu_backward<T>(T*, const T*, const T*, int64_t);               \
  template void leaky_relu_forward<T>(T*, const T*, int64_t, T);                 \
  template void leaky_relu_backward<T>(T*, const T*, const T*, int64_t, T);      \
  template void sigmoid_forward<T>(T*, const T*, int64_t);                       \
  template void sigmoid_backward<T>(T*, const T*, const T*, int64_t);            \
  template void tanh_forward<T>(T*, const T*, int64_t);                          \
  template void tanh_backward<T>(T*, const T*, const T*, int64_t);               \
  template void gelu_forward<T>(T*, const T*, int64_t, bool);                    \
  template void gelu_backward<T>(T*, const T*, const T*, int64_t, bool);         \
  template void softmax_forward<T>(T*, const T*, int64_t, int64_t);              \
  template void softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t);   \
  template void log_softmax_forward<T>(T*, const T*, int64_t, int64_t);          \
  template void log_softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
