// AVX2+FMA float32 paths of the activation and softmax kernels (activation_avx2.cpp), on
// contiguous ranges. Call only when ember::use_avx2() in a build that
// defines EMBER_HAVE_AVX2_PATH; the portable loops in activation.cpp and softmax_rows.cpp are
// the reference for each.
#pragma once

#include <cstdint>
#include <type_traits>

#include "cpu/runtime.h"

namespace ember::cpu::avx2 {

#ifdef EMBER_HAVE_AVX2_PATH
inline constexpr bool kBuilt = true;
#else
inline constexpr bool kBuilt = false;
#endif
// Kernels on T dispatch with `if constexpr (avx2::candidate<T>) if (avx2::active()) ...`: the
// discarded branch is never instantiated, so builds without the AVX2 file still link.
template <typename T>
inline constexpr bool candidate = kBuilt && std::is_same_v<T, float>;
inline bool active() { return use_avx2(); }

// max(x[0..n)), ignoring NaN like the scalar `x > m ? x : m`; -inf for n == 0.
float row_max(const float* x, int64_t n);
// sum_j exp(x[j] - shift), accumulated in double in a fixed lane order; the exps are also
// written to out unless out is null.
double exp_shifted_sum(float* out, const float* x, float shift, int64_t n);
// dinp = dout - exp(y) * s over one log_softmax row.
void log_softmax_backward_row(float* dinp, const float* dout, const float* y, float s, int64_t n);

void sigmoid_forward(float* out, const float* x, int64_t n);
void tanh_forward(float* out, const float* x, int64_t n);
// GELU, exact (erf) form: x Phi(x), and dout (Phi(x) + x phi(x)).
void gelu_exact_forward(float* out, const float* x, int64_t n);
void gelu_exact_backward(float* dinp, const float* dout, const float* x, int64_t n);
// GELU's tanh form (approximate = true) and its derivative times dout.
void gelu_tanh_forward(float* out, const float* x, int64_t n);
void gelu_tanh_backward(float* dinp, const float* dout, const float* x, int64_t n);

}  // namespace ember::cpu::avx2
