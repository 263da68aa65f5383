// The direct convolution kernels, written once over a vector-traits struct S and included by
// conv2d_direct_avx512.cpp (16 lanes) and conv2d_direct_avx2.cpp (8 lanes). Contracts: Plan and
// WeightItem in conv2d_direct.h.
//
// Why direct: below a few hundred (C*KH*KW) rows, im2col + GEMM spends its time building and
// packing the lowered matrix (and scattering it back for dinp), not multiplying. Here nothing is
// lowered: the image lives zero-padded in a small scratch that stays in L1, and each FMA takes a
// row of the input straight from it.
//
// Forward (and dinp, the same correlation of the padded output gradient with the flipped,
// transposed kernel): SIMD over the output width. A register block is kOutBlock output channels x
// S::kRows output rows x one S::kLanes-wide column chunk. For each (c, kh, kw) it loads kRows
// input rows (unaligned, at column j + kw) and broadcasts kOutBlock weights: kOutBlock * kRows
// FMAs per kOutBlock + kRows loads. Accumulators start from the bias and are stored once, masked
// in the last column chunk. Full-width loads past the image read the zero padding of the scratch,
// and the lanes they feed are never stored.
//
// dweight: for fixed (c, kh) and a block of output channels, one vector accumulator per
// (output channel, kw) sums dy[n, o, i, j:j+L] * xp[n, c, i+kh, j+kw : j+kw+L] over the batch
// and rows; one horizontal sum at the end. Lanes past the output width never reach the
// accumulators (masked FMAs, or zeroing masked loads of both operands on AVX2): they pair a value
// of the next dy row with an input pixel that no valid window of that tap reaches, and an inf
// there would make the sum NaN.
//
// Everything here is in an unnamed namespace: each including file gets its own copy, compiled for
// its own instruction set, which the linker can never hand to a caller on another path.
#pragma once

#include <cstdint>

#include "cpu/conv2d_direct.h"

namespace ember::cpu::direct_detail {
namespace {

// Fixed-size loops over register blocks: fully unrolled, so the accumulators stay in registers.
#define EMBER_UNROLL _Pragma("GCC unroll 16")

// One load per input row, shared by every output channel of the block: with two channels GCC
// folded the load into both FMAs instead, twice the loads, most of them unaligned and split
// across two cache lines (the 6-channel layers' dinp and forward ran 10-33% slower).
template <class V>
inline void keep_in_register(V& v) {
#if defined(__GNUC__) || defined(__clang__)
  asm("" : "+v"(v));
#else
  (void)v;
#endif
}

// Kernel rows kh0 .. kh1-1 only: the others read nothing but zero padding for these output rows.
inline int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

template <class S, int BO, int BR>
void forward_block(float* y, const float* xp, const float* w, const float* bias, const Plan& p,
                   int64_t ow_valid, int64_t kh0, int64_t kh1) {
  using V = typename S::V;
  V acc[BO][BR];
  EMBER_UNROLL for (int b = 0; b < BO; ++b) {
    const V init = bias ? S::set1(bias[b]) : S::zero();
    EMBER_UNROLL for (int r = 0; r < BR; ++r) acc[b][r] = init;
  }
  const int64_t plane = p.Hp * p.Wpa, ld = p.Wpa;
  for (int64_t c = 0; c < p.Ci; ++c) {
    for (int64_t kh = kh0; kh < kh1; ++kh) {
      const float* row = xp + c * plane + kh * ld;
      const float* wk = w + (c * p.KH + kh) * p.KW * BO;
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        V xv[BR];
        EMBER_UNROLL for (int r = 0; r < BR; ++r) {
          xv[r] = S::loadu(row + r * ld + kw);
          keep_in_register(xv[r]);
        }
        EMBER_UNROLL for (int b = 0; b < BO; ++b) {
          const V wv = S::set1(wk[kw * BO + b]);
          EMBER_UNROLL for (int r = 0; r < BR; ++r) acc[b][r] = S::fmadd(wv, xv[r], acc[b][r]);
        }
      }
    }
  }
  const int64_t yplane = p.OH * p.OW;
  if (ow_valid >= S::kLanes) {
    EMBER_UNROLL for (int b = 0; b < BO; ++b)
      EMBER_UNROLL for (int r = 0; r < BR; ++r) S::storeu(y + b * yplane + r * p.OW, acc[b][r]);
  } else {
    const auto mask = S::tail_mask(static_cast<int>(ow_valid));
    EMBER_UNROLL for (int b = 0; b < BO; ++b)
      EMBER_UNROLL for (int r = 0; r < BR; ++r)
        S::mask_storeu(y + b * yplane + r * p.OW, mask, acc[b][r]);
  }
}

template <class S>
using ForwardBlock = void (*)(float*, const float*, const float*, const float*, const Plan&,
                              int64_t, int64_t, int64_t);

template <class S, int BO>
ForwardBlock<S> forward_block_rows(int rows) {
  static_assert(S::kRows >= 1 && S::kRows <= 4, "forward_block_rows covers 1 .. 4 rows");
  constexpr int r2 = S::kRows < 2 ? S::kRows : 2, r3 = S::kRows < 3 ? S::kRows : 3;
  switch (rows) {
    case 1: return &forward_block<S, BO, 1>;
    case 2: return &forward_block<S, BO, r2>;
    case 3: return &forward_block<S, BO, r3>;
    default: return &forward_block<S, BO, S::kRows>;
  }
}

template <class S>
ForwardBlock<S> forward_block_for(int out_channels, int rows) {
  static_assert(kOutBlock == 4, "forward_block_for covers up to 4 output channels");
  switch (out_channels) {
    case 1: return forward_block_rows<S, 1>(rows);
    case 2: return forward_block_rows<S, 2>(rows);
    case 3: return forward_block_rows<S, 3>(rows);
    default: return forward_block_rows<S, 4>(rows);
  }
}

template <class S>
void correlate_image(float* y, const float* xp, const float* wpacked, const float* bias,
                     const Plan& p) {
  const int64_t K = p.Ci * p.KH * p.KW, yplane = p.OH * p.OW;
  for (int64_t o0 = 0; o0 < p.Co; o0 += kOutBlock) {
    const int bo = static_cast<int>(p.Co - o0 < kOutBlock ? p.Co - o0 : kOutBlock);
    const float* w = wpacked + o0 * K;
    const float* b = bias ? bias + o0 : nullptr;
    for (int64_t i0 = 0; i0 < p.OH; i0 += S::kRows) {
      const int br = static_cast<int>(p.OH - i0 < S::kRows ? p.OH - i0 : S::kRows);
      const ForwardBlock<S> block = forward_block_for<S>(bo, br);
      // Output rows i0 .. i0+br-1 read padded rows i0 + kh .. i0 + br-1 + kh.
      const int64_t kh0 = clamp(p.top - i0 - br + 1, 0, p.KH);
      const int64_t kh1 = clamp(p.top + p.rows - i0, kh0, p.KH);
      for (int64_t j0 = 0; j0 < p.OW; j0 += S::kLanes)
        block(y + o0 * yplane + i0 * p.OW + j0, xp + i0 * p.Wpa + j0, w, b, p, p.OW - j0, kh0,
              kh1);
    }
  }
}

// Adds one column chunk of one row to the (BO x KWC) accumulators, lanes outside `mask` left
// out. With S::kMaskedFma the loads are plain and the FMAs masked (a masked load that splits a
// cache line costs twice a plain one on AVX-512); otherwise the loads are masked and zero the
// lanes outside `mask`. MASK false: every lane counts.
template <class S, int BO, int KWC, bool MASK>
inline void weight_chunk(typename S::V (&acc)[BO][KWC], const float* dy, int64_t dy_plane,
                         const float* x, typename S::Mask mask) {
  using V = typename S::V;
  constexpr bool mask_loads = MASK && !S::kMaskedFma, mask_fma = MASK && S::kMaskedFma;
  V xv[KWC];
  EMBER_UNROLL for (int k = 0; k < KWC; ++k) {
    if constexpr (mask_loads)
      xv[k] = S::maskz_loadu(mask, x + k);
    else
      xv[k] = S::loadu(x + k);
    keep_in_register(xv[k]);
  }
  EMBER_UNROLL for (int b = 0; b < BO; ++b) {
    V g;
    if constexpr (mask_loads)
      g = S::maskz_loadu(mask, dy + b * dy_plane);
    else
      g = S::loadu(dy + b * dy_plane);
    EMBER_UNROLL for (int k = 0; k < KWC; ++k) {
      if constexpr (mask_fma)
        acc[b][k] = S::mask_fmadd(g, xv[k], acc[b][k], mask);
      else
        acc[b][k] = S::fmadd(g, xv[k], acc[b][k]);
    }
  }
}

// Taps kw0 .. kw0+KWC-1 of one work item (see WeightItem); dw and xp already point at kw0.
template <class S, int BO, int KWC>
void weight_block(float* dw, const float* dy, const float* xp, const WeightItem& it) {
  using V = typename S::V;
  V acc[BO][KWC];
  EMBER_UNROLL for (int b = 0; b < BO; ++b)
    EMBER_UNROLL for (int k = 0; k < KWC; ++k) acc[b][k] = S::zero();
  const int64_t xp_image = it.C * it.Hp * it.Wpa, dy_row = kOutBlock * it.OWp;
  const int64_t full = it.OW - it.OW % S::kLanes;
  const auto mask = S::tail_mask(static_cast<int>(it.OW - full));
  for (int64_t n = 0; n < it.N; ++n) {
    const float* dyn = dy + n * it.dy_image;
    const float* xn = xp + n * xp_image;
    for (int64_t i = 0; i < it.OH; ++i) {
      const float* dyr = dyn + i * dy_row;
      const float* xr = xn + i * it.Wpa;
      for (int64_t j = 0; j < full; j += S::kLanes)
        weight_chunk<S, BO, KWC, false>(acc, dyr + j, it.OWp, xr + j, mask);
      if (full < it.OW) weight_chunk<S, BO, KWC, true>(acc, dyr + full, it.OWp, xr + full, mask);
    }
  }
  const int64_t dw_stride = it.C * it.KH * it.KW;
  EMBER_UNROLL for (int b = 0; b < BO; ++b)
    EMBER_UNROLL for (int k = 0; k < KWC; ++k) dw[b * dw_stride + k] = S::reduce_add(acc[b][k]);
}

template <class S>
using WeightBlock = void (*)(float*, const float*, const float*, const WeightItem&);

template <class S, int BO>
WeightBlock<S> weight_block_taps(int taps) {
  static_assert(S::kTaps >= 1 && S::kTaps <= 6, "weight_block_taps covers 1 .. 6 taps");
  constexpr int t2 = S::kTaps < 2 ? S::kTaps : 2, t3 = S::kTaps < 3 ? S::kTaps : 3;
  constexpr int t4 = S::kTaps < 4 ? S::kTaps : 4, t5 = S::kTaps < 5 ? S::kTaps : 5;
  switch (taps) {
    case 1: return &weight_block<S, BO, 1>;
    case 2: return &weight_block<S, BO, t2>;
    case 3: return &weight_block<S, BO, t3>;
    case 4: return &weight_block<S, BO, t4>;
    case 5: return &weight_block<S, BO, t5>;
    default: return &weight_block<S, BO, S::kTaps>;
  }
}

template <class S>
void weight_item(float* dw, const float* dy, const float* xp, const WeightItem& it) {
  static_assert(kOutBlock == 4, "weight_item covers up to 4 output channels");
  for (int64_t kw0 = 0; kw0 < it.KW; kw0 += S::kTaps) {
    const int taps = static_cast<int>(it.KW - kw0 < S::kTaps ? it.KW - kw0 : S::kTaps);
    WeightBlock<S> block;
    switch (it.bo) {
      case 1: block = weight_block_taps<S, 1>(taps); break;
      case 2: block = weight_block_taps<S, 2>(taps); break;
      case 3: block = weight_block_taps<S, 3>(taps); break;
      default: block = weight_block_taps<S, 4>(taps); break;
    }
    block(dw + kw0, dy, xp + kw0, it);
  }
}

#undef EMBER_UNROLL

}  // namespace
}  // namespace ember::cpu::direct_detail
