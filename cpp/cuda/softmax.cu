// The softmax family and cross entropy, one block per row of a (rows, cols) contiguous array,
// with the formulas of cpu/activation.cpp and cpu/loss.cpp: the row max ignores NaN, exp is
// taken in T and summed in double, every sum is a fixed-order block tree.
//
// Cross entropy (logits (N, C), int64 targets, optional class weights w):
//   sums = (sum_i w[t_i] over non-ignored rows, sum_c w_c)      one block
//   l_i  = (1 - eps) w[t_i] (-logp[i, t_i]) + (eps / C) sum_c w_c (-logp[i, c])
//        where sum_c w_c (-logp_c) = W log_sum - sum_c w_c (x_c - max)
//   loss = sum_i l_i (/ sums[0] for 'mean')                    one block
// A target outside [0, C) that is not ignore_index is recorded in the error word (and its row
// is treated as ignored).
#include <cmath>

#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

unsigned row_threads(int64_t cols) {
  if (cols >= 256) return kThreads;
  if (cols >= 64) return 64;
  return 32;
}

template <typename T>
__device__ inline T row_max(const T* x, int64_t cols, double* smem) {
  T m = -infinity<T>();
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = x[j] > m ? x[j] : m;
  return static_cast<T>(block_reduce<double>(m, smem, MaxIgnoringNan{}));
}

template <typename T>
__device__ inline double exp_shifted_sum(const T* x, T shift, int64_t cols, double* smem) {
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += std::exp(x[j] - shift);
  return block_reduce<double>(s, smem, SumOp{});
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    softmax_forward_kernel(int64_t rows, int64_t cols, const T* x, T* y, bool log) {
  __shared__ double smem[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = row_max(xr, cols, smem);
    const double sum = exp_shifted_sum(xr, m, cols, smem);
    if (log) {
      const T log_sum = static_cast<T>(std::log(sum));
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = (xr[j] - m) - log_sum;
    } else {
      const T scale = static_cast<T>(1.0 / sum);
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        yr[j] = static_cast<T>(std::exp(xr[j] - m)) * scale;
    }
  }
}

// softmax: dx = y * (dy - sum(dy * y));  log_softmax: dx = dy - exp(y) * sum(dy).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    softmax_backward_kernel(int64_t rows, int64_t cols, const T* dy, const T* y, T* dx,
                            bool log) {
  __shared__ double smem[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* g = dy + r * cols;
    const T* yr = y + r * cols;
    T* d = dx + r * cols;
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
      s += log ? double(g[j]) : double(g[j]) * double(yr[j]);
    const T total = static_cast<T>(block_reduce<double>(s, smem, SumOp{}));
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
      d[j] = log ? g[j] - std::exp(yr[j]) * total : yr[j] * (g[j] - total);
  }
}

// ---- cross entropy ----------------------------------------------------------------------------

template <typename T>
__device__ inline double class_weight(const T* weight, int64_t c) {
  return weight ? double(weight[c]) : 1.0;
}

__device__ inline bool valid_target(int64_t t, int64_t C, int64_t ignore_index) {
  return t != ignore_index && t >= 0 && t < C;
}

// sums[0] = sum of w[t_i] over the valid rows, sums[1] = sum of all class weights.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    ce_weight_sums_kernel(int64_t N, int64_t C, const int64_t* target, const T* weight,
                          int64_t ignore_index, double* sums, int* err) {
  __shared__ double smem[kThreads];
  double rows = 0.0, classes = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const int64_t t = target[i];
    if (valid_target(t, C, ignore_index))
      rows += class_weight(weight, t);
    else if (t != ignore_index)
      atomicOr(err, kBadClassIndex);
  }
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) classes += class_weight(weight, c);
  rows = block_reduce<double>(rows, smem, SumOp{});
  classes = block_reduce<double>(classes, smem, SumOp{});
  if (threadIdx.x == 0) {
    sums[0] = rows;
    sums[1] = classes;
  }
}

// Row losses: to `loss` (reduction 'none') or to the double array `row_loss`.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    ce_forward_kernel(int64_t N, int64_t C, const T* logits, const int64_t* target,
                      const T* weight, int64_t ignore_index, double eps, T* loss,
                      double* row_loss) {
  __shared__ double smem[kThreads];
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const int64_t t = target[i];
    double l = 0.0;
    if (valid_target(t, C, ignore_index)) {  // the same branch for the whole block
      const T* x = logits + i * C;
      const T m = row_max(x, C, smem);
      const double log_sum = std::log(exp_shifted_sum(x, m, C, smem));
      l = (1.0 - eps) * class_weight(weight, t) * (log_sum - (double(x[t]) - double(m)));
      if (eps > 0.0) {
        double ws = 0.0, wx = 0.0;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
          const double w = class_weight(weight, c);
          ws += w;
          wx += w * (double(x[c]) - double(m));
        }
        ws = block_reduce<double>(ws, smem, SumOp{});
        wx = block_reduce<double>(wx, smem, SumOp{});
        l += eps / double(C) * (ws * log_sum - wx);
      }
    }
    if (threadIdx.x == 0) {
      if (loss)
        loss[i] = static_cast<T>(l);
      else
        row_loss[i] = l;
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    ce_total_kernel(int64_t N, const double* row_loss, const double* sums, bool mean, T* loss) {
  __shared__ double smem[kThreads];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += row_loss[i];
  s = block_reduce<double>(s, smem, SumOp{});
  if (threadIdx.x == 0) loss[0] = static_cast<T>(mean ? s / sums[0] : s);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    ce_backward_kernel(int64_t N, int64_t C, T* dlogits, const T* dloss, Reduction reduction,
                       const T* logits, const int64_t* target, const T* weight,
                       int64_t ignore_index, double eps, const double* sums) {
  __shared__ double smem[kThreads];
  const double smooth_scale = eps / double(C);
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const int64_t t = target[i];
    T* d = dlogits + i * C;
    if (!valid_target(t, C, ignore_index)) {
      for (int64_t j = threadIdx.x; j < C; j += blockDim.x) d[j] = T(0);
      continue;
    }
    double g = double(dloss[reduction == Reduction::None ? i : 0]);
    if (reduction == Reduction::Mean) g /= sums[0];
    const T* x = logits + i * C;
    const T m = row_max(x, C, smem);
    const double inv_sum = 1.0 / exp_shifted_sum(x, m, C, smem);
    const double target_term = (1.0 - eps) * class_weight(weight, t);
    const double p_coeff = target_term + (eps > 0.0 ? smooth_scale * sums[1] : 0.0);
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
      const double p = double(static_cast<T>(std::exp(x[j] - m))) * inv_sum;
      double dj = p_coeff * p;
      if (eps > 0.0) dj -= smooth_scale * class_weight(weight, j);
      if (j == t) dj -= target_term;
      d[j] = static_cast<T>(g * dj);
    }
  }
}

struct Rows {
  int64_t rows, cols;
};

Rows rows_of(const View& v, const char* op) {
  if (v.ndim < 1) throw_value_error(op, "expected an array with at least one dim");
  const int64_t cols = v.shape[v.ndim - 1];
  return {cols == 0 ? 0 : v.numel() / cols, cols};
}

void require_same(const View& a, const View& b, const char* op) {
  if (a.numel() != b.numel() || a.dtype != b.dtype)
    throw_value_error(op, "arrays must have one size and dtype");
}

}  // namespace

void softmax_forward(const View& y, const View& x, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  require_same(y, x, op);
  const Rows r = rows_of(x, op);
  if (r.rows == 0 || r.cols == 0) return;
  dispatch_float(x.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    launch(op, softmax_forward_kernel<T>, blocks_for(r.rows, 1), row_threads(r.cols), x.device,
           r.rows, r.cols, static_cast<const T*>(x.data), static_cast<T*>(y.data), log);
  });
}

void softmax_backward(const View& dx, const View& dy, const View& y, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  require_same(dx, y, op);
  require_same(dy, y, op);
  const Rows r = rows_of(y, op);
  if (r.rows == 0 || r.cols == 0) return;
  dispatch_float(y.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    launch(op, softmax_backward_kernel<T>, blocks_for(r.rows, 1), row_threads(r.cols), y.device,
           r.rows, r.cols, static_cast<const T*>(dy.data), static_cast<const T*>(y.data),
           static_cast<T*>(dx.data), log);
  });
}

void cross_entropy_forward(const View& loss, const View& logits, const View& target,
                           const View* weight, Reduction reduction, int64_t ignore_index,
                           double label_smoothing) {
  const char* op = "cross_entropy";
  if (logits.ndim != 2) throw_value_error(op, "logits must be (N, C)");
  const int64_t N = logits.shape[0], C = logits.shape[1];
  if (target.dtype != DType::Int64 || target.numel() != N)
    throw_value_error(op, "target must be int64 of N elements");
  if (weight && (weight->numel() != C || weight->dtype != logits.dtype))
    throw_value_error(op, "weight must have C elements of the logits' dtype");
  if (loss.numel() != (reduction == Reduction::None ? N : 1) || loss.dtype != logits.dtype)
    throw_value_error(op, "loss has the wrong size or dtype");
  dispatch_float(logits.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    const int dev = logits.device;
    const T* x = static_cast<const T*>(logits.data);
    const int64_t* t = static_cast<const int64_t*>(target.data);
    const T* w = weight ? static_cast<const T*>(weight->data) : nullptr;
    Scratch sums(2 * sizeof(double), dev);
    launch(op, ce_weight_sums_kernel<T>, 1, kThreads, dev, N, C, t, w, ignore_index,
           sums.as<double>(), error_word(dev));
    const unsigned threads = row_threads(C);
    if (reduction == Reduction::None) {
      if (N == 0) return;
      launch(op, ce_forward_kernel<T>, blocks_for(N, 1), threads, dev, N, C, x, t, w,
             ignore_index, label_smoothing, static_cast<T*>(loss.data),
             static_cast<double*>(nullptr));
      return;
    }
    Scratch row_loss(static_cast<size_t>(N > 0 ? N : 1) * sizeof(double), dev);
    if (N > 0)
      launch(op, ce_forward_kernel<T>, blocks_for(N, 1), threads, dev, N, C, x, t, w,
             ignore_index, label_smoothing, static_cast<T*>(nullptr), row_loss.as<double>());
    launch(op, ce_total_kernel<T>, 1, kThreads, dev, N, row_loss.as<const double>(),
           sums.as<const double>(), reduction == Reduction::Mean, static_cast<T*>(loss.data));
  });
}

void cross_entropy_backward(const View& dlogits, const View& dloss, const View& logits,
                            const View& target, const View* weight, Reduction reduction,
                            int64_t ignore_index, double label_smoothing) {
  const char* op = "cross_entropy_backward";
  if (logits.ndim != 2) throw_value_error(op, "logits must be (N, C)");
  const int64_t N = logits.shape[0], C = logits.shape[1];
  require_same(dlogits, logits, op);
  if (target.dtype != DType::Int64 || target.numel() != N)
    throw_value_error(op, "target must be int64 of N elements");
  if (weight && (weight->numel() != C || weight->dtype != logits.dtype))
    throw_value_error(op, "weight must have C elements of the logits' dtype");
  if (dloss.numel() != (reduction == Reduction::None ? N : 1) || dloss.dtype != logits.dtype)
    throw_value_error(op, "dout has the wrong size or dtype");
  if (N == 0) return;
  dispatch_float(logits.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    const int dev = logits.device;
    const int64_t* t = static_cast<const int64_t*>(target.data);
    const T* w = weight ? static_cast<const T*>(weight->data) : nullptr;
    Scratch sums(2 * sizeof(double), dev);
    launch(op, ce_weight_sums_kernel<T>, 1, kThreads, dev, N, C, t, w, ignore_index,
           sums.as<double>(), error_word(dev));
    launch(op, ce_backward_kernel<T>, blocks_for(N, 1), row_threads(C), dev, N, C,
           static_cast<T*>(dlogits.data), static_cast<const T*>(dloss.data), reduction,
           static_cast<const T*>(logits.data), t, w, ignore_index, label_smoothing,
           sums.as<const double>());
  });
}

}  // namespace ember::cuda
