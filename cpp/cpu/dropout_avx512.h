// AVX-512F Philox4x32-10 word generation for dropout (dropout_avx512.cpp). Call only when
// ember::active_simd() == SimdPath::Avx512 in a build that defines EMBER_HAVE_AVX512_PATH;
// cpu/philox.h is the reference and the words are bitwise the same.
#pragma once

#include <cstdint>

namespace ember::cpu::avx512 {

// words[4 * j + lane] = word `lane` of Philox group (first_group + j) mod 2^62 under `seed`,
// for j in [0, groups).
void philox_words(uint32_t* words, int64_t groups, uint64_t seed, uint64_t first_group);

}  // namespace ember::cpu::avx512
