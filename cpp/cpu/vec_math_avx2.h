// exp, tanh and the normal CDF on 8 floats at once (AVX2+FMA). Include only from *_avx2.cpp
// files.
//
// Accuracy: a few ulp over the whole float range (see the tests of softmax, sigmoid and tanh,
// which run on this path and on the libm one against a float64 reference). Written from the
// textbook constructions, no table lookups:
//   exp(x) = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two so that n ln2_hi
//     is exact), e^r by its degree-7 Taylor polynomial (|r| <= ln2/2: truncation < 4e-9), and
//     2^n applied as two factors 2^(n/2) 2^(n - n/2) so that results down to the subnormals and up
//     to the overflow to +inf come out right.
//   tanh(x) for |x| < 0.5 by its odd Taylor series through x^15 (truncation < 1e-8 relative);
//     above, (1 - t) / (1 + t) with t = exp(-2|x|) <= e^-1, where 1 - t loses no precision.
// NaN propagates.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::cpu::avx2 {

inline __m256 exp_ps(__m256 x) {
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693359375f);  // 355/512: n * ln2_hi is exact
  const __m256 ln2_lo = _mm256_set1_ps(-2.12194440054690583e-4f);
  // exp(-105) rounds to 0 and exp(88.8) to +inf: clamping keeps n in [-152, 129].
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-105.0f)),
                                  _mm256_set1_ps(88.8f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, log2e),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, ln2_hi, xc);
  r = _mm256_fnmadd_ps(n, ln2_lo, r);
  // Taylor coefficients 1/k!, k = 7 .. 0.
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^n = 2^n1 * 2^n2, each factor a normal float (|n1|, |n2| <= 76).
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  const __m256 result = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

inline __m256 abs_ps(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

inline __m256 tanh_ps(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 a = abs_ps(x);
  // Small |x|: x * P(x^2), P the Taylor coefficients of tanh(x) / x.
  const __m256 x2 = _mm256_mul_ps(a, a);
  __m256 p = _mm256_set1_ps(-929569.0f / 638512875.0f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(21844.0f / 6081075.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1382.0f / 155925.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(62.0f / 2835.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-17.0f / 315.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.0f / 15.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.0f / 3.0f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, x2), a, a);
  // Large |x|: (1 - t) / (1 + t), t = exp(-2|x|); t -> 0 gives exactly 1.
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = exp_ps(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
  const __m256 large = _mm256_div_ps(_mm256_sub_ps(one, t), _mm256_add_ps(one, t));
  const __m256 is_small = _mm256_cmp_ps(a, _mm256_set1_ps(0.5f), _CMP_LT_OQ);
  const __m256 mag = _mm256_blendv_ps(large, small, is_small);
  return _mm256_or_ps(mag, sign);
}

// Phi(x) = 0.5 erfc(-x / sqrt(2)), the standard normal CDF (the exact GELU gate). With z = x/sqrt2:
//   |z| < 1:  0.5 + 0.5 erf(z), erf(z) = z sum_n c_n z^2n by its Taylor series through z^23
//             (truncation < 2e-9);
//   |z| >= 1: erfc(|z|) = exp(-z^2) k(1/|z|) / |z| with k(t) = erfc(1/t) exp(1/t^2) / t, a smooth
//             function fitted on t in [1/10.5, 1] by a degree-12 Chebyshev least-squares fit
//             (max relative error 2e-9; the power-basis coefficients below are that fit in
//             u = 2.2105 t - 1.2105). z^2 is split into hi + lo so that exp(-z^2) keeps full
//             precision; beyond |z| = 10.5 erfc underflows to 0.
// For z > 0, Phi = 1 - 0.5 erfc(z); for z < 0, Phi = 0.5 erfc(-z) has no cancellation.
inline __m256 normal_cdf_ps(__m256 x) {
  static constexpr float kTaylor[] = {
      1.128379167e+00f,  -3.761263890e-01f, 1.128379167e-01f,  -2.686617065e-02f,
      5.223977625e-03f,  -8.548327023e-04f, 1.205533298e-04f,  -1.492565036e-05f,
      1.646211437e-06f,  -1.636584469e-07f, 1.480719282e-08f,  -1.229055530e-09f};
  static constexpr float kFit[] = {  // highest power first
      -1.0807697629e-05f, 2.0255188726e-05f,  1.3500081565e-05f, -7.7495950343e-05f,
      1.5369131115e-04f,  -2.4001138933e-04f, 1.0945182856e-04f, 9.4083259325e-04f,
      -4.0878254522e-03f, 9.1917597362e-03f,  -4.3119004825e-03f, -7.6876026500e-02f,
      5.0275815219e-01f};
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  const __m256 a = abs_ps(z);

  const __m256 z2 = _mm256_mul_ps(z, z);
  __m256 p = _mm256_set1_ps(kTaylor[11]);
  for (int i = 10; i >= 0; --i) p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(kTaylor[i]));
  const __m256 small = _mm256_fmadd_ps(half, _mm256_mul_ps(z, p), half);

  const __m256 ac = _mm256_min_ps(_mm256_max_ps(a, one), _mm256_set1_ps(10.5f));
  const __m256 t = _mm256_div_ps(one, ac);
  const __m256 u = _mm256_fmadd_ps(t, _mm256_set1_ps(2.21052632f), _mm256_set1_ps(-1.21052632f));
  __m256 k = _mm256_set1_ps(kFit[0]);
  for (int i = 1; i < 13; ++i) k = _mm256_fmadd_ps(k, u, _mm256_set1_ps(kFit[i]));
  const __m256 sq_hi = _mm256_mul_ps(ac, ac);
  const __m256 sq_lo = _mm256_fmsub_ps(ac, ac, sq_hi);  // ac^2 = sq_hi + sq_lo exactly
  // exp(-(hi + lo)) = exp(-hi) (1 - lo) to within lo^2, far below float precision.
  const __m256 e_hi = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), sq_hi));
  const __m256 gauss = _mm256_fnmadd_ps(e_hi, sq_lo, e_hi);
  const __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(half, gauss), _mm256_mul_ps(k, t));
  const __m256 negative = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 large = _mm256_blendv_ps(_mm256_sub_ps(one, half_erfc), half_erfc, negative);

  const __m256 result = _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, one, _CMP_LT_OQ));
  return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// Lanes [0, n) of a mask for a partial vector (0 < n < 8).
inline __m256i tail_mask(int64_t n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lane);
}

}  // namespace ember::cpu::avx2
