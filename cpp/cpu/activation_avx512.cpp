// AVX-512F float32 softmax-row and sigmoid kernels (contract in activation_avx512.h). Partial
// vectors at the end of a range go through masked loads and stores, so every element takes the
// same arithmetic.
#include "cpu/activation_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "cpu/vec_math_avx512.h"

namespace ember::cpu::avx512 {

namespace {

__m512 set(float v) { return _mm512_set1_ps(v); }

// Elements before out's first 64-byte boundary: a masked first vector takes them, so that every
// full store after it is aligned. Arrays from malloc are 16-byte aligned, and a 64-byte store
// that straddles two cache lines costs about two (a 200 KiB ReLU ran 20% slower than SSE2's).
inline int64_t head_to_line(const float* out, int64_t n) {
  const auto misaligned = reinterpret_cast<uintptr_t>(out) % 64;
  if (misaligned % sizeof(float) != 0) return 0;  // not float-aligned: no boundary to reach
  return std::min<int64_t>(n, misaligned ? static_cast<int64_t>((64 - misaligned) / 4) : 0);
}

// out[i] = f(a[i]) or f(a[i], b[i]) for 16 lanes at a time.
template <typename F>
void map(float* out, const float* x, int64_t n, const F& f) {
  int64_t i = head_to_line(out, n);
  if (i > 0) {
    const __mmask16 m = tail_mask(i);
    _mm512_mask_storeu_ps(out, m, f(_mm512_maskz_loadu_ps(m, x)));
  }
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

template <typename F>
void map2(float* out, const float* a, const float* b, int64_t n, const F& f) {
  int64_t i = head_to_line(out, n);
  if (i > 0) {
    const __mmask16 m = tail_mask(i);
    _mm512_mask_storeu_ps(out, m, f(_mm512_maskz_loadu_ps(m, a), _mm512_maskz_loadu_ps(m, b)));
  }
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m,
                          f(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

}  // namespace

float row_max(const float* x, int64_t n) {
  const __m512 neg_inf = set(-std::numeric_limits<float>::infinity());
  __m512 m = neg_inf;
  int64_t i = 0;
  // max_ps(a, b) = a > b ? a : b: a NaN in x leaves m unchanged, as in the scalar loop.
  for (; i + 16 <= n; i += 16) m = _mm512_max_ps(_mm512_loadu_ps(x + i), m);
  if (i < n) m = _mm512_max_ps(_mm512_mask_loadu_ps(neg_inf, tail_mask(n - i), x + i), m);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, m);
  float r = lanes[0];
  for (int k = 1; k < 16; ++k) r = lanes[k] > r ? lanes[k] : r;
  return r;
}

double exp_shifted_sum(float* out, const float* x, float shift, int64_t n) {
  const __m512 s = set(shift);
  // The row is in L1 after row_max; memory would idle while its exps are computed. Asking for
  // the line one row length ahead (the next row of a row-major matrix) overlaps the two. The
  // address is formed as an integer: past the last row it is outside the array, where a prefetch
  // is harmless (it never faults).
  const uintptr_t ahead = reinterpret_cast<uintptr_t>(x) + sizeof(float) * uint64_t(n);
  const auto exp_at = [&](int64_t i) {
    _mm_prefetch(reinterpret_cast<const char*>(ahead + sizeof(float) * uint64_t(i)), _MM_HINT_T0);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    if (out) _mm512_storeu_ps(out + i, e);
    return e;
  };
  __m512d acc_lo = _mm512_setzero_pd(), acc_hi = _mm512_setzero_pd();
  const auto accumulate = [&](__m512 e) {
    acc_lo = _mm512_add_pd(acc_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    acc_hi = _mm512_add_pd(
        acc_hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  };
  int64_t i = 0;
  // Four vectors are added in float by a fixed tree, (e0 + e1) + (e2 + e3), then once in double:
  // widening every vector cost more than its exp's polynomial. Each exp is <= 1, so a lane's
  // four-term float sum is off by at most 2 roundings (2^-23 relative), the same for every chunk
  // and row length; the double additions across chunks add n 2^-53 at most.
  for (; i + 64 <= n; i += 64) {
    const __m512 e01 = _mm512_add_ps(exp_at(i), exp_at(i + 16));
    const __m512 e23 = _mm512_add_ps(exp_at(i + 32), exp_at(i + 48));
    accumulate(_mm512_add_ps(e01, e23));
  }
  // Each float exp is exact in double: the remaining vectors are only rounded by the additions.
  for (; i + 16 <= n; i += 16) accumulate(exp_at(i));
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    const __m512 e = _mm512_maskz_mov_ps(
        mask, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + i), s)));
    if (out) _mm512_mask_storeu_ps(out + i, mask, e);
    accumulate(e);
  }
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, _mm512_add_pd(acc_lo, acc_hi));
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

void scale_row(float* y, float a, int64_t n) {
  const __m512 va = set(a);
  map(y, y, n, [&](__m512 v) { return _mm512_mul_ps(v, va); });
}

void log_softmax_backward_row(float* dinp, const float* dout, const float* y, float s,
                              int64_t n) {
  const __m512 vs = set(s);
  map2(dinp, dout, y, n, [&](__m512 g, __m512 yv) {
    return _mm512_fnmadd_ps(exp_ps(yv), vs, g);
  });
}

void sigmoid_forward(float* out, const float* x, int64_t n) {
  map(out, x, n, [](__m512 v) {
    // e = exp(-|x|) <= 1 never overflows; sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) below.
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), abs_ps(v)));
    const __m512 s = _mm512_div_ps(set(1.0f), _mm512_add_ps(set(1.0f), e));
    const __mmask16 non_negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_mask_blend_ps(non_negative, _mm512_mul_ps(e, s), s);
  });
}

// maxps returns its second operand when the two compare equal or either is NaN: max(0, x) is
// exactly x < 0 ? 0 : x, -0 and NaN passing through, in one instruction (GCC emits a compare
// and a mask for the portable loop's form).
void relu_forward(float* out, const float* x, int64_t n) {
  map(out, x, n, [](__m512 v) { return _mm512_max_ps(_mm512_setzero_ps(), v); });
}

void relu_backward(float* dinp, const float* dout, const float* x, int64_t n) {
  map2(dinp, dout, x, n, [](__m512 g, __m512 v) {
    // "not (x <= 0)", unordered: true for NaN, whose gradient passes as in the portable loop.
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLE_UQ), g);
  });
}

}  // namespace ember::cpu::avx512
