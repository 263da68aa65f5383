// The output-channel-vectorised direct convolution kernels (contracts: ChannelKernels in
// conv2d_direct_channels.h), written once over the vector-traits struct S of
// conv2d_direct_avx512.cpp (16 lanes) and conv2d_direct_avx2.cpp (8 lanes).
//
// Each vector holds L = S::kLanes output channels of one pixel (forward) or one tap (dweight), so
// every lane does useful work whatever the output width. A scalar of the image is broadcast and
// multiplied into it: on AVX-512 the broadcast folds into the FMA as a memory operand ({1to16}),
// one fused uop.
//
// Forward: a tile of R <= S::kTile consecutive pixels of one output row keeps R accumulators;
// per tap (c, kh, kw) one vector load of the packed weights and R broadcast-FMAs, each reading
// the padded image at (c, i + kh, j + kw). The tile's pixels are contiguous in the image, so all
// R reads share one pointer and differ by a constant displacement. A row is cut into equal
// tiles (10 -> 10, 28 -> 14 + 14, 30 -> 10 + 10 + 10 on AVX-512) so that no tile is left with
// too few accumulators to hide the FMA latency.
//
// dweight: a block of taps (one input channel, up to S::kChanRows kernel rows x S::kChanCols
// columns, at most S::kChanAcc accumulators) sweeps the pixels of one image: per pixel one
// vector load of the transposed output gradient and one broadcast-FMA per tap. The image and its
// transposed gradient (a few KB each) stay in L1 while every block of the image runs.
//
// Everything here is in an unnamed namespace, as in conv2d_direct_kernel.h: each including file
// gets its own copy compiled for its own instruction set.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "cpu/conv2d_direct_channels.h"

namespace ember::cpu::direct_detail {
namespace {

#define EMBER_UNROLL _Pragma("GCC unroll 32")

// yt[r] for the R pixels whose image reads start at x (row i, column j0 of the padded image).
template <class S, int R>
void forward_tile(float* yt, const float* x, const float* wt, const ChannelPlan& p) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  V acc[R];
  EMBER_UNROLL for (int r = 0; r < R; ++r) acc[r] = S::zero();
  const int64_t plane = p.Hp * p.Wp;
  const float* w = wt;
  for (int64_t c = 0; c < p.C; ++c) {
    for (int64_t kh = 0; kh < p.KH; ++kh) {
      const float* xr = x + c * plane + kh * p.Wp;
      for (int64_t kw = 0; kw < p.KW; ++kw, w += L) {
        const V wv = S::loadu(w);
        EMBER_UNROLL for (int r = 0; r < R; ++r)
          acc[r] = S::fmadd(S::set1(xr[kw + r]), wv, acc[r]);
      }
    }
  }
  EMBER_UNROLL for (int r = 0; r < R; ++r) S::storeu(yt + r * L, acc[r]);
}

template <class S>
using ForwardTile = void (*)(float*, const float*, const float*, const ChannelPlan&);

template <class S, int... R>
constexpr std::array<ForwardTile<S>, sizeof...(R)> forward_tiles(std::integer_sequence<int, R...>) {
  return {&forward_tile<S, R + 1>...};
}

template <class S>
void forward_rows(float* yt, const float* xp, const float* wt, const ChannelPlan& p) {
  static constexpr auto tiles_by_width =
      forward_tiles<S>(std::make_integer_sequence<int, S::kTile>());
  const int64_t tiles = (p.OW + S::kTile - 1) / S::kTile;
  const int64_t width = (p.OW + tiles - 1) / tiles;
  for (int64_t i = 0; i < p.OH; ++i)
    for (int64_t j0 = 0; j0 < p.OW; j0 += width) {
      const int64_t r = p.OW - j0 < width ? p.OW - j0 : width;
      tiles_by_width[r - 1](yt + (i * p.OW + j0) * S::kLanes, xp + i * p.Wp + j0, wt, p);
    }
}

template <class S>
void planes_from_rows(float* dst, int64_t dst_ld, const float* src, int64_t count,
                      const float* add) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  for (int64_t q0 = 0; q0 < count; q0 += L) {
    const int n = static_cast<int>(count - q0 < L ? count - q0 : L);
    V r[L];
    EMBER_UNROLL for (int q = 0; q < L; ++q) {
      r[q] = q < n ? S::loadu(src + (q0 + q) * L) : S::zero();
    }
    S::transpose(r);
    const auto mask = S::tail_mask(n);
    EMBER_UNROLL for (int l = 0; l < L; ++l) {
      const V v = add ? S::add(r[l], S::set1(add[l])) : r[l];
      if (n == L)
        S::storeu(dst + l * dst_ld + q0, v);
      else
        S::mask_storeu(dst + l * dst_ld + q0, mask, v);
    }
  }
}

template <class S>
void rows_from_planes(float* dst, const float* src, int64_t src_ld, int64_t count) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  for (int64_t q0 = 0; q0 < count; q0 += L) {
    const int n = static_cast<int>(count - q0 < L ? count - q0 : L);
    const auto mask = S::tail_mask(n);
    V r[L];
    EMBER_UNROLL for (int l = 0; l < L; ++l) {
      r[l] = n == L ? S::loadu(src + l * src_ld + q0) : S::maskz_loadu(mask, src + l * src_ld + q0);
    }
    S::transpose(r);
    EMBER_UNROLL for (int q = 0; q < L; ++q) {
      if (q < n) S::storeu(dst + (q0 + q) * L, r[q]);
    }
  }
}

template <class S, int A, int B>
void weight_taps(float* dwt, const float* dyt, const float* xp, const ChannelPlan& p,
                 const TapBlock& b) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  float* d = dwt + ((b.c * p.KH + b.kh0) * p.KW + b.kw0) * L;
  V acc[A][B];
  EMBER_UNROLL for (int a = 0; a < A; ++a)
    EMBER_UNROLL for (int k = 0; k < B; ++k) acc[a][k] = S::loadu(d + (a * p.KW + k) * L);
  const float* x0 = xp + (b.c * p.Hp + b.kh0) * p.Wp + b.kw0;
  for (int64_t i = 0; i < p.OH; ++i) {
    const float* xr = x0 + i * p.Wp;
    const float* g = dyt + i * p.OW * L;
    for (int64_t j = 0; j < p.OW; ++j) {
      const V gv = S::loadu(g + j * L);
      EMBER_UNROLL for (int a = 0; a < A; ++a)
        EMBER_UNROLL for (int k = 0; k < B; ++k)
          acc[a][k] = S::fmadd(S::broadcast(xr + a * p.Wp + j + k), gv, acc[a][k]);
    }
  }
  EMBER_UNROLL for (int a = 0; a < A; ++a)
    EMBER_UNROLL for (int k = 0; k < B; ++k) S::storeu(d + (a * p.KW + k) * L, acc[a][k]);
}

using WeightTaps = void (*)(float*, const float*, const float*, const ChannelPlan&,
                            const TapBlock&);

template <class S, int A, int... B>
constexpr std::array<WeightTaps, sizeof...(B)> weight_taps_row(std::integer_sequence<int, B...>) {
  // Blocks wider than kChanAcc / A never run (the driver sizes them): share a smaller kernel.
  return {&weight_taps<S, A, (B + 1 < S::kChanAcc / A ? B + 1 : S::kChanAcc / A)>...};
}

template <class S, int... A>
constexpr std::array<std::array<WeightTaps, S::kChanCols>, sizeof...(A)> weight_taps_table(
    std::integer_sequence<int, A...>) {
  return {weight_taps_row<S, A + 1>(std::make_integer_sequence<int, S::kChanCols>())...};
}

template <class S>
void weight_taps_any(float* dwt, const float* dyt, const float* xp, const ChannelPlan& p,
                     const TapBlock& b) {
  static constexpr auto table =
      weight_taps_table<S>(std::make_integer_sequence<int, S::kChanRows>());
  table[b.rows - 1][b.cols - 1](dwt, dyt, xp, p, b);
}

template <class S>
ChannelKernels channel_kernels() {
  return {S::kLanes,           S::kChanRows,           S::kChanCols,         S::kChanAcc,
          &forward_rows<S>,    &planes_from_rows<S>,   &rows_from_planes<S>, &weight_taps_any<S>};
}

#undef EMBER_UNROLL

}  // namespace
}  // namespace ember::cpu::direct_detail
