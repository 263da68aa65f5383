// Direct float32 convolution for layers with few channels (LeNet/CIFAR-sized): no lowering
// buffer, SIMD over the output width. Shapes and semantics are those of conv2d.h; these kernels
// are chosen by conv2d_forward / conv2d_backward when direct_applies(s) on an AVX2 or AVX-512 CPU.
// How they work: conv2d_direct_kernel.h. When the output channels fill whole vectors, the forward
// pass and dweight hand over to the channel-vectorised kernels (conv2d_direct_channels.h).
#pragma once

#include <cstdint>

#include "cpu/conv2d.h"

namespace ember::cpu {

// Unit stride and dilation, one group, padding <= kernel - 1 on each axis (so the input gradient
// is a convolution of the output gradient with the same kind of padding), few enough channels
// that lowering costs more than it saves, and bounded scratch (conv2d_direct.cpp says why).
bool direct_applies(const Conv2dShape& s);

// True when the active SIMD path has direct kernels (AVX2 or AVX-512).
bool direct_available();

// bias may be null.
void direct_conv2d_forward(float* out, const float* inp, const float* weight, const float* bias,
                           const Conv2dShape& s);

// dinp (N, C, H, W) and dweight (O, C, KH, KW); either may be null.
void direct_conv2d_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                            const float* weight, const Conv2dShape& s);

namespace direct_detail {

// Output channels per register block; packed weights group them (see pack_weights).
constexpr int kOutBlock = 4;
// Widest vector of any path: padded rows are sized for it, so one layout serves every path.
constexpr int64_t kMaxLanes = 16;

// One correlation of a zero-padded input xp (Ci, Hp, Wpa) with weights (Co, Ci, KH, KW):
//   y[o, i, j] = bias[o] + sum_{c, kh, kw} w[o, c, kh, kw] * xp[c, i + kh, j + kw],
// y is (Co, OH, OW), Hp = OH + KH - 1, and rows of xp are readable (and zero past the image) up
// to round_up(OW, kMaxLanes) + KW - 1 columns.
struct Plan {
  int64_t Ci, Co, KH, KW;
  int64_t OH, OW;
  int64_t Hp, Wpa;    // rows and row stride of xp
  int64_t top, rows;  // rows top .. top+rows-1 of xp hold the image, the others are zero
};

// The weight gradient of one work item: output channels o0 .. o0+bo-1 (bo <= kOutBlock), input
// channel c, kernel row kh, every kw:
//   dw[b * C*KH*KW + kw] = sum_{n, i < OH, j < OW} dy[n, o0 + b, i, j] * xp[n, c, i + kh, j + kw]
// with dw pointing at dweight[o0, c, kh, 0] and xp at the padded batch (N, C, Hp, Wpa) at
// [0, c, kh, 0]. dy is packed by blocks of kOutBlock output channels, rows of OWp =
// round_up(OW, kMaxLanes) (zero past OW): (N, blocks, OH, kOutBlock, OWp), pointing at block o0.
struct WeightItem {
  int64_t N, C, KH, KW;
  int64_t OH, OW, OWp;
  int64_t dy_image;  // blocks * OH * kOutBlock * OWp
  int64_t Hp, Wpa;
  int bo;
};

// wpacked: per block of kOutBlock output channels starting at o0 (bo of them, fewer in the last
// block), bo * Ci*KH*KW values at wpacked + o0 * Ci*KH*KW ordered (c, kh, kw, b).
void correlate_image_avx512(float* y, const float* xp, const float* wpacked, const float* bias,
                            const Plan& p);
void correlate_image_avx2(float* y, const float* xp, const float* wpacked, const float* bias,
                          const Plan& p);
void weight_item_avx512(float* dw, const float* dy, const float* xp, const WeightItem& w);
void weight_item_avx2(float* dw, const float* dy, const float* xp, const WeightItem& w);

}  // namespace direct_detail

}  // namespace ember::cpu
