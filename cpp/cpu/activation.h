// Element-wise activations and last-axis softmax, forward and backward.
//
// Conventions (as in llm.c): outputs first, then inputs, then sizes. Element-wise kernels see
// the tensor as a flat array of n elements. Backward kernels write (not accumulate) the input
// gradient `dinp`; autograd does the accumulation.
#pragma once

#include <cstdint>

namespace ember::cpu {

template <typename T>
void relu_forward(T* out, const T* inp, int64_t n);
// dinp = dout where inp > 0, else 0 (PyTorch's convention: zero gradient at inp == 0).
template <typename T>
void relu_backward(T* dinp, const T* dout, const T* inp, int64_t n);

}  // namespace ember::cpu
