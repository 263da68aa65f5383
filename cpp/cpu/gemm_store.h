// The C update shared by the per-ISA GEMM microkernels (gemm_avx2.cpp, gemm_avx512.cpp), generic
// over their vector traits S (T, V, kLanes, load, store, mul, fmadd). Include only from files
// compiled for a SIMD instruction set; the unnamed namespace gives each its own copy.
#pragma once

namespace ember::cpu::gemm_detail {
namespace {

// c[0:2 vectors] = alpha * (lo, hi) (+ beta * c): beta == 0 never reads c, so NaN in old C
// cannot leak through.
template <typename S>
inline void store_row(typename S::T* c, typename S::V lo, typename S::V hi, typename S::V alpha,
                      typename S::V beta, bool read_c) {
  typename S::V v0 = S::mul(lo, alpha), v1 = S::mul(hi, alpha);
  if (read_c) {
    v0 = S::fmadd(beta, S::load(c), v0);
    v1 = S::fmadd(beta, S::load(c + S::kLanes), v1);
  }
  S::store(c, v0);
  S::store(c + S::kLanes, v1);
}

}  // namespace
}  // namespace ember::cpu::gemm_detail
