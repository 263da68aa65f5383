// 2-D convolution (cross-correlation, as in PyTorch), forward and backward.
//
// x is (N, C, H, W), weight is (O, C/groups, KH, KW), bias is (O,), y is (N, O, OH, OW) with
//   OH = (H + 2*ph - dh*(KH-1) - 1) / sh + 1   (floor), likewise OW;
//   y[n, o, i, j] = bias[o] + sum_{c in group(o), kh, kw}
//                   weight[o, c - c0(o), kh, kw] * x[n, c, i*sh - ph + kh*dh, j*sw - pw + kw*dw]
// where x reads as zero outside the image. Channels split into `groups` equal groups; output
// channel o sees only the input channels of its group.
//
// conv2d_forward / conv2d_backward pick the algorithm: Winograd F(2x2, 3x3) for 3x3 stride-1
// layers with enough channels (conv2d_winograd.h), a direct kernel for float32 stride-1 layers
// with few channels on AVX2/AVX-512 (conv2d_direct.h; the forward pass and dweight vectorised over
// output channels when O is a multiple of the vector width, conv2d_direct_channels.h), im2col +
// GEMM otherwise (conv2d.cpp).
//
// Conventions (as in llm.c): outputs first, then inputs, then the shape. Backward WRITES the
// gradients it is given (a null pointer means "not needed").
#pragma once

#include <cstdint>

namespace ember::cpu {

struct Conv2dShape {
  int64_t N, C, H, W;  // input
  int64_t O, KH, KW;   // weight is (O, C/groups, KH, KW)
  int64_t sh, sw;      // stride
  int64_t ph, pw;      // zero padding
  int64_t dh, dw;      // dilation
  int64_t groups;
  int64_t OH, OW;      // output; fill with conv2d_output_size

  int64_t in_per_group() const { return C / groups; }
  int64_t out_per_group() const { return O / groups; }
  // Rows of the lowered input matrix per group: one per (channel of the group, kh, kw).
  int64_t col_rows_per_group() const { return C / groups * KH * KW; }
  int64_t out_plane() const { return OH * OW; }
};

// Output length along one axis, or a value <= 0 when the dilated kernel does not fit in the
// padded input.
int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                           int64_t dilation);

// DirectChannels: the direct kernels with the forward pass and dweight vectorised over output
// channels (conv2d_direct_channels.h), Direct: all over the output width.
enum class Conv2dAlgorithm { Im2col, Winograd, Direct, DirectChannels };

// What conv2d_forward and conv2d_backward run for this shape and element type on the active SIMD
// path.
template <typename T>
Conv2dAlgorithm conv2d_algorithm(const Conv2dShape& s);
// "im2col", "winograd", "direct" or "direct_channels".
const char* conv2d_algorithm_name(Conv2dAlgorithm a);

// bias may be null.
template <typename T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dShape& s);

// dinp (N, C, H, W), dweight (O, C/groups, KH, KW), dbias (O,): each may be null.
template <typename T>
void conv2d_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     const Conv2dShape& s);

}  // namespace ember::cpu
