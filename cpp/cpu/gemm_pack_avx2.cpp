// AVX2 transposing packers for GEMM (contract in gemm_microkernel.h). Called only when
// use_avx2().
//
// Each panel lane is a row of a row-major matrix, contiguous in k:
//   dst[k * W + l] = src[l * ld + k].
// Eight (float) or four (double) k at a time, each lane's run is one vector load, and an
// in-register transpose turns the lanes' runs into per-k rows: a load and a store per vector
// instead of per element.
#include <immintrin.h>

#include "cpu/gemm_microkernel.h"

namespace ember::cpu::gemm_detail {

namespace {

// 8 rows x 8 k (floats) -> v[k] = the 8 rows' values at k.
inline void transpose8x8(__m256 v[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  v[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  v[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  v[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  v[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  v[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  v[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  v[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  v[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// 4 rows x 4 k (doubles) -> v[k] = the 4 rows' values at k.
inline void transpose4x4(__m256d v[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(v[0], v[1]), t1 = _mm256_unpackhi_pd(v[0], v[1]);
  const __m256d t2 = _mm256_unpacklo_pd(v[2], v[3]), t3 = _mm256_unpackhi_pd(v[2], v[3]);
  v[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  v[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  v[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  v[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

template <typename T, int W>
inline void pack_tail(T* dst, const T* src, int64_t ld, int64_t k0, int64_t kc) {
  for (int64_t k = k0; k < kc; ++k)
    for (int l = 0; l < W; ++l) dst[k * W + l] = src[l * ld + k];
}

template <int W>  // 6 or 16
void pack_rows_f32(float* dst, const float* src, int64_t ld, int64_t kc) {
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    __m256 lo[8], hi[8];
    for (int l = 0; l < 8; ++l) {
      lo[l] = l < W ? _mm256_loadu_ps(src + l * ld + k) : _mm256_setzero_ps();
      hi[l] = l + 8 < W ? _mm256_loadu_ps(src + (l + 8) * ld + k) : _mm256_setzero_ps();
    }
    transpose8x8(lo);
    if (W > 8) transpose8x8(hi);
    for (int j = 0; j < 8; ++j) {
      float* d = dst + (k + j) * W;
      if (W == 16) {
        _mm256_storeu_ps(d, lo[j]);
        _mm256_storeu_ps(d + 8, hi[j]);
      } else {  // lanes 0-5
        _mm_storeu_ps(d, _mm256_castps256_ps128(lo[j]));
        _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(lo[j], 1));
      }
    }
  }
  pack_tail<float, W>(dst, src, ld, k, kc);
}

template <int W>  // 6 or 8
void pack_rows_f64(double* dst, const double* src, int64_t ld, int64_t kc) {
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    __m256d lo[4], hi[4];
    for (int l = 0; l < 4; ++l) {
      lo[l] = _mm256_loadu_pd(src + l * ld + k);
      hi[l] = l + 4 < W ? _mm256_loadu_pd(src + (l + 4) * ld + k) : _mm256_setzero_pd();
    }
    transpose4x4(lo);
    transpose4x4(hi);
    for (int j = 0; j < 4; ++j) {
      double* d = dst + (k + j) * W;
      _mm256_storeu_pd(d, lo[j]);
      if (W == 8)
        _mm256_storeu_pd(d + 4, hi[j]);
      else  // lanes 4-5
        _mm_storeu_pd(d + 4, _mm256_castpd256_pd128(hi[j]));
    }
  }
  pack_tail<double, W>(dst, src, ld, k, kc);
}

}  // namespace

void pack_rows_avx2_f32(float* dst, const float* src, int64_t ld, int64_t kc) {
  pack_rows_f32<kAvx2MrF32>(dst, src, ld, kc);
}
void pack_cols_avx2_f32(float* dst, const float* src, int64_t ld, int64_t kc) {
  pack_rows_f32<kAvx2NrF32>(dst, src, ld, kc);
}
void pack_rows_avx2_f64(double* dst, const double* src, int64_t ld, int64_t kc) {
  pack_rows_f64<kAvx2MrF64>(dst, src, ld, kc);
}
void pack_cols_avx2_f64(double* dst, const double* src, int64_t ld, int64_t kc) {
  pack_rows_f64<kAvx2NrF64>(dst, src, ld, kc);
}

}  // namespace ember::cpu::gemm_detail
