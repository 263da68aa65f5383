// AVX-512F float32 path of the SGD step (optim_avx512.cpp; Adam runs optim_avx2.cpp's). Call
// only when use_avx512() in a build that defines EMBER_HAVE_AVX512_PATH.
// optim.cpp's portable loop is the reference, and this repeats its roundings operation for
// operation: the results are the same bit for bit.
#pragma once

#include <cstdint>

#include "cpu/optim.h"

namespace ember::cpu::avx512 {

// sgd_step over element range [0, n) of the arrays; momentum_buffer may be null without
// momentum, as there.
void sgd_range(float* param, float* momentum_buffer, const float* grad, int64_t n,
               const SgdOptions& opt);

}  // namespace ember::cpu::avx512
