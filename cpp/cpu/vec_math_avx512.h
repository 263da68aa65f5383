// exp on 16 floats at once (AVX-512F). Include only from *_avx512.cpp files.
//
// The construction and the accuracy are those of vec_math_avx2.h's exp_ps: n = round(x / ln 2),
// r = x - n ln 2 with ln 2 split in two, e^r by its degree-7 Taylor polynomial. 2^n is applied by
// vscalefps, which rounds p * 2^n once, like the AVX2 path's two exact-then-rounding products:
// both give the same bits, subnormal results and the overflow to +inf included. NaN propagates.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::cpu::avx512 {

inline __m512 exp_ps(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps(0.693359375f);  // 355/512: n * ln2_hi is exact
  const __m512 ln2_lo = _mm512_set1_ps(-2.12194440054690583e-4f);
  // exp(-105) rounds to 0 and exp(88.8) to +inf: clamping keeps n in [-152, 129]. vmaxps and
  // vminps return their second operand when either is NaN, so a NaN x passes through the clamp
  // and every step after it (vscalefps too) without a separate test.
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(88.8f),
                                  _mm512_max_ps(_mm512_set1_ps(-105.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, log2e),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, ln2_hi, xc);
  r = _mm512_fnmadd_ps(n, ln2_lo, r);
  // Taylor coefficients 1/k!, k = 7 .. 0.
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512 abs_ps(__m512 x) {
  return _mm512_castsi512_ps(
      _mm512_andnot_si512(_mm512_set1_epi32(INT32_MIN), _mm512_castps_si512(x)));
}

// Lanes [0, n) of a mask for a partial vector (0 <= n <= 16).
inline __mmask16 tail_mask(int64_t n) {
  return static_cast<__mmask16>((uint32_t{1} << n) - 1);
}

}  // namespace ember::cpu::avx512
