// Inverted dropout on the Philox stream of cpu/philox.h, drawing exactly the CPU's mask:
// element i uses stream position e = offset + i, i.e. word e % 4 of the Philox call with
// counter e / 4, and is kept iff (word >> 8) >= ceil(p * 2^24); kept elements become
// x / (1 - p) (computed as x * 1 / (1 - p), as on the CPU).
//
// One thread per Philox call (group of 4 stream positions): group j covers elements
// 4j - head .. 4j - head + 3 with head = offset % 4, clipped to [0, n).
#include <cmath>

#include "cpu/philox.h"
#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

template <typename T>
__global__ void dropout_kernel(int64_t n, T* out, const T* x, uint64_t seed, uint64_t offset,
                               int32_t threshold, T keep_prob) {
  constexpr uint64_t kGroupMask = (uint64_t{1} << 62) - 1;  // positions wrap modulo 2^64
  const int64_t head = static_cast<int64_t>(offset & 3);
  const int64_t groups = (n + head + 3) / 4;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < groups;
       j += int64_t(gridDim.x) * blockDim.x) {
    const philox::Counter words = philox::group_words(seed, ((offset >> 2) + j) & kGroupMask);
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * j - head + lane;
      if (i < 0 || i >= n) continue;
      const bool kept = static_cast<int32_t>(philox::uniform24(words.w[lane])) >= threshold;
      out[i] = x[i] * (kept ? T(1) : T(0)) / keep_prob;
    }
  }
}

template <typename T>
__global__ void scale_kernel(int64_t n, T* out, const T* x, T factor) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = x[i] * factor;
}

}  // namespace

void dropout(const View& out, const View& x, double p, uint64_t seed, uint64_t offset) {
  const char* op = "dropout";
  if (out.numel() != x.numel() || out.dtype != x.dtype)
    throw_value_error(op, "out must have x's size and dtype");
  if (!(p >= 0.0 && p <= 1.0)) throw_value_error(op, "p must be in [0, 1]");
  const int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(x.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    T* y = static_cast<T*>(out.data);
    const T* in = static_cast<const T*>(x.data);
    if (p == 0.0 || p >= 1.0) {
      // Identity, or x * 0 (not 0) so that NaN and inf propagate as in PyTorch.
      launch(op, scale_kernel<T>, blocks_for(n), kThreads, x.device, n, y, in,
             p == 0.0 ? T(1) : T(0));
      return;
    }
    const int32_t threshold = static_cast<int32_t>(std::ceil(std::ldexp(p, 24)));
    const int64_t groups = (n + static_cast<int64_t>(offset & 3) + 3) / 4;
    launch(op, dropout_kernel<T>, blocks_for(groups), kThreads, x.device, n, y, in, seed, offset,
           threshold, static_cast<T>(1.0 - p));
  });
}

}  // namespace ember::cuda
