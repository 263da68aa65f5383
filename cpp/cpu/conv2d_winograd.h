// 3x3 convolutions with unit stride by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015).
//
// Each 2x2 tile of an output channel is A^T [ (G g G^T) . (B^T d B) ] A, where g is a 3x3 filter,
// d the 4x4 input tile under it and . the element-wise product: 16 multiplies instead of 36.
// Summed over input channels, each of the 16 elements of the 4x4 transformed tile is one matrix
// product (O x C) @ (C x tiles), so a layer becomes 16 GEMMs with 2.25x fewer flops than im2col,
// plus cheap linear tile transforms. The transforms use only +, - and * 0.5, so float32 keeps
// nearly the accuracy of the direct sum.
//
// Shapes and semantics are those of conv2d.h; these kernels are chosen by conv2d_forward /
// conv2d_backward when winograd_applies(s).
#pragma once

#include "cpu/conv2d.h"

namespace ember::cpu {

// 3x3 kernel, stride 1, dilation 1, groups 1, padding <= 2 (so that dinp, a convolution of dout
// with padding 2 - p, is one too), and at least 16 input and output channels: below that the tile
// transforms cost more than the multiplies they save.
bool winograd_applies(const Conv2dShape& s);

template <typename T>
void winograd_conv2d_forward(T* out, const T* inp, const T* weight, const T* bias,
                             const Conv2dShape& s);

template <typename T>
void winograd_conv2d_backward_input(T* dinp, const T* dout, const T* weight, const Conv2dShape& s);

template <typename T>
void winograd_conv2d_backward_weight(T* dweight, const T* dout, const T* inp,
                                     const Conv2dShape& s);

}  // namespace ember::cpu
