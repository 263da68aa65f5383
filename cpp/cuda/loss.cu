// Element-wise losses (MSE, BCE, BCE with logits), forward and backward, with the formulas of
// cpu/loss.cpp. A reduced loss is the element values (computed in T, as on the CPU) summed in
// double by the reduce kernel, times 1/n for 'mean'. Probabilities outside [0, 1] given to BCE
// are recorded in the error word.
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/scalar_math.cuh"

namespace ember::cuda {

namespace {

template <typename T>
__device__ inline T pos_weight_factor(const T* pos_weight, int64_t i, int64_t cols, T t) {
  return pos_weight ? T(1) + (pos_weight[i % cols] - T(1)) * t : T(1);
}

template <typename T>
__device__ inline T loss_value(PointLoss kind, T x, T t, T lw) {
  switch (kind) {
    case PointLoss::Mse: {
      const T d = x - t;
      return d * d;
    }
    case PointLoss::Bce: {
      const T log_p = std::log(x), log_1mp = std::log1p(-x);
      const T a = log_p > T(-100) ? log_p : T(-100);
      const T b = log_1mp > T(-100) ? log_1mp : T(-100);
      return -(t * a + (T(1) - t) * b);
    }
    case PointLoss::BceWithLogits: {
      const T softplus_neg = std::log1p(std::exp(-std::fabs(x))) + (-x > T(0) ? -x : T(0));
      return (T(1) - t) * x + lw * softplus_neg;
    }
  }
  return T(0);
}

// d loss / d x for one element.
template <typename T>
__device__ inline T loss_derivative(PointLoss kind, T x, T t, T lw) {
  switch (kind) {
    case PointLoss::Mse: return T(2) * (x - t);
    case PointLoss::Bce: {
      const T q = x * (T(1) - x);
      return (x - t) / (q > T(1e-12) ? q : T(1e-12));
    }
    case PointLoss::BceWithLogits: return (T(1) - t) - lw * sigmoid(-x);
  }
  return T(0);
}

template <typename T>
__global__ void point_loss_kernel(PointLoss kind, int64_t n, const T* x, const T* target,
                                  const T* pos_weight, int64_t cols, T* out, int* err) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T xi = x[i], t = target[i];
    if (kind == PointLoss::Bce && !(xi >= T(0) && xi <= T(1))) atomicOr(err, kBadProbability);
    out[i] = loss_value(kind, xi, t, pos_weight_factor(pos_weight, i, cols, t));
  }
}

// dx = g * derivative, g = dloss[i] for 'none', else dloss[0] (/ n for 'mean').
template <typename T>
__global__ void point_loss_backward_kernel(PointLoss kind, int64_t n, T* dx, const T* dloss,
                                           Reduction reduction, const T* x, const T* target,
                                           const T* pos_weight, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    T g;
    if (reduction == Reduction::None)
      g = dloss[i];
    else if (reduction == Reduction::Mean)
      g = static_cast<T>(double(dloss[0]) / double(n));
    else
      g = dloss[0];
    const T t = target[i];
    dx[i] = g * loss_derivative(kind, x[i], t, pos_weight_factor(pos_weight, i, cols, t));
  }
}

int64_t check_point_loss(const View& x, const View& target, const View* pos_weight,
                         const char* op) {
  if (target.numel() != x.numel() || target.dtype != x.dtype)
    throw_value_error(op, "x and target must have one size and dtype");
  const int64_t cols = x.ndim > 0 ? x.shape[x.ndim - 1] : 1;
  if (pos_weight && (pos_weight->numel() != cols || pos_weight->dtype != x.dtype))
    throw_value_error(op, "pos_weight must have x.shape[-1] elements of x's dtype");
  return cols > 0 ? cols : 1;
}

const char* loss_name(PointLoss kind) {
  switch (kind) {
    case PointLoss::Mse: return "mse";
    case PointLoss::Bce: return "bce";
    case PointLoss::BceWithLogits: return "bce_with_logits";
  }
  return "loss";
}

}  // namespace

void point_loss_forward(PointLoss kind, const View& loss, const View& x, const View& target,
                        const View* pos_weight, Reduction reduction) {
  const char* op = loss_name(kind);
  const int64_t cols = check_point_loss(x, target, pos_weight, op);
  const int64_t n = x.numel();
  if (loss.dtype != x.dtype || loss.numel() != (reduction == Reduction::None ? n : 1))
    throw_value_error(op, "loss has the wrong size or dtype");
  dispatch_float(x.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    const int dev = x.device;
    const T* pw = pos_weight ? static_cast<const T*>(pos_weight->data) : nullptr;
    if (reduction == Reduction::None) {
      if (n > 0)
        launch(op, point_loss_kernel<T>, blocks_for(n), kThreads, dev, kind, n,
               static_cast<const T*>(x.data), static_cast<const T*>(target.data), pw, cols,
               static_cast<T*>(loss.data), error_word(dev));
      return;
    }
    Scratch values(static_cast<size_t>(n > 0 ? n : 1) * sizeof(T), dev);
    if (n > 0)
      launch(op, point_loss_kernel<T>, blocks_for(n), kThreads, dev, kind, n,
             static_cast<const T*>(x.data), static_cast<const T*>(target.data), pw, cols,
             values.as<T>(), error_word(dev));
    const double scale = reduction == Reduction::Mean ? 1.0 / double(n) : 1.0;
    reduce(ReduceOp::Sum, loss, contiguous_view(values.as<void>(), x.dtype, dev, {n}), 1, scale);
  });
}

void point_loss_backward(PointLoss kind, const View& dx, const View& dloss, const View& x,
                         const View& target, const View* pos_weight, Reduction reduction) {
  const char* op = loss_name(kind);
  const int64_t cols = check_point_loss(x, target, pos_weight, op);
  const int64_t n = x.numel();
  if (dx.dtype != x.dtype || dx.numel() != n) throw_value_error(op, "dx has the wrong size");
  if (dloss.dtype != x.dtype || dloss.numel() != (reduction == Reduction::None ? n : 1))
    throw_value_error(op, "dout has the wrong size or dtype");
  if (n == 0) return;
  dispatch_float(x.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    launch(op, point_loss_backward_kernel<T>, blocks_for(n), kThreads, x.device, kind, n,
           static_cast<T*>(dx.data), static_cast<const T*>(dloss.data), reduction,
           static_cast<const T*>(x.data), static_cast<const T*>(target.data),
           pos_weight ? static_cast<const T*>(pos_weight->data) : nullptr, cols);
  });
}

}  // namespace ember::cuda
