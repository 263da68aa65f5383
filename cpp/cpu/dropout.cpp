#include "cpu/dropout.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "cpu/dropout_avx512.h"
#include "cpu/philox.h"
#include "cpu/runtime.h"

namespace ember::cpu {

namespace {

// One Philox call (10 rounds) serves 4 elements: about a dozen integer operations per element.
constexpr int64_t kCostPerElement = 12;
// Eight groups per vector step make that about one operation per element: a small tensor (a
// 64 x 256 activation) then stays on one thread, whose wake-up would cost more than the work.
constexpr int64_t kWideCostPerElement = 1;
// Words are generated a block at a time into a stack buffer, then applied in a plain loop the
// compiler vectorizes (the division in particular).
constexpr int64_t kGroupsPerBlock = 256;

// words[4 * j + lane] = word `lane` of group first_group + j. Positions wrap modulo 2^64, so
// groups wrap modulo 2^62. Generating the words is most of dropout's work: `wide` runs eight
// groups at once (dropout_avx512.cpp), with the same result.
void fill_words(uint32_t* words, int64_t groups, uint64_t seed, uint64_t first_group,
                [[maybe_unused]] bool wide) {
#ifdef EMBER_HAVE_AVX512_PATH
  if (wide) return avx512::philox_words(words, groups, seed, first_group);
#endif
  constexpr uint64_t kGroupMask = (uint64_t{1} << 62) - 1;
  for (int64_t j = 0; j < groups; ++j) {
    const philox::Counter c = philox::group_words(seed, (first_group + j) & kGroupMask);
    for (int lane = 0; lane < 4; ++lane) words[4 * j + lane] = c.w[lane];
  }
}

// Calls apply(begin, count, words) over [0, n) in blocks, with words[k] the Philox word of
// element begin + k. Blocks start at multiples of 4 in stream position, so each Philox call is
// made once and every element has one writer, whatever the thread count.
template <typename Apply>
void for_each_block(int64_t n, uint64_t seed, uint64_t offset, Apply apply) {
  if (n <= 0) return;
  const int64_t head = static_cast<int64_t>(offset & 3);  // element 0's lane in its group
  const uint64_t first_group = offset >> 2;
  const int64_t groups = static_cast<int64_t>((static_cast<uint64_t>(n) + head + 3) >> 2);
  const int64_t blocks = (groups + kGroupsPerBlock - 1) / kGroupsPerBlock;
  const bool wide = use_avx512();
  const int threads = threads_for(n * (wide ? kWideCostPerElement : kCostPerElement));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    uint32_t words[4 * kGroupsPerBlock];
    const int64_t g_begin = b * kGroupsPerBlock;
    const int64_t g_count = std::min(kGroupsPerBlock, groups - g_begin);
    fill_words(words, g_count, seed, first_group + g_begin, wide);
    const int64_t block_start = 4 * g_begin - head;  // element of words[0]; < 0 in block 0
    const int64_t begin = std::max<int64_t>(0, block_start);
    const int64_t end = std::min<int64_t>(n, block_start + 4 * g_count);
    apply(begin, end - begin, words + (begin - block_start));
  }
}

// u >= p with u = k * 2^-24 is k >= p * 2^24; p * 2^24 is exact in double, so comparing the
// 24-bit integer k against its ceiling is the same test without any rounding. p == 1 gives 2^24,
// which no k reaches. Both sides fit in int32, which vectorizes better than unsigned compares.
int32_t keep_threshold(double p) { return static_cast<int32_t>(std::ceil(std::ldexp(p, 24))); }

inline bool kept(uint32_t word, int32_t threshold) {
  return static_cast<int32_t>(philox::uniform24(word)) >= threshold;
}

template <typename T>
void apply_mask(T* out, const T* inp, int64_t n, double p, uint64_t seed, uint64_t offset) {
  if (p == 0.0) {
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = inp[i];
    return;
  }
  if (p >= 1.0) {
    // x * 0 rather than 0, so NaN and inf still propagate as in PyTorch.
#pragma omp parallel for num_threads(threads_for(n)) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = inp[i] * T(0);
    return;
  }
  const T keep_prob = static_cast<T>(1.0 - p);
  const int32_t threshold = keep_threshold(p);
  [[maybe_unused]] const bool wide = use_avx512();
#ifdef EMBER_HAVE_AVX512_PATH
  // float32 generates and applies the words in registers, block by block; a block's first and
  // last Philox groups may be shared with its neighbours, each computing the same words.
  if constexpr (std::is_same_v<T, float>) {
    if (wide && threshold < (int32_t{1} << 24)) {
      // Large enough that setting up the generator (its round keys) is a small share of a block.
      constexpr int64_t kBlock = 4096;
      const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(threads_for(n * kWideCostPerElement)) schedule(static)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t begin = b * kBlock, count = std::min(kBlock, n - begin);
        avx512::dropout_fused(out + begin, inp + begin, count, seed,
                              offset + static_cast<uint64_t>(begin), threshold, keep_prob);
      }
      return;
    }
  }
#endif
  for_each_block(n, seed, offset, [=](int64_t begin, int64_t count, const uint32_t* words) {
    const T* x = inp + begin;
    T* y = out + begin;
#ifdef EMBER_HAVE_AVX512_PATH
    // The compiler's version of the loop below is SSE2 (the baseline ISA of this file).
    if (wide) return avx512::dropout_apply(y, x, words, count, threshold, keep_prob);
#endif
    for (int64_t k = 0; k < count; ++k) {
      const T keep = kept(words[k], threshold) ? T(1) : T(0);  // a select, so it vectorizes
      y[k] = x[k] * keep / keep_prob;
    }
  });
}

}  // namespace

template <typename T>
void dropout_forward(T* out, const T* inp, int64_t n, double p, uint64_t seed, uint64_t offset) {
  apply_mask(out, inp, n, p, seed, offset);
}

template <typename T>
void dropout_backward(T* dinp, const T* dout, int64_t n, double p, uint64_t seed,
                      uint64_t offset) {
  apply_mask(dinp, dout, n, p, seed, offset);
}

template <typename T>
void dropout_mask(T* keep, int64_t n, double p, uint64_t seed, uint64_t offset) {
  const int32_t threshold = keep_threshold(p);
  for_each_block(n, seed, offset, [=](int64_t begin, int64_t count, const uint32_t* words) {
    T* k_out = keep + begin;
    for (int64_t k = 0; k < count; ++k) k_out[k] = kept(words[k], threshold) ? T(1) : T(0);
  });
}

#define EMBER_INSTANTIATE(T)                                                           \
  template void dropout_forward<T>(T*, const T*, int64_t, double, uint64_t, uint64_t);  \
  template void dropout_backward<T>(T*, const T*, int64_t, double, uint64_t, uint64_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

template void dropout_mask<float>(float*, int64_t, double, uint64_t, uint64_t);
template void dropout_mask<double>(double*, int64_t, double, uint64_t, uint64_t);
template void dropout_mask<uint8_t>(uint8_t*, int64_t, double, uint64_t, uint64_t);

}  // namespace ember::cpu
