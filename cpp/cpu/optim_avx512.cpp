// The portable SGD loop, compiled for a baseline x86-64, runs 4 lanes wide. Here each
// hyper-parameter flag is a template argument, so that the loop body holds only the arithmetic
// of the rule in use, 16 lanes wide; a tail is one masked vector. One thread, float32, this
// machine: SGD with momentum over 65,536 elements (in L2) 13.4 -> 11.6 us, over 4M (from
// memory) 1.83 -> 1.73 ms; on the AVX2 path (optim_avx2.cpp) 11.0 us and 1.73 ms.
// CMakeLists.txt compiles this file without floating-point contraction: a multiply followed by
// an add stays two roundings, as in the portable loops, and the results agree bit for bit.
#include "cpu/optim_avx512.h"

#include <immintrin.h>

#include <array>
#include <limits>
#include <type_traits>

#include "cpu/flag_dispatch.h"

namespace ember::cpu::avx512 {

namespace {

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
  const std::array<bool, 5> flags = sgd_switches(opt);
  const __m512 weight_decay = _mm512_set1_ps(static_cast<float>(opt.weight_decay));
  const __m512 beta = _mm512_set1_ps(static_cast<float>(opt.momentum));
  const __m512 one_minus_dampening = _mm512_set1_ps(static_cast<float>(1.0 - opt.dampening));
  const __m512 neg_lr = _mm512_set1_ps(static_cast<float>(-opt.lr));
  with_flags<5>(flags.data(), [&](auto maximize, auto decay, auto with_momentum,
                                  auto first_step, auto nesterov) {
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

}  // namespace ember::cpu::avx512
