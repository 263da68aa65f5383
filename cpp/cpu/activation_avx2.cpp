// AVX2+FMA float32 activation kernels (contract in activation_avx2.h). Partial vectors at the
// end of a range go through masked loads and stores, so every element takes the same arithmetic.
#include "cpu/activation_avx2.h"

#include <immintrin.h>

#include <limits>

#include "cpu/vec_math_avx2.h"

namespace ember::cpu::avx2 {

namespace {

// out[i] = f(x[i]) for 8 lanes at a time.
template <typename F>
void map(float* out, const float* x, int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(x + i, m)));
  }
}

// out[i] = f(a[i], b[i]).
template <typename F>
void map2(float* out, const float* a, const float* b, int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
  }
}

__m256 set(float v) { return _mm256_set1_ps(v); }

constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kKappa = 0.044715f;

}  // namespace

float row_max(const float* x, int64_t n) {
  const __m256 neg_inf = set(-std::numeric_limits<float>::infinity());
  __m256 m = neg_inf;
  int64_t i = 0;
  // max_ps(a, b) = a > b ? a : b: a NaN in x leaves m unchanged, as in the scalar loop.
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
  if (i < n) {
    const __m256i mask = tail_mask(n - i);
    const __m256 v = _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(x + i, mask),
                                      _mm256_castsi256_ps(mask));
    m = _mm256_max_ps(v, m);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float r = lanes[0];
  for (int k = 1; k < 8; ++k) r = lanes[k] > r ? lanes[k] : r;
  return r;
}

double exp_shifted_sum(float* out, const float* x, float shift, int64_t n) {
  const __m256 s = set(shift);
  __m256d acc_lo = _mm256_setzero_pd(), acc_hi = _mm256_setzero_pd();
  const auto accumulate = [&](__m256 e) {
    acc_lo = _mm256_add_pd(acc_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    acc_hi = _mm256_add_pd(acc_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    if (out) _mm256_storeu_ps(out + i, e);
    accumulate(e);
  }
  if (i < n) {
    const __m256i mask = tail_mask(n - i);
    const __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), s)),
                                   _mm256_castsi256_ps(mask));
    if (out) _mm256_maskstore_ps(out + i, mask, e);
    accumulate(e);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(acc_lo, acc_hi));
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

void log_softmax_backward_row(float* dinp, const float* dout, const float* y, float s,
                              int64_t n) {
  const __m256 vs = set(s);
  map2(dinp, dout, y, n, [&](__m256 g, __m256 yv) {
    return _mm256_fnmadd_ps(exp_ps(yv), vs, g);
  });
}

void sigmoid_forward(float* out, const float* x, int64_t n) {
  map(out, x, n, [](__m256 v) {
    // e = exp(-|x|) <= 1 never overflows; sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) below.
    const __m256 e = exp_ps(_mm256_xor_ps(abs_ps(v), set(-0.0f)));
    const __m256 s = _mm256_div_ps(set(1.0f), _mm256_add_ps(set(1.0f), e));
    const __m256 non_negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(_mm256_mul_ps(e, s), s, non_negative);
  });
}

void tanh_forward(float* out, const float* x, int64_t n) { map(out, x, n, tanh_ps); }

void gelu_exact_forward(float* out, const float* x, int64_t n) {
  map(out, x, n, [](__m256 v) { return _mm256_mul_ps(v, normal_cdf_ps(v)); });
}

void gelu_exact_backward(float* dinp, const float* dout, const float* x, int64_t n) {
  map2(dinp, dout, x, n, [](__m256 g, __m256 v) {
    // phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    const __m256 pdf = _mm256_mul_ps(set(0.39894228040143267794f),
                                     exp_ps(_mm256_mul_ps(set(-0.5f), _mm256_mul_ps(v, v))));
    return _mm256_mul_ps(g, _mm256_fmadd_ps(v, pdf, normal_cdf_ps(v)));
  });
}

void gelu_tanh_forward(float* out, const float* x, int64_t n) {
  map(out, x, n, [](__m256 v) {
    const __m256 inner = _mm256_mul_ps(set(kSqrt2OverPi),
                                       _mm256_fmadd_ps(_mm256_mul_ps(set(kKappa), v),
                                                       _mm256_mul_ps(v, v), v));
    const __m256 half_x = _mm256_mul_ps(set(0.5f), v);
    return _mm256_fmadd_ps(half_x, tanh_ps(inner), half_x);
  });
}

void gelu_tanh_backward(float* dinp, const float* dout, const float* x, int64_t n) {
  map2(dinp, dout, x, n, [](__m256 g, __m256 v) {
    const __m256 x2 = _mm256_mul_ps(v, v);
    const __m256 inner = _mm256_mul_ps(set(kSqrt2OverPi),
                                       _mm256_fmadd_ps(_mm256_mul_ps(set(kKappa), v), x2, v));
    const __m256 th = tanh_ps(inner);
    const __m256 dinner = _mm256_mul_ps(set(kSqrt2OverPi),
                                        _mm256_fmadd_ps(set(3 * kKappa), x2, set(1.0f)));
    // 0.5 (1 + th) + 0.5 x (1 - th^2) dinner
    const __m256 sech2 = _mm256_fnmadd_ps(th, th, set(1.0f));
    const __m256 left = _mm256_mul_ps(set(0.5f), _mm256_add_ps(set(1.0f), th));
    const __m256 right = _mm256_mul_ps(_mm256_mul_ps(set(0.5f), v), _mm256_mul_ps(sech2, dinner));
    return _mm256_mul_ps(g, _mm256_add_ps(left, right));
  });
}

}  // namespace ember::cpu::avx2
