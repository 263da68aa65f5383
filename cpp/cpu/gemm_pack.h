// Packing of GEMM operands into micro-panels, for the portable driver in gemm.cpp only: these
// are inline templates, and a copy compiled into gemm_avx2.cpp (with -mavx2) could be the one the
// linker keeps for every caller.
//
// A W-lane micro-panel of an operand holds, for each k, W consecutive values side by side:
// panel[k * W + l]. For A the lanes are rows of op(A) (W = MR); for B they are columns of op(B),
// i.e. rows of op(B)^T (W = NR). Both are "rows of op(X)" for X = A or X = B^T, so one set of
// routines serves both, with op(X)(i, p) = X[i * ld + p], or X[p * ld + i] when `trans`.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>

#include "cpu/gemm_microkernel.h"
#include "cpu/huge_pages.h"

namespace ember::cpu::gemm_detail {

// Packing buffers live per thread and only grow: allocating them per call would page-fault
// megabytes, as slow as a small GEMM itself.
template <typename T>
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }

  T* get(size_t n) {
    if (n > capacity_) {
      release();
      // From 1 MiB, whole huge pages: a packed block then takes a TLB entry or two instead of
      // hundreds of 4 KiB ones.
      const size_t bytes = n * sizeof(T);
      huge_ = bytes >= kHugePage / 2;
      const size_t size = huge_ ? round_to_huge_pages(bytes) : bytes;
      data_ = static_cast<T*>(huge_ ? allocate_huge(size)
                                    : ::operator new(size, std::align_val_t(kAlign)));
      capacity_ = size / sizeof(T);
    }
    return data_;
  }

 private:
  static constexpr size_t kAlign = 64;
  void release() {
    if (data_) {
      if (huge_)
        free_huge(data_);
      else
        ::operator delete(data_, std::align_val_t(kAlign));
    }
    data_ = nullptr;
    capacity_ = 0;
  }
  T* data_ = nullptr;
  size_t capacity_ = 0;
  bool huge_ = false;
};

template <typename T>
T* a_pack_buffer(size_t n) {
  thread_local PackBuffer<T> buffer;
  return buffer.get(n);
}

template <typename T>
T* b_pack_buffer(size_t n) {
  thread_local PackBuffer<T> buffer;
  return buffer.get(n);
}

// One micro-panel: dst[k * W + l] = src[l * lane_stride + k * k_stride] for lanes l < lanes,
// zero for the padding lanes. Inlined with one stride a literal 1, so each caller gets a loop
// specialised for its contiguous direction.
template <typename T, int W>
inline void pack_panel(T* dst, const T* src, int64_t lane_stride, int64_t k_stride, int lanes,
                       int64_t kc) {
  if (lanes == W) {
    for (int64_t k = 0; k < kc; ++k)
      for (int l = 0; l < W; ++l) dst[k * W + l] = src[l * lane_stride + k * k_stride];
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    for (int l = 0; l < lanes; ++l) dst[k * W + l] = src[l * lane_stride + k * k_stride];
    for (int l = lanes; l < W; ++l) dst[k * W + l] = T(0);
  }
}

constexpr int64_t kPageBytes = 4096;

// op(X)[i0 : i0+rows, p0 : p0+kc] -> consecutive W-lane panels, the last zero-padded. `gather`,
// when given, packs the full panels whose lanes are rows of X (the transposing case).
template <typename T, int W>
void pack_block(T* dst, const T* X, int64_t ld, bool trans, int64_t i0, int64_t rows, int64_t p0,
                int64_t kc, PanelPacker<T> gather) {
  if (trans && ld * static_cast<int64_t>(sizeof(T)) >= kPageBytes) {
    // Lanes contiguous in X, rows a page or more apart: walk X one row (one k) at a time across
    // every panel. Panel by panel, each k step would start a new page, where the hardware
    // prefetcher stops; row by row, the reads stream. With closer rows the panel order is
    // faster: its writes are sequential.
    const int64_t full = rows / W * W;
    const int tail = static_cast<int>(rows - full);
    for (int64_t k = 0; k < kc; ++k) {
      const T* src = X + (p0 + k) * ld + i0;
      T* out = dst + k * W;
      for (int64_t i = 0; i < full; i += W, out += W * kc)
        for (int l = 0; l < W; ++l) out[l] = src[i + l];
      if (tail) {
        for (int l = 0; l < tail; ++l) out[l] = src[full + l];
        for (int l = tail; l < W; ++l) out[l] = T(0);
      }
    }
    return;
  }
  for (int64_t i = 0; i < rows; i += W, dst += W * kc) {
    const int lanes = static_cast<int>(std::min<int64_t>(W, rows - i));
    if (trans)
      pack_panel<T, W>(dst, X + p0 * ld + i0 + i, 1, ld, lanes, kc);
    else if (gather && lanes == W)
      gather(dst, X + (i0 + i) * ld + p0, ld, kc);
    else
      pack_panel<T, W>(dst, X + (i0 + i) * ld + p0, ld, 1, lanes, kc);
  }
}

// Where the microkernel reads one micro-panel of op(A) (W = MR) or op(B)^T (W = NR): element
// (lane l, k) is at ptr[l * lane_stride + k * k_stride].
template <typename T>
struct PanelView {
  const T* ptr;
  int64_t lane_stride, k_stride;
};

// One operand, op(A) or op(B)^T, over the current K block: either packed into W-lane panels, or
// read in place from X (op(X)(i, p) at X[i * ld + p], or X[p * ld + i] when transposed). In place,
// a partial last panel is still packed unless `partial_in_place`: the microkernel reads all NR
// columns of B, but only the rows of A it computes.
template <typename T, int W>
class Operand {
 public:
  Operand(const T* X, int64_t ld, bool trans, bool in_place, bool partial_in_place, T* buffer,
          PanelPacker<T> gather)
      : X_(X),
        ld_(ld),
        trans_(trans),
        in_place_(in_place),
        partial_in_place_(partial_in_place),
        buffer_(buffer),
        gather_(gather) {}

  // Prepares lanes [i0, i0 + rows) x k in [p0, p0 + kc).
  void load(int64_t i0, int64_t rows, int64_t p0, int64_t kc) {
    i0_ = i0, p0_ = p0, kc_ = kc;
    packed_from_ = !in_place_ ? 0 : partial_in_place_ ? rows : rows / W * W;
    if (packed_from_ < rows)
      pack_block<T, W>(buffer_, X_, ld_, trans_, i0 + packed_from_, rows - packed_from_, p0, kc,
                       gather_);
  }

  // The panel starting at lane i (a multiple of W, relative to i0).
  PanelView<T> panel(int64_t i) const {
    if (i >= packed_from_) return {buffer_ + (i - packed_from_) * kc_, 1, W};
    if (trans_) return {X_ + p0_ * ld_ + i0_ + i, 1, ld_};
    return {X_ + (i0_ + i) * ld_ + p0_, ld_, 1};
  }

 private:
  const T* X_;
  int64_t ld_;
  bool trans_, in_place_, partial_in_place_;
  T* buffer_;
  PanelPacker<T> gather_;
  int64_t i0_ = 0, p0_ = 0, kc_ = 0, packed_from_ = 0;
};

}  // namespace ember::cpu::gemm_detail
