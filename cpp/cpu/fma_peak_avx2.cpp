#include <immintrin.h>

#include "cpu/fma_peak.h"

namespace ember::cpu::fma_detail {

// 12 chains: FMA latency 4-5 cycles x 2 units needs at least 10 in flight.
int64_t fma_chains_avx2(int64_t iterations, volatile float* sink) {
  constexpr int kChains = 12;
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 scale = _mm256_set1_ps(0.999f), shift = _mm256_set1_ps(0.001f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], scale, shift);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  *sink = lanes[0];
  return iterations * kChains * 8 * 2;
}

}  // namespace ember::cpu::fma_detail
