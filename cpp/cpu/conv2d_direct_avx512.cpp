// AVX-512F instantiation of the direct convolution kernels (conv2d_direct_kernel.h): 16 lanes,
// forward blocks of 4 output channels x 4 rows (16 zmm accumulators), weight-gradient blocks of
// 4 output channels x up to 6 taps (24). Called only when active_simd() == SimdPath::Avx512.
#include <immintrin.h>

#include "cpu/conv2d_direct_kernel.h"

namespace ember::cpu::direct_detail {

namespace {

struct Avx512 {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16, kRows = 4, kTaps = 6;
  static constexpr bool kMaskedFma = true;
  // The low n lanes, 0 <= n <= 16.
  static Mask tail_mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static V maskz_loadu(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void mask_storeu(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
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

void correlate_image_avx512(float* y, const float* xp, const float* wpacked, const float* bias,
                            const Plan& p) {
  correlate_image<Avx512>(y, xp, wpacked, bias, p);
}

void weight_item_avx512(float* dw, const float* dy, const float* xp, const WeightItem& w) {
  weight_item<Avx512>(dw, dy, xp, w);
}

}  // namespace ember::cpu::direct_detail
