// AVX-512F float32 paths of the softmax rows, sigmoid and ReLU (activation_avx512.cpp): the same
// arithmetic as activation_avx2.h's on 16 lanes. Call only when
// ember::use_avx512() in a build that defines EMBER_HAVE_AVX512_PATH; the
// portable loops in activation.cpp and softmax_rows.cpp are the reference for each.
#pragma once

#include <cstdint>
#include <type_traits>

#include "cpu/runtime.h"

namespace ember::cpu::avx512 {

#ifdef EMBER_HAVE_AVX512_PATH
inline constexpr bool kBuilt = true;
#else
inline constexpr bool kBuilt = false;
#endif
// Dispatch as with avx2::candidate: `if constexpr (avx512::candidate<T>) if (avx512::active())`.
template <typename T>
inline constexpr bool candidate = kBuilt && std::is_same_v<T, float>;
inline bool active() { return use_avx512(); }

// max(x[0..n)), ignoring NaN like the scalar `x > m ? x : m`; -inf for n == 0.
float row_max(const float* x, int64_t n);
// sum_j exp(x[j] - shift) in a fixed order (chunks of 64 summed in float, chunks and the rest
// in double); the exps are also written to out unless out is null. Prefetches the n floats that
// follow the row (the next row) while it computes.
double exp_shifted_sum(float* out, const float* x, float shift, int64_t n);
// y[j] *= a.
void scale_row(float* y, float a, int64_t n);
// dinp = dout - exp(y) * s over one log_softmax row.
void log_softmax_backward_row(float* dinp, const float* dout, const float* y, float s, int64_t n);

void sigmoid_forward(float* out, const float* x, int64_t n);
// out = x < 0 ? 0 : x and dinp = x <= 0 ? 0 : dout, as the portable loops (NaN and -0 included).
void relu_forward(float* out, const float* x, int64_t n);
void relu_backward(float* dinp, const float* dout, const float* x, int64_t n);

}  // namespace ember::cpu::avx512
