// The portable loops, compiled for a baseline x86-64, run 4 lanes wide. Here each
// hyper-parameter flag is a template argument, so that a loop body holds only the arithmetic of
// the rule in use, 16 lanes wide; a tail is one masked vector. One thread, float32, this
// machine: SGD with momentum over 65,536 elements (in L2) 13.4 -> 11.6 us, over 4M (from memory)
// 1.83 -> 1.73 ms; Adam 40.6 -> 36.6 us and 2.85 -> 2.42 ms (its square root and two divisions
// keep the divider busy at either width).
// CMakeLists.txt compiles this file without floating-point contraction: a multiply followed by
// an add stays two roundings, as in the portable loops, and the results agree bit for bit.
#include "cpu/optim_avx512.h"

#include <immintrin.h>

#include <cmath>
#include <limits>
#include <type_traits>

namespace ember::cpu::avx512 {

namespace {

// Calls f(std::bool_constant<flags[0]>{}, ..., std::bool_constant<flags[kCount - 1]>{}).
template <int kCount, typename F, typename... Known>
void with_flags(const bool* flags, const F& f, Known... known) {
  if constexpr (sizeof...(Known) == kCount) {
    f(known...);
  } else if (flags[sizeof...(Known)]) {
    with_flags<kCount>(flags, f, known..., std::true_type{});
  } else {
    with_flags<kCount>(flags, f, known..., std::false_type{});
  }
}

inline __m512 negate(__m512 x) {
  const __m512i sign = _mm512_set1_epi32(INT32_MIN);
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), sign));
}

// optim.cpp's flush_tiny: |x| < 256 * FLT_MIN becomes 0; NaN compares false and passes.
inline __m512 flush_tiny(__m512 x) {
  const __m512 magnitude = _mm512_castsi512_ps(
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF)));
  const __mmask16 tiny = _mm512_cmp_ps_mask(
      magnitude, _mm512_set1_ps(std::numeric_limits<float>::min() * 256.0f), _CMP_LT_OQ);
  return _mm512_mask_mov_ps(x, tiny, _mm512_setzero_ps());
}

// Runs step(offset, lanes) over [0, n) in 16-lane vectors, the last one masked.
template <typename Step>
inline void over_lanes(int64_t n, const Step& step) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) step(i, __mmask16(0xFFFF));
  if (i < n) step(i, static_cast<__mmask16>((1u << (n - i)) - 1));
}

}  // namespace

void sgd_range(float* param, float* momentum_buffer, const float* grad, int64_t n,
               const SgdOptions& opt) {
  const bool momentum = opt.momentum != 0.0;
  const bool flags[5] = {opt.maximize, opt.weight_decay != 0.0, momentum,
                         momentum && opt.first_step, momentum && opt.nesterov};
  const __m512 weight_decay = _mm512_set1_ps(static_cast<float>(opt.weight_decay));
  const __m512 beta = _mm512_set1_ps(static_cast<float>(opt.momentum));
  const __m512 one_minus_dampening = _mm512_set1_ps(static_cast<float>(1.0 - opt.dampening));
  const __m512 neg_lr = _mm512_set1_ps(static_cast<float>(-opt.lr));
  with_flags<5>(flags, [&](auto maximize, auto decay, auto with_momentum, auto first_step,
                           auto nesterov) {
    over_lanes(n, [&](int64_t i, __mmask16 lanes) {
      const __m512 p = _mm512_maskz_loadu_ps(lanes, param + i);
      __m512 g = _mm512_maskz_loadu_ps(lanes, grad + i);
      if constexpr (maximize) g = negate(g);
      if constexpr (decay) g = _mm512_add_ps(g, _mm512_mul_ps(weight_decay, p));
      if constexpr (with_momentum) {
        __m512 buf = g;
        if constexpr (!first_step) {
          const __m512 old = _mm512_maskz_loadu_ps(lanes, momentum_buffer + i);
          buf = _mm512_add_ps(_mm512_mul_ps(old, beta), _mm512_mul_ps(one_minus_dampening, g));
        }
        buf = flush_tiny(buf);
        _mm512_mask_storeu_ps(momentum_buffer + i, lanes, buf);
        g = nesterov ? _mm512_add_ps(g, _mm512_mul_ps(beta, buf)) : buf;
      }
      _mm512_mask_storeu_ps(param + i, lanes, _mm512_add_ps(p, _mm512_mul_ps(neg_lr, g)));
    });
  });
}

void adam_range(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
                const float* grad, int64_t n, const AdamOptions& opt) {
  // The scalar constants exactly as optim.cpp's adam_loop computes them.
  const double steps = static_cast<double>(opt.step);
  const double bias_correction1 = 1.0 - std::pow(opt.beta1, steps);
  const double bias_correction2 = 1.0 - std::pow(opt.beta2, steps);
  const __m512 neg_step_size = _mm512_set1_ps(static_cast<float>(-(opt.lr / bias_correction1)));
  const __m512 bias_correction2_sqrt =
      _mm512_set1_ps(static_cast<float>(std::sqrt(bias_correction2)));
  const __m512 eps = _mm512_set1_ps(static_cast<float>(opt.eps));
  const float weight1 = static_cast<float>(1.0 - opt.beta1);
  const __m512 one_minus_beta1 = _mm512_set1_ps(weight1);
  const __m512 beta1 = _mm512_set1_ps(1.0f - weight1);  // lerp's (1 - weight), rounded in float
  const __m512 beta2 = _mm512_set1_ps(static_cast<float>(opt.beta2));
  const __m512 one_minus_beta2 = _mm512_set1_ps(static_cast<float>(1.0 - opt.beta2));
  const __m512 weight_decay = _mm512_set1_ps(static_cast<float>(opt.weight_decay));
  const __m512 shrink = _mm512_set1_ps(static_cast<float>(1.0 - opt.lr * opt.weight_decay));
  const bool decays = opt.weight_decay != 0.0;
  const bool flags[5] = {opt.maximize, decays && opt.decoupled_weight_decay,
                         decays && !opt.decoupled_weight_decay, opt.amsgrad,
                         std::abs(weight1) < 0.5f};
  with_flags<5>(flags, [&](auto maximize, auto decoupled, auto l2, auto amsgrad,
                           auto lerp_from_start) {
    over_lanes(n, [&](int64_t i, __mmask16 lanes) {
      __m512 g = _mm512_maskz_loadu_ps(lanes, grad + i);
      if constexpr (maximize) g = negate(g);
      __m512 p = _mm512_maskz_loadu_ps(lanes, param + i);
      if constexpr (decoupled) p = _mm512_mul_ps(p, shrink);
      if constexpr (l2) g = _mm512_add_ps(g, _mm512_mul_ps(weight_decay, p));
      const __m512 m_old = _mm512_maskz_loadu_ps(lanes, exp_avg + i);
      const __m512 toward = _mm512_sub_ps(g, m_old);
      const __m512 m = flush_tiny(
          lerp_from_start ? _mm512_add_ps(m_old, _mm512_mul_ps(one_minus_beta1, toward))
                          : _mm512_sub_ps(g, _mm512_mul_ps(toward, beta1)));
      const __m512 v_old = _mm512_maskz_loadu_ps(lanes, exp_avg_sq + i);
      const __m512 v = flush_tiny(_mm512_add_ps(
          _mm512_mul_ps(v_old, beta2), _mm512_mul_ps(_mm512_mul_ps(one_minus_beta2, g), g)));
      _mm512_mask_storeu_ps(exp_avg + i, lanes, m);
      _mm512_mask_storeu_ps(exp_avg_sq + i, lanes, v);
      __m512 v_hat = v;
      if constexpr (amsgrad) {
        // optim.cpp's nan_maximum(previous, v): the previous value if it is NaN or larger.
        const __m512 previous = _mm512_maskz_loadu_ps(lanes, max_exp_avg_sq + i);
        const __mmask16 keep = _mm512_cmp_ps_mask(previous, previous, _CMP_UNORD_Q) |
                               _mm512_cmp_ps_mask(previous, v, _CMP_GT_OQ);
        v_hat = _mm512_mask_mov_ps(v, keep, previous);
        _mm512_mask_storeu_ps(max_exp_avg_sq + i, lanes, v_hat);
      }
      const __m512 denom =
          _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(v_hat), bias_correction2_sqrt), eps);
      _mm512_mask_storeu_ps(
          param + i, lanes,
          _mm512_add_ps(p, _mm512_div_ps(_mm512_mul_ps(neg_step_size, m), denom)));
    });
  });
}

}  // namespace ember::cpu::avx512
