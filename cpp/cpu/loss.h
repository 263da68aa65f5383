// Loss functions, forward and backward, with PyTorch's reductions and semantics.
//
// Shapes: cross entropy takes logits (N, C), target (N,) class indices, optional weight (C,).
// The binary losses and MSE see input and target (same shape) as a flat array of n elements;
// bce_with_logits' optional pos_weight has `cols` entries and broadcasts over the last axis.
// `loss` holds n (or N) values for Reduction::None, else one value. Backward kernels take
// `dloss` of that same size and write (not accumulate) the input gradient.
//
// Determinism: a scalar loss is a sum of per-row (cross entropy) or per-block (element-wise
// losses; fixed 4096-element blocks) partials computed in parallel in double, then added in
// a fixed order on one thread. The result does not depend on the thread count.
#pragma once

#include <cstdint>

namespace ember::cpu {

enum class Reduction { None, Mean, Sum };

// torch.nn.functional.cross_entropy with class-index targets, fused with log_softmax.
// With logp = log_softmax(logits), w the class weights (all 1 when weight == nullptr), W = sum(w)
// and eps = label_smoothing, each row i with target t != ignore_index contributes
//   l_i = (1 - eps) * w[t] * (-logp[i, t]) + (eps / C) * sum_c w[c] * (-logp[i, c])
// and ignored rows contribute 0. Mean divides the sum by sum_i w[t_i] over non-ignored rows (so
// all rows ignored gives 0/0 = NaN, as in PyTorch). Targets must be in [0, C) or ignore_index
// (the binding checks).
template <typename T>
void cross_entropy_forward(T* loss, const T* logits, const int64_t* target, const T* weight,
                           int64_t N, int64_t C, Reduction reduction, int64_t ignore_index,
                           double label_smoothing);
// dlogits[i, j] = g_i * ((1 - eps) w[t] (p_ij - [j == t]) + (eps / C)(W p_ij - w[j])), with
// p = softmax(logits) and g_i the row's upstream gradient (dloss / divisor for mean).
template <typename T>
void cross_entropy_backward(T* dlogits, const T* dloss, const T* logits, const int64_t* target,
                            const T* weight, int64_t N, int64_t C, Reduction reduction,
                            int64_t ignore_index, double label_smoothing);

// PyTorch's l = -(pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), evaluated as
//   l = (1 - t) max(x, 0) + pw t max(-x, 0) + lw log1p(exp(-|x|)),  lw = 1 + (pw - 1) t,
// which without pos_weight (pw = 1) is max(x, 0) - x t + log1p(exp(-|x|)): no overflow, and no
// cancellation between terms. pos_weight may be nullptr; otherwise element i uses
// pw = pos_weight[i % cols].
template <typename T>
void bce_with_logits_forward(T* loss, const T* x, const T* target, const T* pos_weight,
                             int64_t n, int64_t cols, Reduction reduction);
// dx = g * (lw sigmoid(x) - pw t) = g * ((1 - t) sigmoid(x) - pw t sigmoid(-x))
// (= g * (sigmoid(x) - t) without pos_weight).
template <typename T>
void bce_with_logits_backward(T* dx, const T* dloss, const T* x, const T* target,
                              const T* pos_weight, int64_t n, int64_t cols, Reduction reduction);

// Binary cross entropy on probabilities p in [0, 1], as PyTorch: each log is clamped at -100,
//   l = -(t * max(log p, -100) + (1 - t) * max(log(1 - p), -100)),
// so p = 0 or 1 gives a finite loss.
template <typename T>
void bce_forward(T* loss, const T* p, const T* target, int64_t n, Reduction reduction);
// dp = g * (p - t) / max(p (1 - p), 1e-12): PyTorch's backward, whose clamped denominator keeps
// the gradient finite (but as large as 1e12) at p = 0 or 1.
template <typename T>
void bce_backward(T* dp, const T* dloss, const T* p, const T* target, int64_t n,
                  Reduction reduction);
// Number of entries of p outside [0, 1] (NaN included): PyTorch rejects such input.
template <typename T>
int64_t count_outside_unit_interval(const T* p, int64_t n);

// l = (x - t)^2; dx = g * 2 (x - t). The target's gradient is -dx.
template <typename T>
void mse_forward(T* loss, const T* x, const T* target, int64_t n, Reduction reduction);
template <typename T>
void mse_backward(T* dx, const T* dloss, const T* x, const T* target, int64_t n,
                  Reduction reduction);

}  // namespace ember::cpu
