// Eight Philox groups per step, one per 64-bit lane: vpmuludq multiplies the low 32 bits of each
// lane into a full 64-bit product, whose halves are the round's hi and lo words. The upper half
// of a lane may hold garbage between rounds: vpmuludq ignores it and xor keeps it out of the low
// half, so it is masked off once, when the words are stored.
#include "cpu/dropout_avx512.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "cpu/philox.h"

namespace ember::cpu::avx512 {

namespace {

constexpr int kGroupsPerStep = 8;

// Words of groups counter .. counter + 7, in the scalar layout (4 words per group).
void philox_step(uint32_t* out, __m512i counter, const __m512i (&keys)[philox::kRounds][2]) {
  const __m512i m0 = _mm512_set1_epi64(philox::kM0), m1 = _mm512_set1_epi64(philox::kM1);
  __m512i c0 = counter, c1 = _mm512_srli_epi64(counter, 32);
  __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
  for (int r = 0; r < philox::kRounds; ++r) {
    const __m512i p0 = _mm512_mul_epu32(c0, m0), p1 = _mm512_mul_epu32(c2, m1);
    // 0x96 is the truth table of a ^ b ^ c: one instruction for the two xors.
    const __m512i n0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), c1, keys[r][0], 0x96);
    const __m512i n2 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), c3, keys[r][1], 0x96);
    c0 = n0;
    c1 = p1;
    c2 = n2;
    c3 = p0;
  }
  const __m512i low = _mm512_set1_epi64(0xFFFFFFFF);
  // w01 lane j = words 0 and 1 of group j, w23 = words 2 and 3.
  const __m512i w01 = _mm512_or_si512(_mm512_and_si512(c0, low), _mm512_slli_epi64(c1, 32));
  const __m512i w23 = _mm512_or_si512(_mm512_and_si512(c2, low), _mm512_slli_epi64(c3, 32));
  const __m512i even = _mm512_unpacklo_epi64(w01, w23);  // groups 0, 2, 4, 6
  const __m512i odd = _mm512_unpackhi_epi64(w01, w23);   // groups 1, 3, 5, 7
  const __m512i first = _mm512_permutex2var_epi64(even, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), odd);
  const __m512i second =
      _mm512_permutex2var_epi64(even, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), odd);
  _mm512_storeu_si512(out, first);
  _mm512_storeu_si512(out + 16, second);
}

}  // namespace

void philox_words(uint32_t* words, int64_t groups, uint64_t seed, uint64_t first_group) {
  __m512i keys[philox::kRounds][2];
  philox::Key k = philox::key_from_seed(seed);
  for (int r = 0; r < philox::kRounds; ++r) {
    if (r > 0) {
      k.w[0] += philox::kW0;
      k.w[1] += philox::kW1;
    }
    keys[r][0] = _mm512_set1_epi64(k.w[0]);
    keys[r][1] = _mm512_set1_epi64(k.w[1]);
  }
  constexpr uint64_t kGroupMask = (uint64_t{1} << 62) - 1;
  const __m512i mask = _mm512_set1_epi64(static_cast<long long>(kGroupMask));
  const __m512i lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  int64_t j = 0;
  for (; j + kGroupsPerStep <= groups; j += kGroupsPerStep) {
    const __m512i start = _mm512_set1_epi64(static_cast<long long>(first_group + j));
    philox_step(words + 4 * j, _mm512_and_si512(_mm512_add_epi64(start, lanes), mask), keys);
  }
  if (j < groups) {
    uint32_t tail[4 * kGroupsPerStep];
    const __m512i start = _mm512_set1_epi64(static_cast<long long>(first_group + j));
    philox_step(tail, _mm512_and_si512(_mm512_add_epi64(start, lanes), mask), keys);
    std::memcpy(words + 4 * j, tail, sizeof(uint32_t) * 4 * (groups - j));
  }
}

namespace {

// Keep mask of up to 16 elements: lane k is kept when words[k] >> 8 >= threshold.
inline __mmask16 keep_lanes(const uint32_t* words, __mmask16 lanes, __m512i threshold) {
  const __m512i u = _mm512_srli_epi32(_mm512_maskz_loadu_epi32(lanes, words), 8);
  return _mm512_mask_cmpge_epi32_mask(lanes, u, threshold);
}

inline __m512 apply(__m512 x, __mmask16 keep, __m512 keep_prob) {
  return _mm512_div_ps(_mm512_mul_ps(x, _mm512_maskz_mov_ps(keep, _mm512_set1_ps(1.0f))),
                       keep_prob);
}

// x / q and x * (1 / q) are the same real number when q is a power of two (1 / q is then exact),
// and both operations round it once: the same bits, inf, NaN, signed zeros and subnormals
// included. A multiply costs a fraction of vdivps.
bool has_exact_reciprocal(float q) {
  int e;
  return std::frexp(q, &e) == 0.5f && q >= 0x1p-125f;
}

template <bool kMultiply>
void dropout_apply_ps(float* y, const float* x, const uint32_t* words, int64_t n,
                      int32_t threshold, float keep_prob) {
  const __m512i t = _mm512_set1_epi32(threshold);
  const __m512 kp = _mm512_set1_ps(keep_prob), inv = _mm512_set1_ps(1.0f / keep_prob);
  const auto scaled = [&](__m512 v, __mmask16 keep) {
    if constexpr (kMultiply)
      return _mm512_mul_ps(_mm512_mul_ps(v, _mm512_maskz_mov_ps(keep, _mm512_set1_ps(1.0f))), inv);
    else
      return apply(v, keep, kp);
  };
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
    _mm512_storeu_ps(y + k, scaled(_mm512_loadu_ps(x + k), keep_lanes(words + k, 0xFFFF, t)));
  if (k < n) {
    const __mmask16 lanes = static_cast<__mmask16>((uint32_t{1} << (n - k)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(lanes, x + k);
    _mm512_mask_storeu_ps(y + k, lanes, scaled(v, keep_lanes(words + k, lanes, t)));
  }
}

inline __m512d apply(__m512d x, __mmask8 keep, __m512d keep_prob) {
  return _mm512_div_pd(_mm512_mul_pd(x, _mm512_maskz_mov_pd(keep, _mm512_set1_pd(1.0))),
                       keep_prob);
}

}  // namespace

void dropout_apply(float* y, const float* x, const uint32_t* words, int64_t n, int32_t threshold,
                   float keep_prob) {
  if (has_exact_reciprocal(keep_prob))
    return dropout_apply_ps<true>(y, x, words, n, threshold, keep_prob);
  dropout_apply_ps<false>(y, x, words, n, threshold, keep_prob);
}

void dropout_apply(double* y, const double* x, const uint32_t* words, int64_t n,
                   int32_t threshold, double keep_prob) {
  const __m512i t = _mm512_set1_epi32(threshold);
  const __m512d kp = _mm512_set1_pd(keep_prob);
  for (int64_t k = 0; k < n; k += 8) {
    const __mmask8 lanes = n - k >= 8 ? 0xFF : static_cast<__mmask8>((1u << (n - k)) - 1);
    const __mmask8 keep = static_cast<__mmask8>(keep_lanes(words + k, lanes, t));
    _mm512_mask_storeu_pd(y + k, lanes, apply(_mm512_maskz_loadu_pd(lanes, x + k), keep, kp));
  }
}

}  // namespace ember::cpu::avx512
