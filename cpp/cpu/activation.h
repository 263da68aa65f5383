// Element-wise activations and last-axis softmax, forward and backward.
//
// Conventions (as in llm.c): outputs first, then inputs, then sizes. Element-wise kernels see
// the tensor as a flat array of n elements. The softmax family sees a tensor of any ndim >= 1 as
// (rows, cols) with cols = its last dimension, and normalises each row; rows run in parallel.
// Backward kernels write (not accumulate) the input gradient `dinp`; autograd does the
// accumulation. Where a backward takes `out` it is the forward's output, which gives the
// derivative more cheaply (and, for sigmoid, more stably) than recomputing it from the input.
#pragma once

#include <cstdint>

namespace ember::cpu {

// out = inp < 0 ? 0 : inp, PyTorch's clamp_min(0): NaN stays NaN (a diverging model must not
// have its NaNs hidden by the next ReLU) and -0 stays -0.
template <typename T>
void relu_forward(T* out, const T* inp, int64_t n);
// dinp = inp <= 0 ? 0 : dout (PyTorch's threshold_backward): zero gradient at inp == 0, and
// dout passes through where inp is NaN.
template <typename T>
void relu_backward(T* dinp, const T* dout, const T* inp, int64_t n);

// out = inp > 0 ? inp : negative_slope * inp; the slope also applies at inp == 0 (as PyTorch).
template <typename T>
void leaky_relu_forward(T* out, const T* inp, int64_t n, T negative_slope);
template <typename T>
void leaky_relu_backward(T* dinp, const T* dout, const T* inp, int64_t n, T negative_slope);

// out = 1 / (1 + exp(-inp)); exact 0 and 1 in the far tails, never NaN for finite input.
template <typename T>
void sigmoid_forward(T* out, const T* inp, int64_t n);
// dinp = dout * out * (1 - out).
template <typename T>
void sigmoid_backward(T* dinp, const T* dout, const T* out, int64_t n);

template <typename T>
void tanh_forward(T* out, const T* inp, int64_t n);
// dinp = dout * (1 - out^2).
template <typename T>
void tanh_backward(T* dinp, const T* dout, const T* out, int64_t n);

// PyTorch's two GELU forms (torch.nn.functional.gelu):
//   approximate = false: out = x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2)))           (exact)
//   approximate = true:  out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))    ("tanh")
// The backward differentiates the chosen form exactly.
template <typename T>
void gelu_forward(T* out, const T* inp, int64_t n, bool approximate);
template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, int64_t n, bool approximate);

// out[r, :] = exp(inp[r, :] - max_r) / sum(exp(inp[r, :] - max_r)). Entries equal to -inf get
// probability 0; a row that is entirely -inf gives NaN, as in PyTorch.
template <typename T>
void softmax_forward(T* out, const T* inp, int64_t rows, int64_t cols);
// dinp = out * (dout - sum_row(dout * out)).
template <typename T>
void softmax_backward(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols);

// out[r, :] = (inp[r, :] - max_r) - log(sum(exp(inp[r, :] - max_r))); -inf entries stay -inf.
template <typename T>
void log_softmax_forward(T* out, const T* inp, int64_t rows, int64_t cols);
// dinp = dout - exp(out) * sum_row(dout).
template <typename T>
void log_softmax_backward(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols);

}  // namespace ember::cpu
