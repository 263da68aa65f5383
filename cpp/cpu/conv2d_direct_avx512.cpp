// AVX-512F instantiation of the direct convolution kernels. Over the output width
// (conv2d_direct_kernel.h): 16 lanes, forward blocks of 4 output channels x 4 rows (16 zmm
// accumulators), weight-gradient blocks of 4 output channels x up to 6 taps (24). Over output
// channels (conv2d_direct_channels_kernel.h): forward tiles of up to 14 pixels, weight-gradient
// blocks of up to 28 taps (5 rows x 5 columns for a 5x5 kernel), leaving registers for the loaded
// vector and the transposes. Called only when use_avx512().
#include <immintrin.h>

#include "cpu/conv2d_direct_channels_kernel.h"
#include "cpu/conv2d_direct_kernel.h"

namespace ember::cpu::direct_detail {

namespace {

struct Avx512 {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16, kRows = 4, kTaps = 6;
  static constexpr bool kMaskedFma = true;
  static constexpr int kTile = 14, kChanRows = 5, kChanCols = 7, kChanAcc = 28;
  // The low n lanes, 0 <= n <= 16.
  static Mask tail_mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  // A broadcast straight from memory (a load-port instruction): see weight_taps.
  static V broadcast(const float* x) {
    V v;
    asm("vbroadcastss %1, %0" : "=v"(v) : "m"(*x));
    return v;
  }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static V maskz_loadu(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void mask_storeu(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // r[i][j] <-> r[j][i]: pairs of rows interleaved by 1, then 2 lanes, then 128-bit quarters twice.
  static void transpose(V (&r)[kLanes]) {
    V t[kLanes];
    for (int i = 0; i < kLanes; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < kLanes; i += 4) {
      const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
      const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
      r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
      r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
      r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
      r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int h = 0; h < kLanes; h += 8)
      for (int i = 0; i < 4; ++i) {
        t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
        t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
      }
    for (int i = 0; i < 8; ++i) {
      r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
      r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
  }
  // a * b + c in the lanes of m, c elsewhere.
  static V mask_fmadd(V a, V b, V c, Mask m) { return _mm512_mask3_fmadd_ps(a, b, c, m); }
  // Once per work item, so plain scalar adds; GCC 12's _mm512_reduce_add_ps and shuffles draw
  // -Wuninitialized warnings from inside the intrinsics header.
  static float reduce_add(V v) {
    alignas(64) float lanes[kLanes];
    _mm512_store_ps(lanes, v);
    float sum = 0;
    for (const float x : lanes) sum += x;
    return sum;
  }
};

}  // namespace

ChannelKernels channel_kernels_avx512() { return channel_kernels<Avx512>(); }

void correlate_image_avx512(float* y, const float* xp, const float* wpacked, const float* bias,
                            const Plan& p) {
  correlate_image<Avx512>(y, xp, wpacked, bias, p);
}

void weight_item_avx512(float* dw, const float* dy, const float* xp, const WeightItem& w) {
  weight_item<Avx512>(dw, dy, xp, w);
}

}  // namespace ember::cpu::direct_detail
