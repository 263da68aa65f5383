// A host emulation of the small part of CUDA that ember's kernels use, for testing them on
// machines without a GPU (cmake -DEMBER_CUDA=EMULATE). Device memory is host memory, streams
// are immediate, and a launch runs each block's threads as cooperative fibers on the calling
// thread: a thread runs until it reaches __syncthreads() or returns, then the next one runs.
// Between two barriers the threads run in an order that changes from phase to phase (forward,
// backward, shuffled), so a missing __syncthreads shows up as wrong results. Blocks run one after
// another, which is why __shared__ can simply mean `static`.
//
// Not emulated (and not used by the kernels): warp intrinsics, dynamic shared memory, streams
// running concurrently, more than one device.
#pragma once

#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;

inline dim3 threadIdx, blockIdx, blockDim, gridDim;

enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorInvalidDevice = 101 };
enum cudaMemcpyKind {
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3
};
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
using cudaStream_t = struct EmulatedStream*;
constexpr unsigned cudaStreamNonBlocking = 1;

struct cudaDeviceProp {
  char name[256];
  int multiProcessorCount;
  int major, minor;
};

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
  }
  return "unknown error";
}
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
  }
  return "cudaErrorUnknown";
}
// As CUDA: a failing runtime call also becomes the thread's "last error", which
// cudaGetLastError returns and clears (so a check after a later launch sees it unless cleared).
inline cudaError_t& emulated_last_error() {
  thread_local cudaError_t error = cudaSuccess;
  return error;
}
inline cudaError_t record_error(cudaError_t e) {
  if (e != cudaSuccess) emulated_last_error() = e;
  return e;
}
inline cudaError_t cudaGetLastError() { return std::exchange(emulated_last_error(), cudaSuccess); }
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) {
  return record_error(d == 0 ? cudaSuccess : cudaErrorInvalidDevice);
}
inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof(*p));
  std::strcpy(p->name, "host emulation");
  p->multiProcessorCount = 4;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) {
  *v = 4;
  return cudaSuccess;
}
inline cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 0;
  return cudaSuccess;
}
inline cudaError_t cudaDriverGetVersion(int* v) {
  *v = 0;
  return cudaSuccess;
}
inline cudaError_t cudaMalloc(void** p, size_t n) {
  // Filled with a NaN-like pattern so that reading memory a kernel never wrote is visible.
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  if (!*p) return record_error(cudaErrorMemoryAllocation);
  std::memset(*p, 0xff, n);
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (n) std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k,
                                   cudaStream_t) {
  return cudaMemcpy(d, s, n, k);
}
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t) {
  if (n) std::memset(d, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = nullptr;
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

template <typename T>
inline T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
inline int atomicOr(int* p, int v) {
  const int old = *p;
  *p = old | v;
  return old;
}

namespace ember::cuda::emulation {

struct Fiber {
  ucontext_t context;
  std::vector<char> stack;
  dim3 thread;
  bool done = false;
};

struct Scheduler {
  ucontext_t main;
  std::vector<Fiber> fibers;
  const std::function<void()>* body = nullptr;
  Fiber* current = nullptr;
  uint64_t rng = 0x9E3779B97F4A7C15ull;
};

inline Scheduler& scheduler() {
  static Scheduler s;
  return s;
}

inline void fiber_entry() {
  Scheduler& s = scheduler();
  (*s.body)();
  s.current->done = true;  // returning resumes uc_link, the scheduler
}

// Runs every thread of one block to completion, phase by phase.
inline void run_block(const std::function<void()>& body, dim3 block) {
  Scheduler& s = scheduler();
  const size_t n = static_cast<size_t>(block.x) * block.y * block.z;
  constexpr size_t kStack = 128 * 1024;
  if (s.fibers.size() < n) s.fibers.resize(n);
  s.body = &body;
  for (size_t t = 0; t < n; ++t) {
    Fiber& f = s.fibers[t];
    if (f.stack.size() < kStack) f.stack.resize(kStack);
    f.thread = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
    f.done = false;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.data();
    f.context.uc_stack.ss_size = f.stack.size();
    f.context.uc_link = &s.main;
    makecontext(&f.context, fiber_entry, 0);
  }
  std::vector<size_t> order(n);
  for (int phase = 0;; ++phase) {
    for (size_t i = 0; i < n; ++i) order[i] = i;
    if (phase % 3 == 1) {
      for (size_t i = 0; i < n / 2; ++i) std::swap(order[i], order[n - 1 - i]);
    } else if (phase % 3 == 2) {
      for (size_t i = n; i > 1; --i) {
        s.rng = s.rng * 6364136223846793005ull + 1442695040888963407ull;
        std::swap(order[i - 1], order[(s.rng >> 33) % i]);
      }
    }
    bool alive = false;
    for (size_t i : order) {
      Fiber& f = s.fibers[i];
      if (f.done) continue;
      threadIdx = f.thread;
      s.current = &f;
      swapcontext(&s.main, &f.context);
      alive = alive || !f.done;
    }
    if (!alive) break;
  }
}

// Called by __syncthreads: back to the scheduler until every thread of the block got here.
inline void barrier() {
  Scheduler& s = scheduler();
  Fiber* me = s.current;
  swapcontext(&me->context, &s.main);
}

template <typename... Params>
void run(void (*kernel)(Params...), dim3 grid, dim3 block, Params... args) {
  std::tuple<Params...> params(args...);
  const std::function<void()> body = [&] { std::apply(kernel, params); };
  gridDim = grid;
  blockDim = block;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = dim3(x, y, z);
        run_block(body, block);
      }
}

}  // namespace ember::cuda::emulation

inline void __syncthreads() { ember::cuda::emulation::barrier(); }
