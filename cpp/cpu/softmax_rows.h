// Row primitives shared by the softmax family (activation.cpp) and cross entropy (loss.cpp):
// a row's max and its shifted exponential sum. float rows take the widest
// active vector path (AVX-512 or AVX2).
#pragma once

#include <cstdint>

namespace ember::cpu {

// max_j x[j], ignoring NaN entries; -inf for an empty row.
template <typename T>
T row_max(const T* x, int64_t n);

// sum_j exp(x[j] - shift), returned in double (float rows: within a few float32 roundings of
// the exact sum at any length); writes exp(x[j] - shift) to out[j] unless out is null. With
// shift = row_max(x) every exponent is <= 0, so nothing overflows.
template <typename T>
double exp_shifted_sum(T* out, const T* x, T shift, int64_t n);

// y[j] *= a over one row (the normalisation of softmax and cross entropy's gradient).
template <typename T>
void scale_row(T* y, T a, int64_t n);

}  // namespace ember::cpu
