#include "cpu/block_cache.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cpu/huge_pages.h"

namespace ember {

namespace {

class BlockCache {
 public:
  void* acquire(size_t bytes) {
    // Whole huge pages, so that requests differing by a few rows share blocks.
    const size_t size = round_to_huge_pages(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // The smallest cached block that fits without wasting more than an eighth of itself; of
      // equal ones the last freed, whose lines are the likeliest still in cache.
      auto best = free_.end();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->second >= size && it->second - size <= it->second / 8 &&
            (best == free_.end() || it->second <= best->second))
          best = it;
      if (best != free_.end()) {
        void* block = best->first;
        live_[block] = best->second;
        cached_bytes_ -= best->second;
        free_.erase(best);
        return block;
      }
    }
    void* block = allocate_huge(size);
    std::lock_guard<std::mutex> lock(mutex_);
    live_[block] = size;
    return block;
  }

  void release(void* block) noexcept {
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = live_.find(block);
      if (it == live_.end()) return;
      const size_t size = it->second;
      live_.erase(it);
      if (size > kBlockCacheLimit) {
        evicted.push_back(block);
      } else {
        free_.emplace_back(block, size);
        cached_bytes_ += size;
        while (cached_bytes_ > kBlockCacheLimit) {  // oldest first
          evicted.push_back(free_.front().first);
          cached_bytes_ -= free_.front().second;
          free_.erase(free_.begin());
        }
      }
    }
    for (void* p : evicted) free_huge(p);
  }

  size_t empty() noexcept {
    std::vector<std::pair<void*, size_t>> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      evicted.swap(free_);
      cached_bytes_ = 0;
    }
    size_t bytes = 0;
    for (const auto& [block, size] : evicted) {
      free_huge(block);
      bytes += size;
    }
    return bytes;
  }

  BlockCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_bytes_, free_.size(), live_.size()};
  }

 private:
  std::mutex mutex_;
  std::unordered_map<void*, size_t> live_;
  std::vector<std::pair<void*, size_t>> free_;  // in the order they were released
  size_t cached_bytes_ = 0;
};

// Never destroyed: arrays may still give blocks back while the interpreter shuts down.
BlockCache& cache() {
  static BlockCache* const instance = new BlockCache;
  return *instance;
}

}  // namespace

void* acquire_block(size_t bytes) { return cache().acquire(bytes); }
void release_block(void* block) noexcept { cache().release(block); }
BlockCacheStats block_cache_stats() { return cache().stats(); }
size_t empty_block_cache() noexcept { return cache().empty(); }

}  // namespace ember
