// AVX2+FMA GEMM kernels (contracts in gemm_microkernel.h): the 6 x 16 / 6 x 8 microkernel and the
// dot-product kernel for A B^T with few rows. Called only when use_avx2().
//
// Microkernel: each k step loads one row of the B micro-panel (2 ymm), broadcasts the 6 values of
// the A micro-panel one at a time and issues 2 FMAs per broadcast: 12 independent accumulator
// chains, enough to cover the FMA latency (4-5 cycles) x throughput (2 per cycle) product, with 8
// loads per 12 FMAs so the loads never limit. Accumulators stay in registers for the whole kc
// loop; with the 2 B vectors and the broadcast that is 15 of the 16 ymm registers.
#include <immintrin.h>

#include "cpu/gemm_microkernel.h"
#include "cpu/gemm_store.h"

namespace ember::cpu::gemm_detail {

namespace {

struct F32 {
  using T = float;
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static V broadcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
};

struct F64 {
  using T = double;
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static V broadcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
};

// The top R rows (R <= 6) of a 6 x (2 vectors) tile; see gemm_microkernel.h for the layout.
// The accumulators are named variables, not an array: under LTO, GCC 12 kept an array of them in
// memory and stored it back on every k step, costing a quarter of the speed.
template <typename S, int R>
void microkernel_rows(int64_t kc, const typename S::T* a, int64_t a_rs, int64_t a_cs,
                      const typename S::T* b, int64_t b_ld, typename S::T* c, int64_t ldc,
                      typename S::T alpha, typename S::T beta) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  // Rows 0-2 hang off `top`, rows 3-5 off `mid`, at offsets 0, a_rs, 2 a_rs: two pointer bumps
  // per k step, the row offsets folded into base + index addressing.
  const T* top = a;
  const T* mid = R > 3 ? a + 3 * a_rs : a;
  const int64_t rs1 = a_rs, rs2 = 2 * a_rs;

  V c00 = S::zero(), c01 = S::zero(), c10 = S::zero(), c11 = S::zero();
  V c20 = S::zero(), c21 = S::zero(), c30 = S::zero(), c31 = S::zero();
  V c40 = S::zero(), c41 = S::zero(), c50 = S::zero(), c51 = S::zero();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    // B read in place (b_ld = ldb) walks one cache line per k step; ask for it 8 steps early.
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * b_ld), _MM_HINT_T0);
    const V b0 = S::load(b);
    const V b1 = S::load(b + L);
    V av;
    av = S::broadcast(top);
    c00 = S::fmadd(av, b0, c00);
    c01 = S::fmadd(av, b1, c01);
    if constexpr (R > 1) {
      av = S::broadcast(top + rs1);
      c10 = S::fmadd(av, b0, c10);
      c11 = S::fmadd(av, b1, c11);
    }
    if constexpr (R > 2) {
      av = S::broadcast(top + rs2);
      c20 = S::fmadd(av, b0, c20);
      c21 = S::fmadd(av, b1, c21);
    }
    if constexpr (R > 3) {
      av = S::broadcast(mid);
      c30 = S::fmadd(av, b0, c30);
      c31 = S::fmadd(av, b1, c31);
    }
    if constexpr (R > 4) {
      av = S::broadcast(mid + rs1);
      c40 = S::fmadd(av, b0, c40);
      c41 = S::fmadd(av, b1, c41);
    }
    if constexpr (R > 5) {
      av = S::broadcast(mid + rs2);
      c50 = S::fmadd(av, b0, c50);
      c51 = S::fmadd(av, b1, c51);
    }
    top += a_cs;
    mid += a_cs;
    b += b_ld;
  }

  const V va = S::set1(alpha), vb = S::set1(beta);
  const bool read_c = beta != T(0);
  store_row<S>(c, c00, c01, va, vb, read_c);
  if constexpr (R > 1) store_row<S>(c + ldc, c10, c11, va, vb, read_c);
  if constexpr (R > 2) store_row<S>(c + 2 * ldc, c20, c21, va, vb, read_c);
  if constexpr (R > 3) store_row<S>(c + 3 * ldc, c30, c31, va, vb, read_c);
  if constexpr (R > 4) store_row<S>(c + 4 * ldc, c40, c41, va, vb, read_c);
  if constexpr (R > 5) store_row<S>(c + 5 * ldc, c50, c51, va, vb, read_c);
}

template <typename S>
void microkernel(int64_t kc, int rows, const typename S::T* a, int64_t a_rs, int64_t a_cs,
                 const typename S::T* b, int64_t b_ld, typename S::T* c, int64_t ldc,
                 typename S::T alpha, typename S::T beta) {
  switch (rows) {
    case 1: return microkernel_rows<S, 1>(kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
    case 2: return microkernel_rows<S, 2>(kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
    case 3: return microkernel_rows<S, 3>(kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
    case 4: return microkernel_rows<S, 4>(kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
    case 5: return microkernel_rows<S, 5>(kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
    default: return microkernel_rows<S, 6>(kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
  }
}

// Sums of 4 accumulators each: {sum(v0), sum(v1), sum(v2), sum(v3)} as 4 scalars in `out`.
inline void horizontal_sums(const __m256 v[4], float out[4]) {
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

inline void horizontal_sums(const __m256d v[4], double out[4]) {
  const __m256d t01 = _mm256_hadd_pd(v[0], v[1]), t23 = _mm256_hadd_pd(v[2], v[3]);
  const __m256d lo = _mm256_permute2f128_pd(t01, t23, 0x20);
  const __m256d hi = _mm256_permute2f128_pd(t01, t23, 0x31);
  _mm256_storeu_pd(out, _mm256_add_pd(lo, hi));
}

// Lanes [0, n) of a vector's worth of elements from p, zeros above: the K tail of a dot product,
// read without touching memory past the row.
inline __m256 load_first(const float* p, int64_t n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lane));
}

inline __m256d load_first(const double* p, int64_t n) {
  const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
  return _mm256_maskload_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), lane));
}

// C[r][j] = alpha * dot(a row r, b row j) (+ beta * C[r][j]) for r < R, j < cols <= 4: rows of A
// and B both contiguous along K. Each accumulator holds one dot product's lane-wise partial
// sums; one horizontal reduction per dot product at the end.
template <typename S, int R>
void dot_tile(int64_t K, int cols, const typename S::T* a, int64_t lda, const typename S::T* b,
              int64_t ldb, typename S::T* c, int64_t ldc, typename S::T alpha,
              typename S::T beta) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const T* brow[4];
  for (int j = 0; j < 4; ++j) brow[j] = b + (j < cols ? j : 0) * ldb;  // spare lanes repeat row 0
  V acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) acc[r][j] = S::zero();
  int64_t k = 0;
  for (; k + L <= K; k += L) {
    V av[R];
    for (int r = 0; r < R; ++r) av[r] = S::load(a + r * lda + k);
    for (int j = 0; j < 4; ++j) {
      const V bv = S::load(brow[j] + k);
      for (int r = 0; r < R; ++r) acc[r][j] = S::fmadd(av[r], bv, acc[r][j]);
    }
  }
  if (k < K) {
    V av[R];
    for (int r = 0; r < R; ++r) av[r] = load_first(a + r * lda + k, K - k);
    for (int j = 0; j < 4; ++j) {
      const V bv = load_first(brow[j] + k, K - k);
      for (int r = 0; r < R; ++r) acc[r][j] = S::fmadd(av[r], bv, acc[r][j]);
    }
  }
  for (int r = 0; r < R; ++r) {
    T sums[4];
    horizontal_sums(acc[r], sums);
    for (int j = 0; j < cols; ++j) {
      T& cij = c[r * ldc + j];
      cij = beta == T(0) ? alpha * sums[j] : alpha * sums[j] + beta * cij;
    }
  }
}

template <typename S>
void dot_kernel(int64_t K, int rows, int cols, const typename S::T* a, int64_t lda,
                const typename S::T* b, int64_t ldb, typename S::T* c, int64_t ldc,
                typename S::T alpha, typename S::T beta) {
  if (rows >= 2)
    dot_tile<S, 2>(K, cols, a, lda, b, ldb, c, ldc, alpha, beta);
  else
    dot_tile<S, 1>(K, cols, a, lda, b, ldb, c, ldc, alpha, beta);
}

}  // namespace

void dot_kernel_avx2_f32(int64_t K, int rows, int cols, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float* c, int64_t ldc, float alpha,
                         float beta) {
  dot_kernel<F32>(K, rows, cols, a, lda, b, ldb, c, ldc, alpha, beta);
}

void dot_kernel_avx2_f64(int64_t K, int rows, int cols, const double* a, int64_t lda,
                         const double* b, int64_t ldb, double* c, int64_t ldc, double alpha,
                         double beta) {
  dot_kernel<F64>(K, rows, cols, a, lda, b, ldb, c, ldc, alpha, beta);
}

void microkernel_avx2_f32(int64_t kc, int rows, const float* a, int64_t a_rs, int64_t a_cs,
                          const float* b, int64_t b_ld, float* c, int64_t ldc, float alpha,
                          float beta) {
  microkernel<F32>(kc, rows, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
}

void microkernel_avx2_f64(int64_t kc, int rows, const double* a, int64_t a_rs, int64_t a_cs,
                          const double* b, int64_t b_ld, double* c, int64_t ldc, double alpha,
                          double beta) {
  microkernel<F64>(kc, rows, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
}

}  // namespace ember::cpu::gemm_detail
