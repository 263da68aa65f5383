// Large kernel outputs, kept for reuse after they are freed.
//
// A block of 32 MiB or more comes from mmap (glibc maps such blocks itself, and ember's malloc
// policy cannot move that bound: it is glibc's maximum). Every fresh mapping is zero-filled page
// by page as a kernel first writes it, which cost a 64 MiB ReLU forward ~6 ms of its ~16 ms on
// one core here; a training loop asks for the same sizes every step and paid that every time.
// Outputs of that size are therefore taken from this cache: a freed block is kept (up to
// kBlockCacheLimit bytes in all, the oldest given back first) and handed to the next request of
// nearly its size, already mapped. Smaller outputs stay with malloc, whose heap is kept (see
// malloc_policy.h).
#pragma once

#include <cstddef>

namespace ember {

constexpr size_t kBlockCacheFrom = size_t(32) << 20;
constexpr size_t kBlockCacheLimit = size_t(256) << 20;

// A block of at least `bytes` bytes, 64-byte aligned. Throws std::bad_alloc.
void* acquire_block(size_t bytes);
// Returns a block from acquire_block; it is cached or freed.
void release_block(void* block) noexcept;

struct BlockCacheStats {
  size_t cached_bytes, cached_blocks, live_blocks;
};
BlockCacheStats block_cache_stats();
// Frees every cached block (blocks still in use are untouched); returns the bytes given back.
size_t empty_block_cache() noexcept;

}  // namespace ember
