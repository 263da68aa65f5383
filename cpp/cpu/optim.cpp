#include "cpu/optim.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/optim_avx2.h"
#include "cpu/optim_avx512.h"
#include "cpu/runtime.h"

namespace ember::cpu {

namespace {

// Rough scalar operations per element, for the threading threshold; Adam's sqrt and two
// divisions cost several multiplies each.
constexpr int64_t kSgdCost = 4;
constexpr int64_t kAdamCost = 16;

// f(begin, count) over [0, n): one contiguous range per thread, as the portable loops' static
// schedule splits them, cut at whole 16-float vectors (of either vector path).
template <typename F>
void in_vector_ranges(int64_t n, int64_t work_per_element, const F& f) {
  const int threads = threads_for(n * work_per_element);
  if (threads == 1) {
    if (n > 0) f(0, n);
    return;
  }
  const int64_t vectors = (n + 15) / 16;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    const int64_t begin = std::min(n, vectors * t / threads * 16);
    const int64_t end = std::min(n, vectors * (t + 1) / threads * 16);
    if (end > begin) f(begin, end - begin);
  }
}

using SgdRange = void (*)(float*, float*, const float*, int64_t, const SgdOptions&);

// The widest vector path of the SGD step that this build has and this CPU runs; null for none.
SgdRange sgd_vector_path() {
#ifdef EMBER_HAVE_AVX512_PATH
  if (use_avx512()) return avx512::sgd_range;
#endif
#ifdef EMBER_HAVE_AVX2_PATH
  if (use_avx2()) return avx2::sgd_range;
#endif
  return nullptr;
}

template <typename T>
T* offset(T* array, int64_t i) {
  return array ? array + i : nullptr;
}

// ATen's lerp: of the two algebraically equal forms, the one for the weight's size, so that the
// result is exact at both ends (weight 0 gives a, weight 1 gives b). The weight is the same for
// every element; computing both forms and selecting keeps the loop free of branches.
template <typename T>
inline T lerp(T a, T b, T weight) {
  const T from_a = a + weight * (b - a);
  const T from_b = b - (b - a) * (T(1) - weight);
  return std::abs(weight) < T(0.5) ? from_a : from_b;
}

// Optimizer state that decays geometrically (a momentum buffer, Adam's averages, under a zero
// gradient: a dead ReLU unit's weights) passes through the subnormal range for hundreds of steps
// on its way to zero, and arithmetic that reads or produces subnormals is 10-100x slower on x86:
// seen as an SGD step slowing from 0.08 to 2.5 ms once most of a layer's buffer was subnormal.
// State below 256x the smallest normal is stored as zero, so that the next step's multiply by a
// decay factor >= 1/256 never produces a subnormal either. Such values move no parameter by a
// representable amount. The select vectorizes; NaN and infinity pass unchanged.
template <typename T>
inline T flush_tiny(T x) {
  return std::abs(x) < std::numeric_limits<T>::min() * T(256) ? T(0) : x;
}

// torch.maximum: NaN in either argument gives NaN.
template <typename T>
inline T nan_maximum(T a, T b) {
  return (a != a || a > b) ? a : b;
}

// With momentum the step writes a second buffer; as a template parameter, like amsgrad below, it
// keeps conditional stores out of the loop so that it vectorizes.
template <bool kMomentum, typename T>
void sgd_loop(T* param, T* momentum_buffer, const T* grad, int64_t n, const SgdOptions& opt) {
  const bool decay = opt.weight_decay != 0.0;
  const bool maximize = opt.maximize;
  const bool nesterov = opt.nesterov;
  const bool first_step = opt.first_step;
  const T weight_decay = static_cast<T>(opt.weight_decay);
  const T momentum = static_cast<T>(opt.momentum);
  const T one_minus_dampening = static_cast<T>(1.0 - opt.dampening);
  const T neg_lr = static_cast<T>(-opt.lr);
#pragma omp parallel for num_threads(threads_for(n * kSgdCost)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T g = maximize ? -grad[i] : grad[i];
    if (decay) g = g + weight_decay * param[i];
    if constexpr (kMomentum) {
      const T buf = flush_tiny(
          first_step ? g : momentum_buffer[i] * momentum + one_minus_dampening * g);
      momentum_buffer[i] = buf;
      g = nesterov ? g + momentum * buf : buf;
    }
    param[i] = param[i] + neg_lr * g;
  }
}

template <bool kAmsgrad, typename T>
void adam_loop(T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* grad, int64_t n,
               const AdamOptions& opt) {
  const double steps = static_cast<double>(opt.step);
  const double bias_correction1 = 1.0 - std::pow(opt.beta1, steps);
  const double bias_correction2 = 1.0 - std::pow(opt.beta2, steps);
  const T neg_step_size = static_cast<T>(-(opt.lr / bias_correction1));
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T eps = static_cast<T>(opt.eps);
  const T one_minus_beta1 = static_cast<T>(1.0 - opt.beta1);
  const T beta2 = static_cast<T>(opt.beta2);
  const T one_minus_beta2 = static_cast<T>(1.0 - opt.beta2);
  const bool l2 = opt.weight_decay != 0.0 && !opt.decoupled_weight_decay;
  const bool decoupled = opt.weight_decay != 0.0 && opt.decoupled_weight_decay;
  const T weight_decay = static_cast<T>(opt.weight_decay);
  const T shrink = static_cast<T>(1.0 - opt.lr * opt.weight_decay);
  const bool maximize = opt.maximize;
#pragma omp parallel for num_threads(threads_for(n * kAdamCost)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T g = maximize ? -grad[i] : grad[i];
    const T p = decoupled ? param[i] * shrink : param[i];
    if (l2) g = g + weight_decay * p;
    const T m = flush_tiny(lerp(exp_avg[i], g, one_minus_beta1));
    const T v = flush_tiny(exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    T v_hat = v;
    if constexpr (kAmsgrad) {
      v_hat = nan_maximum(max_exp_avg_sq[i], v);
      max_exp_avg_sq[i] = v_hat;
    }
    const T denom = std::sqrt(v_hat) / bias_correction2_sqrt + eps;
    param[i] = p + neg_step_size * m / denom;
  }
}

}  // namespace

template <typename T>
void sgd_step(T* param, T* momentum_buffer, const T* grad, int64_t n, const SgdOptions& opt) {
  if constexpr (std::is_same_v<T, float>) {
    if (const SgdRange range = sgd_vector_path())
      return in_vector_ranges(n, kSgdCost, [&](int64_t i, int64_t m) {
        range(param + i, offset(momentum_buffer, i), grad + i, m, opt);
      });
  }
  if (opt.momentum != 0.0)
    sgd_loop<true>(param, momentum_buffer, grad, n, opt);
  else
    sgd_loop<false>(param, momentum_buffer, grad, n, opt);
}

template <typename T>
void adam_step(T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* grad, int64_t n,
               const AdamOptions& opt) {
#ifdef EMBER_HAVE_AVX2_PATH
  // AVX2 even where AVX-512 runs: the step is bound by its divider, and 8 lanes measured faster
  // than 16 (65,536 floats in L2, 1 thread: 33-35 against 36-38 us; level from memory).
  if constexpr (std::is_same_v<T, float>)
    if (use_avx2())
      return in_vector_ranges(n, kAdamCost, [&](int64_t i, int64_t m) {
        avx2::adam_range(param + i, exp_avg + i, exp_avg_sq + i, offset(max_exp_avg_sq, i),
                         grad + i, m, opt);
      });
#endif
  if (opt.amsgrad)
    adam_loop<true>(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, n, opt);
  else
    adam_loop<false>(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, n, opt);
}

template void sgd_step<float>(float*, float*, const float*, int64_t, const SgdOptions&);
template void sgd_step<double>(double*, double*, const double*, int64_t, const SgdOptions&);
template void adam_step<float>(float*, float*, float*, float*, const float*, int64_t,
                               const AdamOptions&);
template void adam_step<double>(double*, double*, double*, double*, const double*, int64_t,
                                const AdamOptions&);

}  // namespace ember::cpu
