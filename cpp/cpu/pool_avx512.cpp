// 2x2 max pooling, 16 outputs per step: two zmm loads per input row hold 32 pixels, which
// vpermt2ps splits into the even and odd columns, so lane j sees its window's four pixels
// a b / c d in four registers. The window is then scanned in row-major order a, b, c, d with
// "take v if v > best or v is NaN", one compare mask per pixel: exactly the scalar rule (the
// first of equal maxima stays, a later NaN replaces an earlier one). Which pixel won is kept as
// two bit masks (column 1, row 1) that add 1 and W to the window's base index.
#include "cpu/pool_avx512.h"

#include <immintrin.h>

namespace ember::cpu::avx512 {

namespace {

inline __mmask16 takes(__m512 v, __m512 best) {
  return _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

}  // namespace

void max_pool2x2_plane(float* y, int64_t* indices, const float* x, int64_t W, int64_t OH,
                       int64_t OW) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i column_lo = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i column_hi = _mm512_add_epi64(column_lo, _mm512_set1_epi64(16));
  const __m512i one = _mm512_set1_epi64(1), width = _mm512_set1_epi64(W);
  for (int64_t i = 0; i < OH; ++i) {
    const float* r0 = x + 2 * i * W;
    const float* r1 = r0 + W;
    for (int64_t j = 0; j < OW; j += 16) {
      // The last step of a row is masked: it neither reads past the 2 * OW pixels it needs nor
      // writes past the row's outputs.
      const int64_t n = OW - j < 16 ? OW - j : 16;
      const __mmask16 out_mask = static_cast<__mmask16>((uint32_t{1} << n) - 1);
      const uint32_t pixels = n == 16 ? ~uint32_t{0} : (uint32_t{1} << (2 * n)) - 1;
      const __mmask16 lo_mask = static_cast<__mmask16>(pixels), hi_mask = pixels >> 16;
      const float* p0 = r0 + 2 * j;
      const float* p1 = r1 + 2 * j;
      const __m512 t0 = _mm512_maskz_loadu_ps(lo_mask, p0);
      const __m512 t1 = _mm512_maskz_loadu_ps(hi_mask, p0 + 16);
      const __m512 b0 = _mm512_maskz_loadu_ps(lo_mask, p1);
      const __m512 b1 = _mm512_maskz_loadu_ps(hi_mask, p1 + 16);
      const __m512 a = _mm512_permutex2var_ps(t0, even, t1);
      const __m512 b = _mm512_permutex2var_ps(t0, odd, t1);
      const __m512 c = _mm512_permutex2var_ps(b0, even, b1);
      const __m512 d = _mm512_permutex2var_ps(b0, odd, b1);

      __m512 best = a;
      const __mmask16 take_b = takes(b, best);
      best = _mm512_mask_blend_ps(take_b, best, b);
      const __mmask16 take_c = takes(c, best);
      best = _mm512_mask_blend_ps(take_c, best, c);
      const __mmask16 take_d = takes(d, best);
      best = _mm512_mask_blend_ps(take_d, best, d);
      const __mmask16 in_column_1 = (take_b & ~take_c) | take_d;
      const __mmask16 in_row_1 = take_c | take_d;
      _mm512_mask_storeu_ps(y + i * OW + j, out_mask, best);

      const __m512i base = _mm512_set1_epi64(2 * i * W + 2 * j);
      __m512i lo = _mm512_add_epi64(base, column_lo);
      __m512i hi = _mm512_add_epi64(base, column_hi);
      lo = _mm512_mask_add_epi64(lo, static_cast<__mmask8>(in_column_1), lo, one);
      hi = _mm512_mask_add_epi64(hi, static_cast<__mmask8>(in_column_1 >> 8), hi, one);
      lo = _mm512_mask_add_epi64(lo, static_cast<__mmask8>(in_row_1), lo, width);
      hi = _mm512_mask_add_epi64(hi, static_cast<__mmask8>(in_row_1 >> 8), hi, width);
      int64_t* idx = indices + i * OW + j;
      _mm512_mask_storeu_epi64(idx, static_cast<__mmask8>(out_mask), lo);
      _mm512_mask_storeu_epi64(idx + 8, static_cast<__mmask8>(out_mask >> 8), hi);
    }
  }
}

}  // namespace ember::cpu::avx512
