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
// Group counters are taken modulo 2^62, as in the scalar generator.
constexpr uint64_t kGroupMask = (uint64_t{1} << 62) - 1;

// The ten round keys of `seed`, each broadcast to every 64-bit lane.
void broadcast_round_keys(__m512i (&keys)[philox::kRounds][2], uint64_t seed) {
  philox::Key k = philox::key_from_seed(seed);
  for (int r = 0; r < philox::kRounds; ++r) {
    if (r > 0) {
      k.w[0] += philox::kW0;
      k.w[1] += philox::kW1;
    }
    keys[r][0] = _mm512_set1_epi64(k.w[0]);
    keys[r][1] = _mm512_set1_epi64(k.w[1]);
  }
}

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
  const __m512i first =
      _mm512_permutex2var_epi64(even, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), odd);
  const __m512i second =
      _mm512_permutex2var_epi64(even, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), odd);
  _mm512_storeu_si512(out, first);
  _mm512_storeu_si512(out + 16, second);
}

}  // namespace

void philox_words(uint32_t* words, int64_t groups, uint64_t seed, uint64_t first_group) {
  __m512i keys[philox::kRounds][2];
  broadcast_round_keys(keys, seed);
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

namespace {

// Philox4x32-10 for eight groups per vector, kept in registers for dropout_fused. As in
// philox_step, only the low half of each 64-bit lane is meaningful between rounds; the round's
// hi word is moved there with a 32-bit swap (vpshufd) rather than a 64-bit shift, because the
// shift competes with vpmuludq for the one port that multiplies and the swap does not.
class Philox8 {
 public:
  // For groups first_group .. last_group. Where they all share the counter's high word (nearly
  // always), the first two rounds are partly the same for every group and are computed once.
  Philox8(uint64_t seed, uint64_t first_group, uint64_t last_group)
      : same_high_((first_group >> 32) == (last_group >> 32) && last_group <= kGroupMask) {
    broadcast_round_keys(keys_, seed);
    // Round 0 makes word 0 high ^ key0, the same for every group; round 1 multiplies it.
    const uint32_t high = static_cast<uint32_t>(first_group >> 32);
    const uint64_t product = uint64_t{high ^ philox::key_from_seed(seed).w[0]} * philox::kM0;
    const uint32_t key1 = philox::key_from_seed(seed).w[1] + philox::kW1;
    round1_lo0_ = _mm512_set1_epi64(static_cast<uint32_t>(product));
    round1_hi0_key_ = _mm512_set1_epi64(static_cast<uint32_t>(product >> 32) ^ key1);
  }

  bool same_high() const { return same_high_; }

  // Words of kStreams * 8 groups, stream s holding groups first_group[s] + lane, in element
  // order: out[2 * s] = the 16 words of its first four groups, out[2 * s + 1] the next 16.
  // kSameHigh requires same_high() and groups inside the constructor's range.
  template <int kStreams, bool kSameHigh>
  void words(__m512i (&out)[2 * kStreams], const uint64_t (&first_group)[kStreams]) const {
    const __m512i m0 = _mm512_set1_epi64(philox::kM0), m1 = _mm512_set1_epi64(philox::kM1);
    const __m512i lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    __m512i c0[kStreams], c1[kStreams], c2[kStreams], c3[kStreams];
    int r = 0;
    for (int s = 0; s < kStreams; ++s) {
      const __m512i start = _mm512_set1_epi64(static_cast<long long>(first_group[s]));
      if constexpr (kSameHigh) {
        // Counter words 2 and 3 are zero, so round 0's second product is zero; word 0 after
        // round 0 is a constant, so is round 1's first product.
        const __m512i p0 = _mm512_mul_epu32(_mm512_add_epi64(start, lanes), m0);
        const __m512i n2 = _mm512_xor_si512(swap_halves(p0), keys_[0][1]);
        const __m512i p1 = _mm512_mul_epu32(n2, m1);
        c0[s] = _mm512_xor_si512(swap_halves(p1), keys_[1][0]);
        c1[s] = p1;
        c2[s] = _mm512_xor_si512(p0, round1_hi0_key_);
        c3[s] = round1_lo0_;
      } else {
        const __m512i group_mask = _mm512_set1_epi64(static_cast<long long>(kGroupMask));
        const __m512i counter = _mm512_and_si512(_mm512_add_epi64(start, lanes), group_mask);
        const __m512i p0 = _mm512_mul_epu32(counter, m0);
        c0[s] = _mm512_xor_si512(swap_halves(counter), keys_[0][0]);
        c1[s] = _mm512_setzero_si512();
        c2[s] = _mm512_xor_si512(swap_halves(p0), keys_[0][1]);
        c3[s] = p0;
      }
    }
    for (r = kSameHigh ? 2 : 1; r < philox::kRounds - 1; ++r) {
      for (int s = 0; s < kStreams; ++s) {
        const __m512i p0 = _mm512_mul_epu32(c0[s], m0), p1 = _mm512_mul_epu32(c2[s], m1);
        // 0x96 is the truth table of a ^ b ^ c.
        c0[s] = _mm512_ternarylogic_epi64(swap_halves(p1), c1[s], keys_[r][0], 0x96);
        c2[s] = _mm512_ternarylogic_epi64(swap_halves(p0), c3[s], keys_[r][1], 0x96);
        c1[s] = p1;
        c3[s] = p0;
      }
    }
    // The last round xors only the low halves: the high halves of the swapped products keep the
    // lo words, so lane j holds words 0 and 1 (w01) and words 2 and 3 (w23) of group j.
    const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    for (int s = 0; s < kStreams; ++s) {
      const __m512i p0 = _mm512_mul_epu32(c0[s], m0), p1 = _mm512_mul_epu32(c2[s], m1);
      const __m512i w01 =
          _mm512_mask_ternarylogic_epi32(swap_halves(p1), 0x5555, c1[s], keys_[r][0], 0x96);
      const __m512i w23 =
          _mm512_mask_ternarylogic_epi32(swap_halves(p0), 0x5555, c3[s], keys_[r][1], 0x96);
      out[2 * s] = _mm512_permutex2var_epi64(w01, lo, w23);
      out[2 * s + 1] = _mm512_permutex2var_epi64(w01, hi, w23);
    }
  }

 private:
  static __m512i swap_halves(__m512i v) { return _mm512_shuffle_epi32(v, _MM_PERM_CDAB); }

  __m512i keys_[philox::kRounds][2];
  __m512i round1_lo0_, round1_hi0_key_;
  bool same_high_;
};

// Keep bits of 32 consecutive words: (w >> 8) >= t is w >= t * 2^8 (t < 2^24).
inline uint32_t keep_bits(const __m512i (&w)[2], __m512i scaled_threshold) {
  const uint32_t a = _mm512_mask2int(_mm512_cmpge_epu32_mask(w[0], scaled_threshold));
  const uint32_t b = _mm512_mask2int(_mm512_cmpge_epu32_mask(w[1], scaled_threshold));
  return (a & 0xFFFF) | (b << 16);
}

// y = x * keep / keep_prob over up to 16 lanes, the operations of dropout_apply_ps. With an exact
// reciprocal, x * (keep ? 1 / q : 0) is (x * keep) * (1 / q) in one multiply: a kept lane is the
// same product, and a dropped lane's x * 0 (a signed zero or NaN) is unchanged by the multiply
// with the positive, finite 1 / q.
template <bool kMultiply>
inline void scale_store(float* y, const float* x, __mmask16 lanes, __mmask16 keep, __m512 keep_prob,
                        __m512 inverse) {
  const __m512 v = lanes == 0xFFFF ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps(lanes, x);
  __m512 r;
  if constexpr (kMultiply)
    r = _mm512_mul_ps(v, _mm512_maskz_mov_ps(keep, inverse));
  else
    r = _mm512_div_ps(_mm512_mul_ps(v, _mm512_maskz_mov_ps(keep, _mm512_set1_ps(1.0f))), keep_prob);
  if (lanes == 0xFFFF)
    _mm512_storeu_ps(y, r);
  else
    _mm512_mask_storeu_ps(y, lanes, r);
}

template <bool kMultiply>
inline void scale_store32(float* y, const float* x, int64_t count, uint32_t keep, __m512 keep_prob,
                          __m512 inverse) {
  const uint32_t lanes = count >= 32 ? 0xFFFFFFFFu : (uint32_t{1} << count) - 1;
  scale_store<kMultiply>(y, x, _mm512_int2mask(static_cast<int>(lanes & 0xFFFF)),
                         _mm512_int2mask(static_cast<int>(keep & 0xFFFF)), keep_prob, inverse);
  if (count > 16)
    scale_store<kMultiply>(y + 16, x + 16, _mm512_int2mask(static_cast<int>(lanes >> 16)),
                           _mm512_int2mask(static_cast<int>(keep >> 16)), keep_prob, inverse);
}

// At one thread the Philox rounds keep the core busy long enough between loads that the
// hardware prefetcher falls behind; asking for the input 4 KiB ahead keeps it streaming (about 15%
// on 64 MiB tensors). A prefetch never faults, so reading past the end is harmless.
constexpr int64_t kPrefetchAhead = 1024;

// The address is formed as an integer: a pointer past the end of x would be undefined.
inline void prefetch_ahead(const float* p) {
  const uintptr_t ahead = reinterpret_cast<uintptr_t>(p) + sizeof(float) * kPrefetchAhead;
  _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);
}

// Element k sits at stream position `position` + k: word (head + k) of the run of groups that
// starts at `position` / 4. With head == 0, 32 elements take the 32 words of one vector step
// as they are; otherwise their keep bits straddle two steps and are shifted into place.
template <bool kMultiply, bool kSameHigh>
void fused_ps(const Philox8& philox, float* y, const float* x, int64_t n, uint64_t position,
              int32_t threshold, float keep_prob) {
  const __m512i t = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(threshold) << 8));
  const __m512 kp = _mm512_set1_ps(keep_prob), inv = _mm512_set1_ps(1.0f / keep_prob);
  const int head = static_cast<int>(position & 3);
  const uint64_t group = position >> 2;
  int64_t k = 0;
  __m512i w[2];
  if (head == 0) {
    for (; k + 64 <= n; k += 64) {
      const uint64_t g = group + static_cast<uint64_t>(k >> 2);
      for (int line = 0; line < 4; ++line) prefetch_ahead(x + k + 16 * line);
      __m512i w4[4];
      philox.words<2, kSameHigh>(w4, {g, g + 8});
      for (int q = 0; q < 4; ++q) {
        const __mmask16 keep = _mm512_cmpge_epu32_mask(w4[q], t);
        scale_store<kMultiply>(y + k + 16 * q, x + k + 16 * q, 0xFFFF, keep, kp, inv);
      }
    }
    for (; k < n; k += 32) {
      philox.words<1, kSameHigh>(w, {group + static_cast<uint64_t>(k >> 2)});
      scale_store32<kMultiply>(y + k, x + k, n - k, keep_bits(w, t), kp, inv);
    }
    return;
  }
  philox.words<1, kSameHigh>(w, {group});
  uint64_t carry = keep_bits(w, t);
  for (; k < n; k += 32) {
    prefetch_ahead(x + k);
    prefetch_ahead(x + k + 16);
    philox.words<1, kSameHigh>(w, {group + static_cast<uint64_t>(k >> 2) + 8});
    const uint64_t next = keep_bits(w, t);
    const uint32_t keep = static_cast<uint32_t>((carry | next << 32) >> head);
    scale_store32<kMultiply>(y + k, x + k, n - k, keep, kp, inv);
    carry = next;
  }
}

template <bool kMultiply>
void fused_ps(float* y, const float* x, int64_t n, uint64_t seed, uint64_t position,
              int32_t threshold, float keep_prob) {
  // Every group fused_ps computes lies in [group, group + n / 4 + 16).
  const uint64_t group = position >> 2;
  const Philox8 philox(seed, group, group + static_cast<uint64_t>(n / 4) + 16);
  if (philox.same_high())
    fused_ps<kMultiply, true>(philox, y, x, n, position, threshold, keep_prob);
  else
    fused_ps<kMultiply, false>(philox, y, x, n, position, threshold, keep_prob);
}

}  // namespace

void dropout_fused(float* y, const float* x, int64_t n, uint64_t seed, uint64_t position,
                   int32_t threshold, float keep_prob) {
  if (has_exact_reciprocal(keep_prob))
    return fused_ps<true>(y, x, n, seed, position, threshold, keep_prob);
  fused_ps<false>(y, x, n, seed, position, threshold, keep_prob);
}

}  // namespace ember::cpu::avx512
