// What every kernel file shares: the CUDA runtime (or its host emulation), error checks, the
// launch helper, strided index arithmetic, dtype loads/stores and a block reduction.
//
// Kernels use grid-stride loops in every grid dimension, so any grid size is correct: the
// launch helper caps grids (and the emulated build caps them at a few blocks, which exercises
// the loops). Block reductions use shared memory and __syncthreads only (no warp shuffles), so
// they have no warp-size assumptions and run unchanged under the emulator.
#pragma once

#ifdef EMBER_CUDA_EMULATION
#include "cuda/emulation.h"
#else
#include <cuda_runtime.h>
#endif

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "cuda/api.h"

namespace ember::cuda {

// ---- errors and launches --------------------------------------------------------------------

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* op);
[[noreturn]] void throw_value_error(const char* op, const std::string& msg);

inline void check(cudaError_t err, const char* op) {
  if (err != cudaSuccess) throw_cuda_error(err, op);
}

// The device's stream (created on first use). Also makes `device` the current device.
cudaStream_t stream_for(int device);
// A device int that kernels set to a nonzero ErrorCode when they meet invalid data (a class
// index out of range, ...); synchronize() and copies to the host report and clear it.
int* error_word(int device);

enum ErrorCode : int {
  kBadClassIndex = 1,
  kBadProbability = 2,
  kBadIndex = 4,
};

constexpr int kThreads = 256;
#ifdef EMBER_CUDA_EMULATION
constexpr int64_t kMaxBlocks = 3;
constexpr int64_t kMaxGridYZ = 2;
#else
constexpr int64_t kMaxBlocks = 4096;
constexpr int64_t kMaxGridYZ = 65535;
#endif

inline unsigned blocks_for(int64_t work, int threads = kThreads) {
  int64_t blocks = (work + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

inline unsigned grid_yz(int64_t n) {
  return static_cast<unsigned>(n < 1 ? 1 : (n < kMaxGridYZ ? n : kMaxGridYZ));
}

template <typename... Params, typename... Args>
void launch(const char* op, void (*kernel)(Params...), dim3 grid, dim3 block, int device,
            Args... args) {
  cudaStream_t stream = stream_for(device);
#ifdef EMBER_CUDA_EMULATION
  (void)stream;
  emulation::run(kernel, grid, block, static_cast<Params>(args)...);
#else
  kernel<<<grid, block, 0, stream>>>(static_cast<Params>(args)...);
#endif
  check(cudaGetLastError(), op);
}

// ---- strided indexing -----------------------------------------------------------------------

struct Dims {
  int ndim;
  int64_t size[kMaxDims];
};
struct Strides {
  int64_t s[kMaxDims];
};

// Element offset of row-major linear index i of `dims` under `st`. The loop is unrolled over
// kMaxDims with a guard so that dims and strides stay in registers/parameter space.
__device__ inline int64_t offset_of(int64_t i, const Dims& dims, const Strides& st) {
  int64_t off = 0;
#pragma unroll
  for (int d = kMaxDims - 1; d >= 1; --d) {
    if (d < dims.ndim) {
      const int64_t q = i / dims.size[d];
      off += (i - q * dims.size[d]) * st.s[d];
      i = q;
    }
  }
  return off + i * st.s[0];
}

// Host-side helpers (element.cu): strides of a view, and merging of dims that every operand
// walks contiguously, so that most element-wise launches see a single dim.
Strides strides_of(const View& v);
Dims dims_of(const View& v);
// Collapses dims of `dims` in place (and of each stride set); drops size-1 dims; ndim >= 1.
void collapse(Dims& dims, Strides* strides[], int count);

// ---- dtypes ---------------------------------------------------------------------------------

// Reads element `off` of an array of runtime dtype `dt` as A (double or int64_t).
template <typename A>
__host__ __device__ inline A load_as(const void* p, DType dt, int64_t off) {
  switch (dt) {
    case DType::Bool: return A(static_cast<const uint8_t*>(p)[off] != 0);
    case DType::UInt8: return A(static_cast<const uint8_t*>(p)[off]);
    case DType::Int32: return A(static_cast<const int32_t*>(p)[off]);
    case DType::Int64: return A(static_cast<const int64_t*>(p)[off]);
    case DType::Float32: return A(static_cast<const float*>(p)[off]);
    case DType::Float64: return A(static_cast<const double*>(p)[off]);
  }
  return A(0);
}

template <typename A>
__host__ __device__ inline void store_as(void* p, DType dt, int64_t off, A v) {
  switch (dt) {
    case DType::Bool: static_cast<uint8_t*>(p)[off] = v != A(0); break;
    case DType::UInt8: static_cast<uint8_t*>(p)[off] = static_cast<uint8_t>(v); break;
    case DType::Int32: static_cast<int32_t*>(p)[off] = static_cast<int32_t>(v); break;
    case DType::Int64: static_cast<int64_t*>(p)[off] = static_cast<int64_t>(v); break;
    case DType::Float32: static_cast<float*>(p)[off] = static_cast<float>(v); break;
    case DType::Float64: static_cast<double*>(p)[off] = static_cast<double>(v); break;
  }
}

// Calls f(T{}) with the C++ type of a numeric dtype (Bool computes as uint8_t).
template <typename F>
void dispatch_dtype(DType dt, F&& f) {
  switch (dt) {
    case DType::Bool:
    case DType::UInt8: f(uint8_t{}); break;
    case DType::Int32: f(int32_t{}); break;
    case DType::Int64: f(int64_t{}); break;
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
  }
}

template <typename F>
void dispatch_float(DType dt, const char* op, F&& f) {
  if (dt == DType::Float32)
    f(float{});
  else if (dt == DType::Float64)
    f(double{});
  else
    throw_value_error(op, std::string("expected float32 or float64, got ") + dtype_name(dt));
}

template <typename T>
__host__ __device__ inline bool is_nan(T x) {
  return x != x;  // false for integers
}

template <typename T>
__host__ __device__ inline T infinity() {
  return static_cast<T>(HUGE_VAL);
}

// Accumulator type: double for floating types (float32 sums are accumulated in double, as on
// the CPU), int64 for integers.
template <typename T>
using Acc = std::conditional_t<std::is_floating_point<T>::value, double, int64_t>;

// ---- block reduction ------------------------------------------------------------------------

// Combines one value per thread of the block (blockDim.x a power of two, at most kThreads) in a
// fixed tree order, so the result does not depend on timing. Every thread gets the result.
template <typename A, typename Combine>
__device__ inline A block_reduce(A v, A* smem, Combine combine) {
  const int t = threadIdx.x;
  smem[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) smem[t] = combine(smem[t], smem[t + s]);
    __syncthreads();
  }
  const A r = smem[0];
  __syncthreads();  // smem may be reused right after
  return r;
}

struct SumOp {
  template <typename A>
  __device__ A operator()(A a, A b) const {
    return a + b;
  }
};
struct MaxIgnoringNan {  // the CPU's row_max: NaN entries never win
  template <typename A>
  __device__ A operator()(A a, A b) const {
    return b > a ? b : a;
  }
};

// A contiguous float scratch array from the caching allocator, released with the object.
class Scratch {
 public:
  Scratch(size_t nbytes, int device);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_;
  size_t reserved_;
  int device_;
};

// A contiguous view over a scratch array or raw pointer (for composing kernels on the host).
View contiguous_view(void* data, DType dtype, int device, std::initializer_list<int64_t> shape);

}  // namespace ember::cuda
