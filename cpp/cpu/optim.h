// Fused optimizer steps: one pass over a parameter, its gradient and its state buffers, updating
// them in place. All arrays are flat, contiguous and n elements long; state buffers belong to the
// caller and persist between steps.
//
// The update rules are PyTorch's default (single-tensor) implementations, operation for operation
// in the element type T, with the scalar coefficients computed in double and rounded to T once,
// as ATen does for a float tensor and a Python-float scalar.
#pragma once

#include <array>
#include <cstdint>

namespace ember::cpu {

// torch.optim.SGD:
//   g = (maximize ? -grad : grad) + weight_decay * param
//   if momentum != 0:
//     buf = g                                          on the first step
//     buf = momentum * buf + (1 - dampening) * g       afterwards
//     g = nesterov ? g + momentum * buf : buf
//   param -= lr * g
struct SgdOptions {
  double lr = 0.0;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
  bool first_step = false;  // buf is written, not read
};

// The switches of an SGD step in the order its vector paths take them as template flags:
// maximize, weight decay, momentum, first step (with momentum), Nesterov (with momentum).
inline std::array<bool, 5> sgd_switches(const SgdOptions& opt) {
  const bool momentum = opt.momentum != 0.0;
  return {opt.maximize, opt.weight_decay != 0.0, momentum, momentum && opt.first_step,
          momentum && opt.nesterov};
}

// momentum_buffer may be null when momentum == 0.
template <typename T>
void sgd_step(T* param, T* momentum_buffer, const T* grad, int64_t n, const SgdOptions& opt);

// torch.optim.Adam (decoupled_weight_decay = false) and torch.optim.AdamW (true), at `step`, the
// 1-based count of steps including this one:
//   g = maximize ? -grad : grad
//   weight decay: param *= 1 - lr * weight_decay (decoupled) or g += weight_decay * param
//   m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g^2
//   vmax = max(vmax, v) and v_hat = vmax with amsgrad, else v_hat = v
//   denom = sqrt(v_hat) / sqrt(1 - beta2^step) + eps
//   param -= lr / (1 - beta1^step) * m / denom
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  int64_t step = 1;
  bool decoupled_weight_decay = false;
  bool amsgrad = false;
  bool maximize = false;
};

// max_exp_avg_sq may be null unless amsgrad.
template <typename T>
void adam_step(T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* grad, int64_t n,
               const AdamOptions& opt);

}  // namespace ember::cpu
