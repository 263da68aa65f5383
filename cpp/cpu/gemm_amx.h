// float32 GEMM on Intel AMX tile units (gemm_amx.cpp, compiled with -mamx-tile -mamx-bf16
// -mavx512bf16), to float32 accuracy. Only plain declarations cross from the portable driver
// (gemm.cpp): see gemm_microkernel.h for why.
//
// AMX multiplies bfloat16 (8-bit significand) pairs into float32 accumulators. Each float32
// operand is split exactly into three bfloat16 pieces, x = hi + mid + lo (each holds the next 8
// significant bits), and six of the nine piece products are summed:
//   hi*hi + hi*mid + mid*hi + hi*lo + lo*hi + mid*mid.
// The three left out are below 2^-26 of |a*b|, under float32's own rounding (2^-24), and every
// piece product is exact in float32, so the result is as accurate as a float32 FMA GEMM (tests
// compare both against a float64 reference). This is the "bf16x3" scheme of Henry, Tang and
// Heinecke, "Leveraging the bfloat16 Artificial Intelligence Datatype For Higher-Precision
// Computations" (ARITH 2019).
//
// The split is exact only for |x| in [2^-103, 2^127) or x == 0: AMX reads bfloat16 subnormals as
// zero, and an infinity or NaN would meet zero pieces (inf * 0 = NaN where float32 gives inf).
// gemm_block checks each value as it splits it, and operands_in_range a whole matrix; products
// with a value out of range run on the FMA path (gemm.cpp's runs_on_amx).
// AMX also flushes subnormal products to zero, so terms a*b below ~2^-103 (1e-31) lose their
// low bits: an absolute error under 2^-126 each, where float32 FMAs would keep subnormals.
#pragma once

#include <cstdint>

#include "cpu/gemm.h"

namespace ember::cpu::gemm_amx {

// C tiles are computed in blocks of kRows x kCols.
constexpr int kRows = 16, kCols = 64;

// Every element of the rows x cols matrix X (row stride ld) is 0 or has magnitude in
// [2^-103, 2^127): the split into bfloat16 pieces is exact.
bool operands_in_range(const float* X, int64_t rows, int64_t cols, int64_t ld);

// The product as the AMX path computes it: p itself, or C^T = op(B)^T op(A)^T when that packs
// fewer values against their storage order (transposed: C then receives the result transposed;
// p's A, B, M and N are swapped, its C and ldc still C's).
struct Oriented {
  GemmProblem<float> p;
  bool transposed;
};
Oriented orient(const GemmProblem<float>& p);

// Rows m0:m1, columns n0:n1 of o's product (of C^T when transposed), for alpha == 1 and beta in
// {0, 1}; m0 a multiple of kRows, n0 of kCols. Results do not depend on how the product is split
// among threads. Returns whether every operand value it split was in range (see
// operands_in_range): when not, the block of C holds no meaningful result, and the caller
// computes the product another way (with beta == 1, it must have checked the operands first).
bool gemm_block(const Oriented& o, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

}  // namespace ember::cpu::gemm_amx
