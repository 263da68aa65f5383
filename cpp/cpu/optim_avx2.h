// AVX2 float32 paths of the SGD and Adam steps (optim_avx2.cpp). Call
// only when use_avx2() in a build that defines EMBER_HAVE_AVX2_PATH. optim.cpp's portable loops
// are the reference, and these repeat their roundings operation for operation: the results are
// the same bit for bit.
#pragma once

#include <cstdint>

#include "cpu/optim.h"

namespace ember::cpu::avx2 {

// sgd_step and adam_step over element range [0, n) of the arrays; the buffers a step does not
// use may be null, as there.
void sgd_range(float* param, float* momentum_buffer, const float* grad, int64_t n,
               const SgdOptions& opt);
void adam_range(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
                const float* grad, int64_t n, const AdamOptions& opt);

}  // namespace ember::cpu::avx2
