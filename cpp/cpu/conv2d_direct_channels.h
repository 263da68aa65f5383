// Direct float32 convolution vectorised over OUTPUT CHANNELS, for the forward pass and dweight of
// layers whose output channel count is a multiple of the vector width (16 on AVX-512, 8 on AVX2).
// Shapes and semantics are those of conv2d.h.
//
// Why: the width-vectorised kernels (conv2d_direct_kernel.h) fill a vector with one output row,
// which wastes lanes on narrow outputs: LeNet's second layer (10x10 outputs) uses 10 of 16
// AVX-512 lanes. With O % lanes == 0 every lane holds a real output channel whatever the image
// size, at the price of a transpose between the (pixel, channel) layout of the kernels and the
// (channel, pixel) layout of y and dout. dinp keeps the width-vectorised kernel: its "output
// channels" are the input channels (1-6 in these layers), too few to fill a vector.
// How the kernels work: conv2d_direct_channels_kernel.h.
#pragma once

#include <cstdint>

#include "cpu/conv2d.h"

namespace ember::cpu {

// True when direct_applies(s) holds on an AVX2/AVX-512 CPU and s.O is a multiple of the active
// path's vector width: then direct_conv2d_forward and dweight run the kernels declared here.
bool direct_channels_applies(const Conv2dShape& s);

// bias may be null.
void direct_channels_forward(float* out, const float* inp, const float* weight, const float* bias,
                             const Conv2dShape& s);

// dweight (O, C, KH, KW), written.
void direct_channels_weight_gradient(float* dweight, const float* dout, const float* inp,
                                     const Conv2dShape& s);

namespace direct_detail {

// One image, zero-padded: xp is (C, Hp, Wp) with Hp = OH + KH - 1 and Wp = OW + KW - 1 (unit
// stride: the padding is folded into the image). P = OH * OW output pixels.
struct ChannelPlan {
  int64_t C, KH, KW, OH, OW;
  int64_t Hp, Wp;
};

// A block of weight-gradient taps: input channel c, kernel rows kh0 .. kh0+rows-1, columns
// kw0 .. kw0+cols-1, of one vector of output channels.
struct TapBlock {
  int64_t c, kh0, kw0;
  int rows, cols;
};

// The kernels of one instruction set; L = lanes. Layouts: "rows" (count, L) hold one vector of L
// channels per pixel or tap, "planes" (L, ld) one row per channel.
struct ChannelKernels {
  int lanes;
  // The largest tap block weight_taps takes (rows x cols <= accumulators).
  int max_rows, max_cols, accumulators;
  // yt (P, L) = correlation of xp with the L output channels whose weights wt are packed as
  // (C*KH*KW taps, L): yt[p][l] = sum_t wt[t][l] * xp[pixel p + offset of tap t].
  void (*forward_rows)(float* yt, const float* xp, const float* wt, const ChannelPlan& p);
  // dst[l * dst_ld + q] = src[q * L + l] + (add ? add[l] : 0), q < count, l < L.
  void (*planes_from_rows)(float* dst, int64_t dst_ld, const float* src, int64_t count,
                           const float* add);
  // dst[q * L + l] = src[l * src_ld + q], q < count, l < L.
  void (*rows_from_planes)(float* dst, const float* src, int64_t src_ld, int64_t count);
  // dwt[t][l] += sum_p xp[pixel p + offset of tap t] * dyt[p][l] for the taps t of b, dwt being
  // (C*KH*KW, L) and dyt (P, L). Pixels are summed in order, so dwt is the same whichever thread
  // runs the block.
  void (*weight_taps)(float* dwt, const float* dyt, const float* xp, const ChannelPlan& p,
                      const TapBlock& b);
};

ChannelKernels channel_kernels_avx512();
ChannelKernels channel_kernels_avx2();

}  // namespace direct_detail

}  // namespace ember::cpu
