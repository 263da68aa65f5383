// The caching allocator: device memory is taken from cudaMalloc once and then recycled through
// free lists, one per size class and device, so a training step allocates nothing new after the
// first. Size classes are 512 bytes below 4 KiB, then four per power of two (4, 5, 6, 7 KiB, 8,
// 10, 12, 14 KiB, ...): at most 25% of a block is unused, and a size seen once is served again
// from its list.
//
// Reuse is safe without events because every kernel of a device runs on its one stream: a block
// freed after a kernel was queued and handed to a later kernel is only touched after the first
// kernel finished. When cudaMalloc fails, the cache is returned to the driver and the request
// retried once.
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

struct DevicePool {
  std::map<size_t, std::vector<void*>> free_lists;
  size_t allocated = 0;  // bytes in live blocks (their class sizes)
  size_t cached = 0;     // bytes in the free lists
};

// Leaked on purpose: buffers may be released while the interpreter shuts down, after static
// destructors would have run.
std::mutex& pool_mutex() {
  static auto* m = new std::mutex;
  return *m;
}

std::map<int, DevicePool>& pools() {
  static auto* p = new std::map<int, DevicePool>;
  return *p;
}

size_t size_class(size_t n) {
  constexpr size_t kSmall = 4096;
  if (n <= kSmall) return n <= 512 ? 512 : (n + 511) / 512 * 512;
  size_t octave = kSmall;
  while (octave * 2 < n) octave *= 2;
  const size_t step = octave / 4;
  return (n + step - 1) / step * step;
}

void free_cached(DevicePool& pool) {
  for (auto& [bytes, list] : pool.free_lists) {
    for (void* p : list) cudaFree(p);
    pool.cached -= bytes * list.size();
    list.clear();
  }
}

}  // namespace

void* allocate(size_t nbytes, int device, size_t* reserved_bytes) {
  const size_t bytes = size_class(nbytes);
  *reserved_bytes = bytes;
  std::lock_guard<std::mutex> lock(pool_mutex());
  DevicePool& pool = pools()[device];
  auto& list = pool.free_lists[bytes];
  if (!list.empty()) {
    void* p = list.back();
    list.pop_back();
    pool.cached -= bytes;
    pool.allocated += bytes;
    return p;
  }
  stream_for(device);  // makes the device current (and initializes it)
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    free_cached(pool);
    err = cudaMalloc(&p, bytes);
  }
  if (err != cudaSuccess) {
    // A failed cudaMalloc also leaves its error as the "last error"; clear it, or the next
    // kernel launch's check would report this allocation's failure as its own.
    cudaGetLastError();
    throw std::runtime_error("[cuda alloc] CUDA error " + std::string(cudaGetErrorName(err)) +
                             ": " + cudaGetErrorString(err) + " while allocating " +
                             std::to_string(nbytes) + " bytes on cuda:" + std::to_string(device) +
                             " (" + std::to_string(pool.allocated) + " bytes in use)");
  }
  pool.allocated += bytes;
  return p;
}

void release(void* ptr, size_t reserved_bytes, int device) noexcept {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(pool_mutex());
  DevicePool& pool = pools()[device];
  pool.free_lists[reserved_bytes].push_back(ptr);
  pool.allocated -= reserved_bytes;
  pool.cached += reserved_bytes;
}

void empty_cache() {
  std::lock_guard<std::mutex> lock(pool_mutex());
  for (auto& [device, pool] : pools()) {
    // Blocks in the lists may still be read by queued kernels: let them finish first.
    stream_for(device);
    check(cudaDeviceSynchronize(), "empty_cache");
    free_cached(pool);
  }
}

size_t memory_allocated(int device) {
  std::lock_guard<std::mutex> lock(pool_mutex());
  auto it = pools().find(device);
  return it == pools().end() ? 0 : it->second.allocated;
}

size_t memory_reserved(int device) {
  std::lock_guard<std::mutex> lock(pool_mutex());
  auto it = pools().find(device);
  return it == pools().end() ? 0 : it->second.allocated + it->second.cached;
}

}  // namespace ember::cuda
