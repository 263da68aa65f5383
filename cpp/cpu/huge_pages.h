// Large, long-lived buffers on 2 MiB pages: GEMM's packing buffers and the block cache's kernel
// outputs. Where Linux backs them with transparent huge pages, a buffer takes one TLB entry per
// 2 MiB instead of 512 (numpy advises its own large arrays the same way).
#pragma once

#include <cstddef>

namespace ember {

constexpr size_t kHugePage = size_t(2) << 20;

// `bytes` rounded up to whole huge pages.
constexpr size_t round_to_huge_pages(size_t bytes) {
  return (bytes + kHugePage - 1) / kHugePage * kHugePage;
}

// A block of `bytes` (a multiple of kHugePage), kHugePage-aligned and advised as huge pages.
// Throws std::bad_alloc.
void* allocate_huge(size_t bytes);
void free_huge(void* block) noexcept;

}  // namespace ember
