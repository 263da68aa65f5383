// General matrix multiply on row-major matrices:
//   C = alpha * op(A) @ op(B) + beta * C,   op(X) = X or X^T
// op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides in elements.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored), as in BLAS.
// K == 0 or alpha == 0 gives C = beta * C without reading A or B; M == 0 or N == 0 does nothing.
#pragma once

#include <cstdint>

namespace ember::cpu {

// The fast path: packed, cache-blocked, SIMD microkernel, OpenMP-parallel.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// One product's arguments, as gemm takes them.
template <typename T>
struct GemmProblem {
  bool trans_a, trans_b;
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  T beta;
  T* C;
  int64_t ldc;
};

// gemm with its arguments in one struct.
template <typename T>
void gemm(const GemmProblem<T>& p);

// Two independent products at once, as a Linear layer's backward needs (dx and dweight). With a
// team, each runs on its share of the threads (by flops) rather than each in turn on all of them:
// a small product divides poorly, two side by side do not. Results are those of gemm.
template <typename T>
void gemm_pair(const GemmProblem<T>& first, const GemmProblem<T>& second);

// A batch of independent GEMMs with the same shapes: matrix i of each operand starts at
// X + i * stride_x. Small matrices are spread across threads whole; large ones are each split.
template <typename T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  T alpha, const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                  int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c);

// The statement of the algorithm: plain triple loop, kept for tests and as documentation.
template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace ember::cpu
