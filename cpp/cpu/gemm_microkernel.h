// The contract between the GEMM driver (gemm.cpp, portable) and its SIMD kernels (gemm_avx2.cpp,
// gemm_pack_avx2.cpp, compiled with -mavx2 -mfma; gemm_avx512.cpp, with -mavx512f): microkernels,
// transposing packers and the dot-product kernel. Only plain declarations cross that boundary:
// inline or template code shared by both sides could be emitted once with AVX2 instructions and
// then be picked by the linker for the portable path too.
//
// A microkernel computes the top `rows` (1..MR) rows of one MR x NR tile of C:
//   acc(r, j) = sum_{k < kc} a[r * a_rs + k * a_cs] * b[k * b_ld + j]     r < rows, j < NR
//   c[r * ldc + j] = alpha * acc(r, j)                      if beta == 0 (c is write-only)
//                  = alpha * acc(r, j) + beta * c[r*ldc+j]  otherwise
// A packed MR-row micro-panel has (a_rs, a_cs) = (1, MR) and a packed NR-column one b_ld = NR,
// but the strides also let the kernel read op(A) and op(B) in place when their layout allows:
// A as stored (lda, 1), A^T as stored (1, lda), B as stored b_ld = ldb. All NR columns of `b`
// must be readable; only `rows` rows of `a` and `c` are touched.
#pragma once

#include <cstdint>

namespace ember::cpu::gemm_detail {

template <typename T>
using MicroKernel = void (*)(int64_t kc, int rows, const T* a, int64_t a_rs, int64_t a_cs,
                             const T* b, int64_t b_ld, T* c, int64_t ldc, T alpha, T beta);

// AVX2+FMA tile shapes: 12 ymm accumulators (6 rows x 2 vectors), 2 ymm of B, 1 broadcast of A.
constexpr int kAvx2MrF32 = 6, kAvx2NrF32 = 16;
constexpr int kAvx2MrF64 = 6, kAvx2NrF64 = 8;

void microkernel_avx2_f32(int64_t kc, int rows, const float* a, int64_t a_rs, int64_t a_cs,
                          const float* b, int64_t b_ld, float* c, int64_t ldc, float alpha,
                          float beta);
void microkernel_avx2_f64(int64_t kc, int rows, const double* a, int64_t a_rs, int64_t a_cs,
                          const double* b, int64_t b_ld, double* c, int64_t ldc, double alpha,
                          double beta);

// AVX-512F tile shapes: 24 zmm accumulators (12 rows x 2 vectors), 2 zmm of B, 1 broadcast of A.
constexpr int kAvx512MrF32 = 12, kAvx512NrF32 = 32;
constexpr int kAvx512MrF64 = 12, kAvx512NrF64 = 16;

void microkernel_avx512_f32(int64_t kc, int rows, const float* a, int64_t a_rs, int64_t a_cs,
                            const float* b, int64_t b_ld, float* c, int64_t ldc, float alpha,
                            float beta);
void microkernel_avx512_f64(int64_t kc, int rows, const double* a, int64_t a_rs, int64_t a_cs,
                            const double* b, int64_t b_ld, double* c, int64_t ldc, double alpha,
                            double beta);

// Transposing packers for one full micro-panel whose lanes are rows of a row-major matrix
// (contiguous along k): dst[k * W + l] = src[l * ld + k], l < W, k < kc. `rows` fill an A
// panel (W = MR), `cols` a B panel (W = NR).
template <typename T>
using PanelPacker = void (*)(T* dst, const T* src, int64_t ld, int64_t kc);

void pack_rows_avx2_f32(float* dst, const float* src, int64_t ld, int64_t kc);
void pack_cols_avx2_f32(float* dst, const float* src, int64_t ld, int64_t kc);
void pack_rows_avx2_f64(double* dst, const double* src, int64_t ld, int64_t kc);
void pack_cols_avx2_f64(double* dst, const double* src, int64_t ld, int64_t kc);
void pack_rows_avx512_f32(float* dst, const float* src, int64_t ld, int64_t kc);

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols, by 8 x 8 in-register transposes.
void transpose_avx2_f32(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows,
                        int64_t cols);
void pack_cols_avx512_f32(float* dst, const float* src, int64_t ld, int64_t kc);

// For op(A) = A, op(B) = B^T with few rows: both operands are contiguous along K, so a
// rows x cols (rows <= kDotRows, cols <= kDotCols) block of C is a set of dot products,
// computed with no packing:
//   c[r * ldc + j] = alpha * sum_k a[r * lda + k] * b[j * ldb + k] (+ beta * c[r * ldc + j])
template <typename T>
using DotKernel = void (*)(int64_t K, int rows, int cols, const T* a, int64_t lda, const T* b,
                           int64_t ldb, T* c, int64_t ldc, T alpha, T beta);
constexpr int kDotRows = 2, kDotCols = 4;

void dot_kernel_avx2_f32(int64_t K, int rows, int cols, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float* c, int64_t ldc, float alpha,
                         float beta);
void dot_kernel_avx2_f64(int64_t K, int rows, int cols, const double* a, int64_t lda,
                         const double* b, int64_t ldb, double* c, int64_t ldc, double alpha,
                         double beta);

}  // namespace ember::cpu::gemm_detail
