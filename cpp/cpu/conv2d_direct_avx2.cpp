// AVX2+FMA instantiation of the direct convolution kernels. Over the output width
// (conv2d_direct_kernel.h): 8 lanes, forward blocks of 4 output channels x 3 rows and
// weight-gradient blocks of 4 output channels x up to 3 taps (12 ymm accumulators of 16, the rest
// for the loaded rows and the broadcast). Over output channels
// (conv2d_direct_channels_kernel.h): forward tiles of up to 12 pixels and weight-gradient blocks
// of up to 12 taps, again 12 accumulators (AVX2 broadcasts into a register of its own). Called
// only when use_avx2().
#include <immintrin.h>

#include "cpu/conv2d_direct_channels_kernel.h"
#include "cpu/conv2d_direct_kernel.h"

namespace ember::cpu::direct_detail {

namespace {

struct Avx2 {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8, kRows = 3, kTaps = 3;
  static constexpr bool kMaskedFma = false;
  static constexpr int kTile = 12, kChanRows = 4, kChanCols = 6, kChanAcc = 12;
  // All ones in the low n lanes, 0 <= n <= 8.
  static Mask tail_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  // A broadcast straight from memory (a load-port instruction): see weight_taps.
  static V broadcast(const float* x) {
    V v;
    asm("vbroadcastss %1, %0" : "=v"(v) : "m"(*x));
    return v;
  }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static V maskz_loadu(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void mask_storeu(float* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  // r[i][j] <-> r[j][i]: pairs of rows interleaved by 1, then 2 lanes, then 128-bit halves.
  static void transpose(V (&r)[kLanes]) {
    V t[kLanes], u[kLanes];
    for (int i = 0; i < kLanes; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < kLanes; i += 4) {
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
      r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
      r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
  }
  static float reduce_add(V v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
  }
};

}  // namespace

ChannelKernels channel_kernels_avx2() { return channel_kernels<Avx2>(); }

void correlate_image_avx2(float* y, const float* xp, const float* wpacked, const float* bias,
                          const Plan& p) {
  correlate_image<Avx2>(y, xp, wpacked, bias, p);
}

void weight_item_avx2(float* dw, const float* dy, const float* xp, const WeightItem& w) {
  weight_item<Avx2>(dw, dy, xp, w);
}

}  // namespace ember::cpu::direct_detail
