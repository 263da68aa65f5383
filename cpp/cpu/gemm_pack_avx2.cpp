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
#include "cpu/transpose_avx2.h"

namespace ember::cpu::gemm_detail {

namespace {

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

void transpose_avx2_f32(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows,
                        int64_t cols) {
  int64_t i0 = 0;
  for (; i0 + 8 <= rows; i0 += 8) {
    int64_t j0 = 0;
    for (; j0 + 8 <= cols; j0 += 8) {
      __m256 v[8];
      for (int r = 0; r < 8; ++r) v[r] = _mm256_loadu_ps(src + (i0 + r) * lds + j0);
      transpose8x8(v);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (j0 + j) * ldd + i0, v[j]);
    }
    for (; j0 < cols; ++j0)
      for (int r = 0; r < 8; ++r) dst[j0 * ldd + i0 + r] = src[(i0 + r) * lds + j0];
  }
  for (; i0 < rows; ++i0)
    for (int64_t j = 0; j < cols; ++j) dst[j * ldd + i0] = src[i0 * lds + j];
}

}  // namespace ember::cpu::gemm_detail
