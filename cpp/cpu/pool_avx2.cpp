// 2x2 max pooling, 8 outputs per step: two ymm loads per input row hold 16 pixels, which
// vshufps splits into even and odd columns (in the lane order 0 1 4 5 2 3 6 7, which vpermpd
// puts back in order), so lane j sees its window's four pixels a b / c d in four registers. The
// window is scanned in row-major order with "take v if v > best or v is NaN", as the scalar
// rule (the first of equal maxima stays, a later NaN replaces an earlier one). Which pixel won
// is kept as two lane masks (column 1, row 1) that add 1 and W to the window's base index.
#include "cpu/pool_avx2.h"

#include <immintrin.h>

#include "cpu/vec_math_avx2.h"

namespace ember::cpu::avx2 {

namespace {

inline __m256 takes(__m256 v, __m256 best) {
  return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

// Columns 0, 2, .., 14 (even) or 1, 3, .., 15 (odd) of the 16 pixels in lo, hi.
inline __m256 even_columns(__m256 lo, __m256 hi) {
  const __m256 mixed = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), _MM_SHUFFLE(3, 1, 2, 0)));
}
inline __m256 odd_columns(__m256 lo, __m256 hi) {
  const __m256 mixed = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Sign-extends lanes 0-3 (half 0) or 4-7 (half 1) of a 32-bit lane mask to 64-bit lanes.
inline __m256i widen(__m256 mask, int half) {
  const __m128 part = half ? _mm256_extractf128_ps(mask, 1) : _mm256_castps256_ps128(mask);
  return _mm256_cvtepi32_epi64(_mm_castps_si128(part));
}

}  // namespace

void max_pool2x2_plane(float* y, int64_t* indices, const float* x, int64_t W, int64_t OH,
                       int64_t OW) {
  const __m256i column_lo = _mm256_setr_epi64x(0, 2, 4, 6);
  const __m256i column_hi = _mm256_setr_epi64x(8, 10, 12, 14);
  const __m256i one = _mm256_set1_epi64x(1), width = _mm256_set1_epi64x(W);
  for (int64_t i = 0; i < OH; ++i) {
    const float* r0 = x + 2 * i * W;
    const float* r1 = r0 + W;
    for (int64_t j = 0; j < OW; j += 8) {
      // The last step of a row is masked: it neither reads past the 2 * OW pixels it needs nor
      // writes past the row's outputs.
      const int64_t n = OW - j < 8 ? OW - j : 8;
      const __m256i out_mask = n == 8 ? _mm256_set1_epi32(-1) : tail_mask(n);
      const __m256i lo_mask = n >= 4 ? _mm256_set1_epi32(-1) : tail_mask(2 * n);
      const __m256i hi_mask = n == 8 ? _mm256_set1_epi32(-1)
                              : n > 4 ? tail_mask(2 * n - 8)
                                      : _mm256_setzero_si256();
      const float* p0 = r0 + 2 * j;
      const float* p1 = r1 + 2 * j;
      const __m256 t0 = _mm256_maskload_ps(p0, lo_mask), t1 = _mm256_maskload_ps(p0 + 8, hi_mask);
      const __m256 b0 = _mm256_maskload_ps(p1, lo_mask), b1 = _mm256_maskload_ps(p1 + 8, hi_mask);
      const __m256 a = even_columns(t0, t1), b = odd_columns(t0, t1);
      const __m256 c = even_columns(b0, b1), d = odd_columns(b0, b1);

      __m256 best = a;
      const __m256 take_b = takes(b, best);
      best = _mm256_blendv_ps(best, b, take_b);
      const __m256 take_c = takes(c, best);
      best = _mm256_blendv_ps(best, c, take_c);
      const __m256 take_d = takes(d, best);
      best = _mm256_blendv_ps(best, d, take_d);
      const __m256 in_column_1 = _mm256_or_ps(_mm256_andnot_ps(take_c, take_b), take_d);
      const __m256 in_row_1 = _mm256_or_ps(take_c, take_d);
      _mm256_maskstore_ps(y + i * OW + j, out_mask, best);

      const __m256i base = _mm256_set1_epi64x(2 * i * W + 2 * j);
      __m256i lo = _mm256_add_epi64(base, column_lo);
      __m256i hi = _mm256_add_epi64(base, column_hi);
      lo = _mm256_add_epi64(lo, _mm256_and_si256(widen(in_column_1, 0), one));
      hi = _mm256_add_epi64(hi, _mm256_and_si256(widen(in_column_1, 1), one));
      lo = _mm256_add_epi64(lo, _mm256_and_si256(widen(in_row_1, 0), width));
      hi = _mm256_add_epi64(hi, _mm256_and_si256(widen(in_row_1, 1), width));
      int64_t* idx = indices + i * OW + j;
      const __m256 out_lanes = _mm256_castsi256_ps(out_mask);
      _mm256_maskstore_epi64(reinterpret_cast<long long*>(idx), widen(out_lanes, 0), lo);
      _mm256_maskstore_epi64(reinterpret_cast<long long*>(idx + 4), widen(out_lanes, 1), hi);
    }
  }
}

}  // namespace ember::cpu::avx2
