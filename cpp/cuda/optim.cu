// Fused SGD and Adam steps, in place, one thread per element, with the update rules of
// cpu/optim.h operation for operation (scalar coefficients computed in double on the host and
// rounded to T once).
#include <cfloat>
#include <cmath>
#include <string>

#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

// Optimizer state below 256x the smallest normal is stored as zero, as cpu/optim.cpp does (where
// subnormals are slow), so that both devices keep the same state.
template <typename T>
__device__ inline T flush_tiny(T x) {
  T smallest_normal;  // numeric_limits is host-only in device code
  if constexpr (sizeof(T) == sizeof(float)) {
    smallest_normal = FLT_MIN;
  } else {
    smallest_normal = DBL_MIN;
  }
  return (x < T(0) ? -x : x) < smallest_normal * T(256) ? T(0) : x;
}

template <typename T>
struct SgdArgs {
  T weight_decay, momentum, one_minus_dampening, neg_lr;
  bool decay, use_momentum, nesterov, maximize, first_step;
};

template <typename T>
__global__ void sgd_kernel(int64_t n, T* param, T* buffer, const T* grad, SgdArgs<T> a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    T g = a.maximize ? -grad[i] : grad[i];
    if (a.decay) g = g + a.weight_decay * param[i];
    if (a.use_momentum) {
      const T buf =
          flush_tiny(a.first_step ? g : buffer[i] * a.momentum + a.one_minus_dampening * g);
      buffer[i] = buf;
      g = a.nesterov ? g + a.momentum * buf : buf;
    }
    param[i] = param[i] + a.neg_lr * g;
  }
}

template <typename T>
struct AdamArgs {
  T neg_step_size, bias_correction2_sqrt, eps, one_minus_beta1, beta2, one_minus_beta2;
  T weight_decay, shrink;
  bool l2, decoupled, amsgrad, maximize;
};

// torch's lerp: exact at both ends.
template <typename T>
__device__ inline T lerp(T a, T b, T weight) {
  const T from_a = a + weight * (b - a);
  const T from_b = b - (b - a) * (T(1) - weight);
  return (weight < T(0) ? -weight : weight) < T(0.5) ? from_a : from_b;
}

template <typename T>
__global__ void adam_kernel(int64_t n, T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                            const T* grad, AdamArgs<T> a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    T g = a.maximize ? -grad[i] : grad[i];
    const T p = a.decoupled ? param[i] * a.shrink : param[i];
    if (a.l2) g = g + a.weight_decay * p;
    const T m = flush_tiny(lerp(exp_avg[i], g, a.one_minus_beta1));
    const T v = flush_tiny(exp_avg_sq[i] * a.beta2 + a.one_minus_beta2 * g * g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    T v_hat = v;
    if (a.amsgrad) {
      const T old = max_exp_avg_sq[i];
      v_hat = (is_nan(old) || old > v) ? old : v;
      max_exp_avg_sq[i] = v_hat;
    }
    const T denom = std::sqrt(v_hat) / a.bias_correction2_sqrt + a.eps;
    param[i] = p + a.neg_step_size * m / denom;
  }
}

void require_like(const View& v, const View& param, const char* op, const char* name) {
  if (v.numel() != param.numel() || v.dtype != param.dtype)
    throw_value_error(op, std::string(name) + ": expected param's size and dtype");
}

}  // namespace

void sgd_step(const Sgd& o, const View& param, const View& grad, const View* momentum_buffer) {
  const char* op = "sgd_step";
  require_like(grad, param, op, "grad");
  const bool use_momentum = o.momentum != 0.0;
  if (use_momentum) {
    if (momentum_buffer == nullptr) throw_value_error(op, "momentum_buffer is required");
    require_like(*momentum_buffer, param, op, "momentum_buffer");
  }
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch_float(param.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    const SgdArgs<T> a{static_cast<T>(o.weight_decay), static_cast<T>(o.momentum),
                       static_cast<T>(1.0 - o.dampening), static_cast<T>(-o.lr),
                       o.weight_decay != 0.0, use_momentum, o.nesterov, o.maximize, o.first_step};
    T* buffer = use_momentum ? static_cast<T*>(momentum_buffer->data) : nullptr;
    launch(op, sgd_kernel<T>, blocks_for(n), kThreads, param.device, n,
           static_cast<T*>(param.data), buffer, static_cast<const T*>(grad.data), a);
  });
}

void adam_step(const Adam& o, const View& param, const View& grad, const View& exp_avg,
               const View& exp_avg_sq, const View* max_exp_avg_sq) {
  const char* op = "adam_step";
  require_like(grad, param, op, "grad");
  require_like(exp_avg, param, op, "exp_avg");
  require_like(exp_avg_sq, param, op, "exp_avg_sq");
  if (o.amsgrad) {
    if (max_exp_avg_sq == nullptr) throw_value_error(op, "max_exp_avg_sq is required");
    require_like(*max_exp_avg_sq, param, op, "max_exp_avg_sq");
  }
  const int64_t n = param.numel();
  if (n == 0) return;
  const double steps = static_cast<double>(o.step);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, steps);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, steps);
  dispatch_float(param.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    const AdamArgs<T> a{static_cast<T>(-(o.lr / bias_correction1)),
                        static_cast<T>(std::sqrt(bias_correction2)),
                        static_cast<T>(o.eps),
                        static_cast<T>(1.0 - o.beta1),
                        static_cast<T>(o.beta2),
                        static_cast<T>(1.0 - o.beta2),
                        static_cast<T>(o.weight_decay),
                        static_cast<T>(1.0 - o.lr * o.weight_decay),
                        o.weight_decay != 0.0 && !o.decoupled_weight_decay,
                        o.weight_decay != 0.0 && o.decoupled_weight_decay,
                        o.amsgrad,
                        o.maximize};
    T* vmax = o.amsgrad ? static_cast<T*>(max_exp_avg_sq->data) : nullptr;
    launch(op, adam_kernel<T>, blocks_for(n), kThreads, param.device, n,
           static_cast<T*>(param.data), static_cast<T*>(exp_avg.data),
           static_cast<T*>(exp_avg_sq.data), vmax, static_cast<const T*>(grad.data), a);
  });
}

}  // namespace ember::cuda
