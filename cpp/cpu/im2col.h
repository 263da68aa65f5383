// Lowering a convolution to a matrix product, one image at a time.
//
// For one image (C, H, W) the lowered matrix `col` is (C*KH*KW, OH*OW), row-major:
//   col[(c*KH + kh)*KW + kw, i*OW + j] = x[c, i*sh - ph + kh*dh, j*sw - pw + kw*dw]  (0 outside)
// so the convolution of that image is weight (O, C*KH*KW) @ col, and a group's rows are
// contiguous. col2im is the adjoint: it sums every column entry back onto the pixel it was read
// from.
#pragma once

#include "cpu/conv2d.h"

namespace ember::cpu {

// col is written completely (padding entries get 0).
template <typename T>
void im2col(T* col, const T* img, const Conv2dShape& s);

// img (C, H, W) is written completely: zeroed, then every col entry added to its source pixel.
template <typename T>
void col2im(T* img, const T* col, const Conv2dShape& s);

}  // namespace ember::cpu
