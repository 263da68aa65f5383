// 2-D max and average pooling with the semantics of cpu/pool.h: x is (N, C, H, W) seen as
// `planes` = N*C planes; window (i, j) covers rows i*sh - ph .. i*sh - ph + kh - 1 (likewise
// columns); max treats padding as -inf and records the flat index h*W + w of the first maximum
// (a NaN wins); avg divides by the window clipped to the padded input (count_include_pad) or to
// the image.
//
// Forward: one thread per output. avg backward: one thread per INPUT pixel, summing the outputs
// whose window holds it, so every dx element has one writer (no atomics, deterministic).
// max backward needs no kernel of its own: it scatter-adds dy at the recorded indices
// (cuda::scatter), which is deterministic whenever windows do not overlap.
#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

struct Window {
  int64_t h0, h1, w0, w1, padded_count;
};

__device__ inline Window window_of(const Pool2d& s, int64_t i, int64_t j) {
  const int64_t hs = i * s.sh - s.ph, ws = j * s.sw - s.pw;
  const int64_t he = hs + s.kh < s.H + s.ph ? hs + s.kh : s.H + s.ph;
  const int64_t we = ws + s.kw < s.W + s.pw ? ws + s.kw : s.W + s.pw;
  Window w;
  w.padded_count = (he - hs) * (we - ws);
  w.h0 = hs > 0 ? hs : 0;
  w.w0 = ws > 0 ? ws : 0;
  w.h1 = he < s.H ? he : s.H;
  w.w1 = we < s.W ? we : s.W;
  return w;
}

__device__ inline int64_t divisor(const Window& w, bool count_include_pad) {
  return count_include_pad ? w.padded_count : (w.h1 - w.h0) * (w.w1 - w.w0);
}

// The output rows whose windows contain input row h: i*sh - ph <= h < i*sh - ph + kh.
__device__ inline void covering(int64_t h, int64_t k, int64_t stride, int64_t pad, int64_t out,
                                int64_t* first, int64_t* last) {
  const int64_t top = h + pad - k + 1;  // i*stride >= top
  *first = top <= 0 ? 0 : (top + stride - 1) / stride;
  const int64_t l = (h + pad) / stride;
  *last = l < out - 1 ? l : out - 1;
}

template <typename T>
__global__ void max_pool_forward_kernel(Pool2d s, T* y, int64_t* indices, const T* x) {
  const int64_t total = s.planes * s.OH * s.OW;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % s.OW, i = (e / s.OW) % s.OH, plane = e / (s.OW * s.OH);
    const T* xp = x + plane * s.H * s.W;
    const Window w = window_of(s, i, j);
    T best = -infinity<T>();
    int64_t best_at = w.h0 * s.W + w.w0;
    for (int64_t h = w.h0; h < w.h1; ++h)
      for (int64_t c = w.w0; c < w.w1; ++c) {
        const T v = xp[h * s.W + c];
        if (v > best || is_nan(v)) {
          best = v;
          best_at = h * s.W + c;
        }
      }
    y[e] = best;
    indices[e] = best_at;
  }
}

template <typename T>
__global__ void avg_pool_forward_kernel(Pool2d s, T* y, const T* x, bool count_include_pad) {
  const int64_t total = s.planes * s.OH * s.OW;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % s.OW, i = (e / s.OW) % s.OH, plane = e / (s.OW * s.OH);
    const T* xp = x + plane * s.H * s.W;
    const Window w = window_of(s, i, j);
    double sum = 0.0;
    for (int64_t h = w.h0; h < w.h1; ++h)
      for (int64_t c = w.w0; c < w.w1; ++c) sum += xp[h * s.W + c];
    y[e] = static_cast<T>(sum / static_cast<double>(divisor(w, count_include_pad)));
  }
}

template <typename T>
__global__ void avg_pool_backward_kernel(Pool2d s, T* dx, const T* dy, bool count_include_pad) {
  const int64_t total = s.planes * s.H * s.W;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = e % s.W, h = (e / s.W) % s.H, plane = e / (s.W * s.H);
    const T* g = dy + plane * s.OH * s.OW;
    int64_t i0, i1, j0, j1;
    covering(h, s.kh, s.sh, s.ph, s.OH, &i0, &i1);
    covering(w, s.kw, s.sw, s.pw, s.OW, &j0, &j1);
    T sum = T(0);
    for (int64_t i = i0; i <= i1; ++i)
      for (int64_t j = j0; j <= j1; ++j)
        sum += g[i * s.OW + j] / static_cast<T>(divisor(window_of(s, i, j), count_include_pad));
    dx[e] = sum;
  }
}

void require_pool(const Pool2d& s, const View& in, const View& out, const char* op) {
  if (in.numel() != s.planes * s.H * s.W || out.numel() != s.planes * s.OH * s.OW)
    throw_value_error(op, "array sizes do not match the pooling geometry");
  if (in.dtype != out.dtype) throw_value_error(op, "input and output must have one dtype");
}

}  // namespace

void max_pool2d_forward(const Pool2d& s, const View& y, const View& indices, const View& x) {
  const char* op = "max_pool2d";
  require_pool(s, x, y, op);
  if (indices.dtype != DType::Int64 || indices.numel() != y.numel())
    throw_value_error(op, "indices must be int64 with y's size");
  dispatch_float(x.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    launch(op, max_pool_forward_kernel<T>, blocks_for(y.numel()), kThreads, x.device, s,
           static_cast<T*>(y.data), static_cast<int64_t*>(indices.data),
           static_cast<const T*>(x.data));
  });
}

void avg_pool2d_forward(const Pool2d& s, const View& y, const View& x, bool count_include_pad) {
  const char* op = "avg_pool2d";
  require_pool(s, x, y, op);
  dispatch_float(x.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    launch(op, avg_pool_forward_kernel<T>, blocks_for(y.numel()), kThreads, x.device, s,
           static_cast<T*>(y.data), static_cast<const T*>(x.data), count_include_pad);
  });
}

void avg_pool2d_backward(const Pool2d& s, const View& dx, const View& dy,
                         bool count_include_pad) {
  const char* op = "avg_pool2d_backward";
  require_pool(s, dx, dy, op);
  dispatch_float(dx.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    launch(op, avg_pool_backward_kernel<T>, blocks_for(dx.numel()), kThreads, dx.device, s,
           static_cast<T*>(dx.data), static_cast<const T*>(dy.data), count_include_pad);
  });
}

}  // namespace ember::cuda
