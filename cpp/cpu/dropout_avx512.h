// AVX-512F Philox4x32-10 word generation and mask application for dropout
// (dropout_avx512.cpp). Call only when
// ember::use_avx512() in a build that defines EMBER_HAVE_AVX512_PATH;
// cpu/philox.h is the reference and the words are bitwise the same.
#pragma once

#include <cstdint>

namespace ember::cpu::avx512 {

// words[4 * j + lane] = word `lane` of Philox group (first_group + j) mod 2^62 under `seed`,
// for j in [0, groups).
void philox_words(uint32_t* words, int64_t groups, uint64_t seed, uint64_t first_group);

// y[k] = x[k] * keep[k] / keep_prob for k in [0, n), keep[k] = 1 when (words[k] >> 8) >= threshold
// and 0 otherwise: dropout.cpp's apply loop with the same operations, so the same bits (x * 0
// keeps the sign of zero and propagates NaN and inf; vdivps is IEEE division like the scalar one).
void dropout_apply(float* y, const float* x, const uint32_t* words, int64_t n, int32_t threshold,
                   float keep_prob);
void dropout_apply(double* y, const double* x, const uint32_t* words, int64_t n,
                   int32_t threshold, double keep_prob);

// dropout_apply's y for elements at stream positions position .. position + n - 1 under `seed`,
// with the words generated in registers instead of read from memory. Requires threshold < 2^24
// (threshold 2^24, nothing kept, does not fit the fused compare of w against threshold * 2^8).
void dropout_fused(float* y, const float* x, int64_t n, uint64_t seed, uint64_t position,
                   int32_t threshold, float keep_prob);

}  // namespace ember::cpu::avx512
