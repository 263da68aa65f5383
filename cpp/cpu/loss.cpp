#include "cpu/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/runtime.h"
#include "cpu/softmax_rows.h"

namespace ember::cpu {

namespace {

// exp and log cost some tens of flops: counted so that threads_for starts a team only when the
// work pays for it.
constexpr int64_t kTranscendentalWork = 16;

// Element-wise losses are summed in blocks of this many elements whatever the thread count, so
// the scalar loss is bitwise identical for 1 or many threads.
constexpr int64_t kSumBlock = 4096;

// sum_i element(i) for i in [0, n): block partials in parallel (each thread writes its own
// blocks' slots), then added in block order on one thread.
template <typename F>
double blocked_sum(int64_t n, int64_t work_per_element, const F& element) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(blocks);
#pragma omp parallel for num_threads(threads_for(n * work_per_element)) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t end = std::min(n, (b + 1) * kSumBlock);
    double s = 0.0;
    for (int64_t i = b * kSumBlock; i < end; ++i) s += double(element(i));
    partial[b] = s;
  }
  double total = 0.0;
  for (const double v : partial) total += v;
  return total;
}

// loss = element(i) per element (None), or their sum / mean as one value.
template <typename T, typename F>
void elementwise_loss_forward(T* loss, int64_t n, Reduction reduction, int64_t work,
                              const F& element) {
  if (reduction == Reduction::None) {
#pragma omp parallel for num_threads(threads_for(n * work)) schedule(static)
    for (int64_t i = 0; i < n; ++i) loss[i] = element(i);
    return;
  }
  const double total = blocked_sum(n, work, element);
  // The mean of nothing is 0/0 = NaN, as in PyTorch.
  loss[0] = T(reduction == Reduction::Mean ? total / double(n) : total);
}

// dx[i] = upstream gradient of element i * derivative(i).
template <typename T, typename F>
void elementwise_loss_backward(T* dx, const T* dloss, int64_t n, Reduction reduction,
                               int64_t work, const F& derivative) {
  if (reduction == Reduction::None) {
#pragma omp parallel for num_threads(threads_for(n * work)) schedule(static)
    for (int64_t i = 0; i < n; ++i) dx[i] = dloss[i] * derivative(i);
    return;
  }
  const T g = T(reduction == Reduction::Mean ? double(dloss[0]) / double(n) : double(dloss[0]));
#pragma omp parallel for num_threads(threads_for(n * work)) schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] = g * derivative(i);
}

// 1 / (1 + exp(-x)) is safe as it stands: for very negative x, exp(-x) overflows to +inf and
// the result is exactly 0 (the true value is then below the smallest normal number). No branch
// on the sign: with random signs a branch mispredicts every other element, which costs several
// times the exp.
template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// log(1 + e) for e in [0, 1], as log(u) * e / (u - 1) with u = 1 + e: the quotient cancels the
// rounding error of 1 + e, leaving a few ulp (Goldberg, "What every computer scientist should
// know about floating-point arithmetic", theorem 4). glibc's log1pf is ~4x slower than logf.
template <typename T>
T log1p_unit(T e) {
  const T u = T(1) + e;
  return u == T(1) ? e : std::log(u) * (e / (u - T(1)));
}

// ---- cross entropy ------------------------------------------------------------------------

template <typename T>
double class_weight(const T* weight, int64_t c) {
  return weight ? double(weight[c]) : 1.0;
}

// The mean's divisor: total weight of the rows that are not ignored, in row order.
template <typename T>
double target_weight_sum(const int64_t* target, const T* weight, int64_t N, int64_t ignore_index) {
  double s = 0.0;
  for (int64_t i = 0; i < N; ++i)
    if (target[i] != ignore_index) s += class_weight(weight, target[i]);
  return s;
}

template <typename T>
double weight_sum(const T* weight, int64_t C) {
  double s = 0.0;
  for (int64_t c = 0; c < C; ++c) s += class_weight(weight, c);
  return s;
}

}  // namespace

template <typename T>
void cross_entropy_forward(T* loss, const T* logits, const int64_t* target, const T* weight,
                           int64_t N, int64_t C, Reduction reduction, int64_t ignore_index,
                           double label_smoothing) {
  const double eps = label_smoothing;
  const bool none = reduction == Reduction::None;
  std::vector<double> row_loss(none ? 0 : N);
#pragma omp parallel for num_threads(threads_for(N * C * kTranscendentalWork)) schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = target[i];
    double l = 0.0;
    if (t != ignore_index) {
      const T* x = logits + i * C;
      const T max = row_max(x, C);
      const double log_sum = std::log(exp_shifted_sum<T>(nullptr, x, max, C));
      // -logp_t = log_sum - (x_t - max); double differences are exact for float logits.
      l = (1.0 - eps) * class_weight(weight, t) * (log_sum - (double(x[t]) - double(max)));
      // Skipped at eps = 0 (as PyTorch does), where 0 * inf would turn a -inf logit into NaN.
      if (eps > 0.0) {
        double smooth = 0.0;  // sum_c w_c * (-logp_c)
        for (int64_t c = 0; c < C; ++c)
          smooth += class_weight(weight, c) * (log_sum - (double(x[c]) - double(max)));
        l += eps / double(C) * smooth;
      }
    }
    if (none)
      loss[i] = T(l);
    else
      row_loss[i] = l;
  }
  if (none) return;
  double total = 0.0;
  for (const double l : row_loss) total += l;
  if (reduction == Reduction::Mean) total /= target_weight_sum(target, weight, N, ignore_index);
  loss[0] = T(total);
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* dloss, const T* logits, const int64_t* target,
                            const T* weight, int64_t N, int64_t C, Reduction reduction,
                            int64_t ignore_index, double label_smoothing) {
  const double eps = label_smoothing;
  const double smooth_scale = eps / double(C);
  const double total_weight = eps > 0.0 ? weight_sum(weight, C) : 0.0;
  double scalar_grad = 0.0;
  if (reduction == Reduction::Sum) scalar_grad = double(dloss[0]);
  if (reduction == Reduction::Mean)
    scalar_grad = double(dloss[0]) / target_weight_sum(target, weight, N, ignore_index);

#pragma omp parallel for num_threads(threads_for(N * C * kTranscendentalWork)) schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = target[i];
    T* d = dlogits + i * C;
    if (t == ignore_index) {
      std::fill(d, d + C, T(0));
      continue;
    }
    const T* x = logits + i * C;
    const double g = reduction == Reduction::None ? double(dloss[i]) : scalar_grad;
    // d holds exp(x_j - max) until it is overwritten by the gradient, one exp per element.
    const double inv_sum = 1.0 / exp_shifted_sum(d, x, row_max(x, C), C);
    const double target_term = (1.0 - eps) * class_weight(weight, t);
    // d l / d x_j = (target_term + smooth_scale W) p_j - target_term [j == t] - smooth_scale w_j
    const double p_coeff = target_term + smooth_scale * total_weight;
    const T e_t = d[t];
    // Every column but t in T arithmetic, d_j = a e_j - b w_j: a loop the compiler vectorizes,
    // a few ulp from the double formula (no cancellation without smoothing, where b = 0).
    const T a = T(g * p_coeff * inv_sum), b = T(g * smooth_scale);
    if (eps > 0.0 && weight) {
      for (int64_t j = 0; j < C; ++j) d[j] = a * d[j] - b * weight[j];
    } else if (eps > 0.0) {
      for (int64_t j = 0; j < C; ++j) d[j] = a * d[j] - b;
    } else {
      scale_row(d, a, C);
    }
    // Column t in double: p_t - 1 cancels when the target's probability is near 1.
    const double p_t = double(e_t) * inv_sum;
    d[t] = T(g * (p_coeff * p_t - smooth_scale * class_weight(weight, t) - target_term));
  }
}

// ---- binary cross entropy from logits ---------------------------------------------------------

template <typename T>
void bce_with_logits_forward(T* loss, const T* x, const T* target, const T* pos_weight,
                             int64_t n, int64_t cols, Reduction reduction) {
  const auto element = [=](int64_t i) -> T {
    const T xi = x[i], t = target[i];
    const T pw = pos_weight ? pos_weight[i % cols] : T(1);
    const T lw = T(1) + (pw - T(1)) * t;
    // (1 - t) x + lw softplus(-x) regrouped so that no two terms cancel: each is >= 0 for
    // t in [0, 1], and exp(-|x|) <= 1 never overflows.
    return (T(1) - t) * std::max(xi, T(0)) + pw * t * std::max(-xi, T(0)) +
           lw * log1p_unit(std::exp(-std::abs(xi)));
  };
  elementwise_loss_forward(loss, n, reduction, kTranscendentalWork, element);
}

template <typename T>
void bce_with_logits_backward(T* dx, const T* dloss, const T* x, const T* target,
                              const T* pos_weight, int64_t n, int64_t cols, Reduction reduction) {
  const auto derivative = [=](int64_t i) -> T {
    const T t = target[i];
    const T pw = pos_weight ? pos_weight[i % cols] : T(1);
    // = lw sigmoid(x) - pw t, written with sigmoid(-x) = 1 - sigmoid(x) so that hard targets
    // (t = 0 or 1) keep one term each: full relative accuracy in both tails.
    return (T(1) - t) * sigmoid(x[i]) - pw * t * sigmoid(-x[i]);
  };
  elementwise_loss_backward(dx, dloss, n, reduction, kTranscendentalWork, derivative);
}

// ---- binary cross entropy from probabilities -----------------------------------------------

template <typename T>
void bce_forward(T* loss, const T* p, const T* target, int64_t n, Reduction reduction) {
  const auto element = [=](int64_t i) -> T {
    const T t = target[i];
    const T log_p = std::max(std::log(p[i]), T(-100));
    const T log_1mp = std::max(std::log1p(-p[i]), T(-100));
    return -(t * log_p + (T(1) - t) * log_1mp);
  };
  elementwise_loss_forward(loss, n, reduction, kTranscendentalWork, element);
}

template <typename T>
void bce_backward(T* dp, const T* dloss, const T* p, const T* target, int64_t n,
                  Reduction reduction) {
  const auto derivative = [=](int64_t i) -> T {
    const T pi = p[i];
    return (pi - target[i]) / std::max(pi * (T(1) - pi), T(1e-12));
  };
  elementwise_loss_backward(dp, dloss, n, reduction, 4, derivative);
}

template <typename T>
int64_t count_outside_unit_interval(const T* p, int64_t n) {
  int64_t bad = 0;
  // An integer count: the reduction is exact in any order.
#pragma omp parallel for num_threads(threads_for(n)) schedule(static) reduction(+ : bad)
  for (int64_t i = 0; i < n; ++i) bad += !(p[i] >= T(0) && p[i] <= T(1));
  return bad;
}

// ---- mean squared error ----------------------------------------------------------------------

template <typename T>
void mse_forward(T* loss, const T* x, const T* target, int64_t n, Reduction reduction) {
  const auto element = [=](int64_t i) -> T {
    const T d = x[i] - target[i];
    return d * d;
  };
  elementwise_loss_forward(loss, n, reduction, 2, element);
}

template <typename T>
void mse_backward(T* dx, const T* dloss, const T* x, const T* target, int64_t n,
                  Reduction reduction) {
  const auto derivative = [=](int64_t i) -> T { return T(2) * (x[i] - target[i]); };
  elementwise_loss_backward(dx, dloss, n, reduction, 2, derivative);
}

#define EMBER_INSTANTIATE(T)                                                                     \
  template void cross_entropy_forward<T>(T*, const T*, const int64_t*, const T*, int64_t,        \
                                         int64_t, Reduction, int64_t, double);                   \
  template void cross_entropy_backward<T>(T*, const T*, const T*, const int64_t*, const T*,      \
                                          int64_t, int64_t, Reduction, int64_t, double);         \
  template void bce_with_logits_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t,   \
                                           Reduction);                                           \
  template void bce_with_logits_backward<T>(T*, const T*, const T*, const T*, const T*, int64_t, \
                                            int64_t, Reduction);                                 \
  template void bce_forward<T>(T*, const T*, const T*, int64_t, Reduction);                      \
  template void bce_backward<T>(T*, const T*, const T*, const T*, int64_t, Reduction);           \
  template int64_t count_outside_unit_interval<T>(const T*, int64_t);                            \
  template void mse_forward<T>(T*, const T*, const T*, int64_t, Reduction);                      \
  template void mse_backward<T>(T*, const T*, const T*, const T*, int64_t, Reduction);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
