// The SGD and Adam steps on 8-lane AVX2 vectors, where the portable loops run 4-wide SSE2: SGD
// on CPUs without AVX-512 (optim_avx512.cpp has the 16-lane one), Adam on all (see adam_step).
// Each rule is a function template over its flags whose constants arrive as by-value arguments:
// held in a lambda's captures instead, GCC reloaded each after every store (a vector type may
// alias the floats stored). A partial last vector runs on zero-padded copies. One thread,
// float32, this machine, against the portable loops: SGD with momentum over 65,536 floats 13.0
// -> 11.0 us; Adam 39.6-42.3 -> 33.1-34.6 us, over 4M 2.76-2.82 -> 2.36-2.39 ms.
// CMakeLists.txt compiles this file without floating-point contraction: a multiply followed by
// an add stays two roundings, as in the portable loops.
#include "cpu/optim_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/flag_dispatch.h"

namespace ember::cpu::avx2 {

namespace {

constexpr int kLanes = 8;

inline __m256 negate(__m256 x) {
  return _mm256_xor_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(INT_MIN)));
}

// optim.cpp's flush_tiny: |x| < 256 * FLT_MIN becomes +0; NaN compares false and passes.
inline __m256 flush_tiny(__m256 x) {
  const __m256 magnitude = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(INT_MAX)));
  const __m256 tiny = _mm256_cmp_ps(
      magnitude, _mm256_set1_ps(std::numeric_limits<float>::min() * 256.0f), _CMP_LT_OQ);
  return _mm256_andnot_ps(tiny, x);
}

// optim.cpp's nan_maximum(previous, v): previous where it is NaN or larger, else v.
inline __m256 nan_maximum(__m256 previous, __m256 v) {
  const __m256 keep = _mm256_or_ps(_mm256_cmp_ps(previous, previous, _CMP_UNORD_Q),
                                   _mm256_cmp_ps(previous, v, _CMP_GT_OQ));
  return _mm256_blendv_ps(v, previous, keep);
}

// One array's elements of a partial last vector, zero-padded (nothing for a null array).
struct Tail {
  alignas(32) float values[kLanes] = {};

  float* load(const float* array, int64_t begin, int64_t count) {
    if (!array) return nullptr;
    std::copy(array + begin, array + begin + count, values);
    return values;
  }
  void store(float* array, int64_t begin, int64_t count) const {
    if (array) std::copy(values, values + count, array + begin);
  }
};

template <bool kMaximize, bool kDecay, bool kMomentum, bool kFirstStep, bool kNesterov>
inline void sgd_vector(float* param, float* buffer, const float* grad, __m256 weight_decay,
                       __m256 beta, __m256 one_minus_dampening, __m256 neg_lr) {
  const __m256 p = _mm256_loadu_ps(param);
  __m256 g = _mm256_loadu_ps(grad);
  if constexpr (kMaximize) g = negate(g);
  if constexpr (kDecay) g = _mm256_add_ps(g, _mm256_mul_ps(weight_decay, p));
  if constexpr (kMomentum) {
    __m256 buf = g;
    if constexpr (!kFirstStep)
      buf = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(buffer), beta),
                          _mm256_mul_ps(one_minus_dampening, g));
    buf = flush_tiny(buf);
    _mm256_storeu_ps(buffer, buf);
    g = kNesterov ? _mm256_add_ps(g, _mm256_mul_ps(beta, buf)) : buf;
  }
  _mm256_storeu_ps(param, _mm256_add_ps(p, _mm256_mul_ps(neg_lr, g)));
}

template <bool... kFlags>
void sgd_loop(float* param, float* buffer, const float* grad, int64_t n, __m256 weight_decay,
              __m256 beta, __m256 one_minus_dampening, __m256 neg_lr) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    sgd_vector<kFlags...>(param + i, buffer ? buffer + i : nullptr, grad + i, weight_decay, beta,
                          one_minus_dampening, neg_lr);
  if (i == n) return;
  Tail p, b, g;
  sgd_vector<kFlags...>(p.load(param, i, n - i), b.load(buffer, i, n - i),
                        g.load(grad, i, n - i), weight_decay, beta, one_minus_dampening, neg_lr);
  p.store(param, i, n - i);
  b.store(buffer, i, n - i);
}

struct AdamConstants {
  __m256 neg_step_size, bias_correction2_sqrt, eps, one_minus_beta1, beta1, beta2,
      one_minus_beta2, weight_decay, shrink;
};

template <bool kMaximize, bool kDecoupled, bool kL2, bool kAmsgrad, bool kLerpFromStart>
inline void adam_vector(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
                        const float* grad, AdamConstants c) {
  __m256 g = _mm256_loadu_ps(grad);
  if constexpr (kMaximize) g = negate(g);
  __m256 p = _mm256_loadu_ps(param);
  if constexpr (kDecoupled) p = _mm256_mul_ps(p, c.shrink);
  if constexpr (kL2) g = _mm256_add_ps(g, _mm256_mul_ps(c.weight_decay, p));
  const __m256 m_old = _mm256_loadu_ps(exp_avg);
  const __m256 toward = _mm256_sub_ps(g, m_old);
  const __m256 m =
      flush_tiny(kLerpFromStart ? _mm256_add_ps(m_old, _mm256_mul_ps(c.one_minus_beta1, toward))
                                : _mm256_sub_ps(g, _mm256_mul_ps(toward, c.beta1)));
  const __m256 v = flush_tiny(_mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(exp_avg_sq), c.beta2),
                                            _mm256_mul_ps(_mm256_mul_ps(c.one_minus_beta2, g), g)));
  _mm256_storeu_ps(exp_avg, m);
  _mm256_storeu_ps(exp_avg_sq, v);
  __m256 v_hat = v;
  if constexpr (kAmsgrad) {
    v_hat = nan_maximum(_mm256_loadu_ps(max_exp_avg_sq), v);
    _mm256_storeu_ps(max_exp_avg_sq, v_hat);
  }
  const __m256 denom =
      _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v_hat), c.bias_correction2_sqrt), c.eps);
  _mm256_storeu_ps(param,
                   _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(c.neg_step_size, m), denom)));
}

template <bool... kFlags>
void adam_loop(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
               const float* grad, int64_t n, AdamConstants c) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    adam_vector<kFlags...>(param + i, exp_avg + i, exp_avg_sq + i,
                           max_exp_avg_sq ? max_exp_avg_sq + i : nullptr, grad + i, c);
  if (i == n) return;
  const int64_t rest = n - i;
  Tail p, m, v, vm, g;
  adam_vector<kFlags...>(p.load(param, i, rest), m.load(exp_avg, i, rest),
                         v.load(exp_avg_sq, i, rest), vm.load(max_exp_avg_sq, i, rest),
                         g.load(grad, i, rest), c);
  p.store(param, i, rest);
  m.store(exp_avg, i, rest);
  v.store(exp_avg_sq, i, rest);
  vm.store(max_exp_avg_sq, i, rest);
}

}  // namespace

void sgd_range(float* param, float* momentum_buffer, const float* grad, int64_t n,
               const SgdOptions& opt) {
  const std::array<bool, 5> flags = sgd_switches(opt);
  const __m256 weight_decay = _mm256_set1_ps(static_cast<float>(opt.weight_decay));
  const __m256 beta = _mm256_set1_ps(static_cast<float>(opt.momentum));
  const __m256 one_minus_dampening = _mm256_set1_ps(static_cast<float>(1.0 - opt.dampening));
  const __m256 neg_lr = _mm256_set1_ps(static_cast<float>(-opt.lr));
  float* buffer = opt.momentum != 0.0 ? momentum_buffer : nullptr;
  with_flags<5>(flags.data(), [&](auto... flag) {
    sgd_loop<decltype(flag)::value...>(param, buffer, grad, n, weight_decay, beta,
                                       one_minus_dampening, neg_lr);
  });
}

void adam_range(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
                const float* grad, int64_t n, const AdamOptions& opt) {
  // The scalar constants exactly as optim.cpp's adam_loop computes them.
  const double steps = static_cast<double>(opt.step);
  const double bias_correction1 = 1.0 - std::pow(opt.beta1, steps);
  const double bias_correction2 = 1.0 - std::pow(opt.beta2, steps);
  const float weight1 = static_cast<float>(1.0 - opt.beta1);
  const AdamConstants c{_mm256_set1_ps(static_cast<float>(-(opt.lr / bias_correction1))),
                        _mm256_set1_ps(static_cast<float>(std::sqrt(bias_correction2))),
                        _mm256_set1_ps(static_cast<float>(opt.eps)),
                        _mm256_set1_ps(weight1),
                        _mm256_set1_ps(1.0f - weight1),  // lerp's (1 - weight), in float
                        _mm256_set1_ps(static_cast<float>(opt.beta2)),
                        _mm256_set1_ps(static_cast<float>(1.0 - opt.beta2)),
                        _mm256_set1_ps(static_cast<float>(opt.weight_decay)),
                        _mm256_set1_ps(static_cast<float>(1.0 - opt.lr * opt.weight_decay))};
  const bool decays = opt.weight_decay != 0.0;
  const bool flags[5] = {opt.maximize, decays && opt.decoupled_weight_decay,
                         decays && !opt.decoupled_weight_decay, opt.amsgrad,
                         std::abs(weight1) < 0.5f};
  float* vmax = opt.amsgrad ? max_exp_avg_sq : nullptr;
  with_flags<5>(flags, [&](auto... flag) {
    adam_loop<decltype(flag)::value...>(param, exp_avg, exp_avg_sq, vmax, grad, n, c);
  });
}

}  // namespace ember::cpu::avx2
