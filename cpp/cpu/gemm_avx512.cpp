// AVX-512F GEMM kernels (contracts in gemm_microkernel.h): the 12 x 32 float / 12 x 16 double
// microkernel and the float transposing packers. Called only when active_simd() ==
// SimdPath::Avx512.
//
// Microkernel: each k step loads one row of the B micro-panel (2 zmm) and broadcasts the 12
// values of the A micro-panel, 2 FMAs per broadcast: 24 independent accumulator chains cover the
// FMA latency x throughput product of two 512-bit FMA ports with room to spare, and 14 loads per
// 24 FMAs keep the two load ports below the FMA rate. Accumulators, B and the broadcast take 27 of
// the 32 zmm registers. Twelve rows rather than fourteen: a 12-row panel packs with one 8 x 8 and
// two 4 x 4 transposes per 8 k.
#include <immintrin.h>

#include "cpu/gemm_microkernel.h"
#include "cpu/gemm_store.h"
#include "cpu/transpose_avx2.h"

namespace ember::cpu::gemm_detail {

namespace {

struct F32 {
  using T = float;
  using V = __m512;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V broadcast(const T* p) { return _mm512_set1_ps(*p); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
};

struct F64 {
  using T = double;
  using V = __m512d;
  static constexpr int kLanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V broadcast(const T* p) { return _mm512_set1_pd(*p); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
};

// One row of the tile: broadcast its A value, two FMAs. Accumulators are named variables, not
// an array, for the reason given in gemm_avx2.cpp (GCC under LTO spilled an array every k step).
#define EMBER_ROW(r, ptr)                   \
  if constexpr (R > r) {                    \
    const V av = S::broadcast(ptr);         \
    c##r##_0 = S::fmadd(av, b0, c##r##_0);  \
    c##r##_1 = S::fmadd(av, b1, c##r##_1);  \
  }
#define EMBER_STORE(r) \
  if constexpr (R > r) store_row<S>(c + r * ldc, c##r##_0, c##r##_1, va, vb, read_c);

// The top R rows (R <= 12) of a 12 x (2 vectors) tile; see gemm_microkernel.h for the layout.
// kPacked: both panels packed (a_rs = 1, a_cs = 12, b_ld = 2 vectors), the case every large
// product spends its time in. The strides are then compile-time constants, so each k step is 2
// loads, 12 broadcasts and 24 FMAs at constant offsets, and packed B, read sequentially, needs no
// software prefetch: fewer uops per k step than the general kernel for the same FMAs.
template <typename S, int R, bool kPacked = false>
void microkernel_rows(int64_t kc, const typename S::T* a, int64_t a_rs, int64_t a_cs,
                      const typename S::T* b, int64_t b_ld, typename S::T* c, int64_t ldc,
                      typename S::T alpha, typename S::T beta) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t rs = kPacked ? 1 : a_rs, cs = kPacked ? 12 : a_cs, ld = kPacked ? 2 * L : b_ld;
  // Rows 3g .. 3g+2 hang off p[g] at offsets 0, rs, 2 rs: base + index addressing.
  const T* p0 = a;
  const T* p1 = R > 3 ? a + 3 * rs : a;
  const T* p2 = R > 6 ? a + 6 * rs : a;
  const T* p3 = R > 9 ? a + 9 * rs : a;
  const int64_t rs1 = rs, rs2 = 2 * rs;

  V c0_0 = S::zero(), c0_1 = S::zero(), c1_0 = S::zero(), c1_1 = S::zero();
  V c2_0 = S::zero(), c2_1 = S::zero(), c3_0 = S::zero(), c3_1 = S::zero();
  V c4_0 = S::zero(), c4_1 = S::zero(), c5_0 = S::zero(), c5_1 = S::zero();
  V c6_0 = S::zero(), c6_1 = S::zero(), c7_0 = S::zero(), c7_1 = S::zero();
  V c8_0 = S::zero(), c8_1 = S::zero(), c9_0 = S::zero(), c9_1 = S::zero();
  V c10_0 = S::zero(), c10_1 = S::zero(), c11_0 = S::zero(), c11_1 = S::zero();
  // B read in place (ld = ldb) walks two cache lines per k step; they are asked for 8 steps
  // early. A packed B panel (ld = 2 L, while A is read in place) streams through L1 without.
  const bool prefetch_b = !kPacked && ld != 2 * L;
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    if (prefetch_b) {
      _mm_prefetch(reinterpret_cast<const char*>(b + 8 * ld), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b + 8 * ld + L), _MM_HINT_T0);
    }
    const V b0 = S::load(b);
    const V b1 = S::load(b + L);
    EMBER_ROW(0, p0)
    EMBER_ROW(1, p0 + rs1)
    EMBER_ROW(2, p0 + rs2)
    EMBER_ROW(3, p1)
    EMBER_ROW(4, p1 + rs1)
    EMBER_ROW(5, p1 + rs2)
    EMBER_ROW(6, p2)
    EMBER_ROW(7, p2 + rs1)
    EMBER_ROW(8, p2 + rs2)
    EMBER_ROW(9, p3)
    EMBER_ROW(10, p3 + rs1)
    EMBER_ROW(11, p3 + rs2)
    p0 += cs;
    p1 += cs;
    p2 += cs;
    p3 += cs;
    b += ld;
  }

  const V va = S::set1(alpha), vb = S::set1(beta);
  const bool read_c = beta != T(0);
  EMBER_STORE(0)
  EMBER_STORE(1)
  EMBER_STORE(2)
  EMBER_STORE(3)
  EMBER_STORE(4)
  EMBER_STORE(5)
  EMBER_STORE(6)
  EMBER_STORE(7)
  EMBER_STORE(8)
  EMBER_STORE(9)
  EMBER_STORE(10)
  EMBER_STORE(11)
}

#undef EMBER_ROW
#undef EMBER_STORE

template <typename S>
void microkernel(int64_t kc, int rows, const typename S::T* a, int64_t a_rs, int64_t a_cs,
                 const typename S::T* b, int64_t b_ld, typename S::T* c, int64_t ldc,
                 typename S::T alpha, typename S::T beta) {
  using Kernel = void (*)(int64_t, const typename S::T*, int64_t, int64_t, const typename S::T*,
                          int64_t, typename S::T*, int64_t, typename S::T, typename S::T);
  static constexpr Kernel kernels[12] = {
      microkernel_rows<S, 1>, microkernel_rows<S, 2>,  microkernel_rows<S, 3>,
      microkernel_rows<S, 4>, microkernel_rows<S, 5>,  microkernel_rows<S, 6>,
      microkernel_rows<S, 7>, microkernel_rows<S, 8>,  microkernel_rows<S, 9>,
      microkernel_rows<S, 10>, microkernel_rows<S, 11>, microkernel_rows<S, 12>};
  if (rows == 12 && a_rs == 1 && a_cs == 12 && b_ld == 2 * S::kLanes)
    microkernel_rows<S, 12, true>(kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
  else
    kernels[rows - 1](kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
}

// Lanes [l0, l0 + 8) of a W-lane panel, k in [k, k + 8).
template <int W>
inline void pack_8_lanes(float* dst, const float* src, int64_t ld, int l0, int64_t k) {
  __m256 v[8];
  for (int l = 0; l < 8; ++l) v[l] = _mm256_loadu_ps(src + (l0 + l) * ld + k);
  transpose8x8(v);
  for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (k + j) * W + l0, v[j]);
}

// Lanes [l0, l0 + 4) of a W-lane panel, k in [k, k + 8).
template <int W>
inline void pack_4_lanes(float* dst, const float* src, int64_t ld, int l0, int64_t k) {
  for (int64_t k4 = k; k4 < k + 8; k4 += 4) {
    __m128 r0 = _mm_loadu_ps(src + (l0 + 0) * ld + k4), r1 = _mm_loadu_ps(src + (l0 + 1) * ld + k4);
    __m128 r2 = _mm_loadu_ps(src + (l0 + 2) * ld + k4), r3 = _mm_loadu_ps(src + (l0 + 3) * ld + k4);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(dst + (k4 + 0) * W + l0, r0);
    _mm_storeu_ps(dst + (k4 + 1) * W + l0, r1);
    _mm_storeu_ps(dst + (k4 + 2) * W + l0, r2);
    _mm_storeu_ps(dst + (k4 + 3) * W + l0, r3);
  }
}

// dst[k * W + l] = src[l * ld + k] for a full W-lane panel (W a multiple of 4).
template <int W>
void pack_lanes(float* dst, const float* src, int64_t ld, int64_t kc) {
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    int l = 0;
    for (; l + 8 <= W; l += 8) pack_8_lanes<W>(dst, src, ld, l, k);
    for (; l < W; l += 4) pack_4_lanes<W>(dst, src, ld, l, k);
  }
  for (; k < kc; ++k)
    for (int l = 0; l < W; ++l) dst[k * W + l] = src[l * ld + k];
}

}  // namespace

void microkernel_avx512_f32(int64_t kc, int rows, const float* a, int64_t a_rs, int64_t a_cs,
                            const float* b, int64_t b_ld, float* c, int64_t ldc, float alpha,
                            float beta) {
  microkernel<F32>(kc, rows, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
}

void microkernel_avx512_f64(int64_t kc, int rows, const double* a, int64_t a_rs, int64_t a_cs,
                            const double* b, int64_t b_ld, double* c, int64_t ldc, double alpha,
                            double beta) {
  microkernel<F64>(kc, rows, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
}

void pack_rows_avx512_f32(float* dst, const float* src, int64_t ld, int64_t kc) {
  pack_lanes<kAvx512MrF32>(dst, src, ld, kc);
}

void pack_cols_avx512_f32(float* dst, const float* src, int64_t ld, int64_t kc) {
  pack_lanes<kAvx512NrF32>(dst, src, ld, kc);
}

}  // namespace ember::cpu::gemm_detail
