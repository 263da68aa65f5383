#include <immintrin.h>

#include "cpu/fma_peak.h"

namespace ember::cpu::fma_detail {

// 16 chains of 16 lanes: as many independent FMAs in flight as the AVX-512 GEMM keeps.
int64_t fma_chains_avx512(int64_t iterations, volatile float* sink) {
  constexpr int kChains = 16;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 scale = _mm512_set1_ps(0.999f), shift = _mm512_set1_ps(0.001f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], scale, shift);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  *sink = _mm512_reduce_add_ps(sum);
  return iterations * kChains * 16 * 2;
}

}  // namespace ember::cpu::fma_detail
