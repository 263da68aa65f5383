#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/loss.h"

namespace ember::bind {

namespace {

using cpu::Reduction;
using OptionalArray = std::optional<py::array>;

Reduction parse_reduction(const std::string& name, const char* op) {
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  if (name == "none") return Reduction::None;
  fail_value(op, "reduction: expected 'mean', 'sum' or 'none', got '" + name + "'");
}

// The loss (and its upstream gradient) is per element for 'none', else a 0-d scalar.
std::vector<int64_t> loss_dims(Reduction reduction, const std::vector<int64_t>& per_element) {
  return reduction == Reduction::None ? per_element : std::vector<int64_t>{};
}

void require_dout(const py::array& dout, const py::array& like, Reduction reduction,
                  const std::vector<int64_t>& per_element, const char* op) {
  require_float(dout, op, "dout");
  require_same_dtype(dout, like, op, "dout", "the input");
  require_shape(dout, loss_dims(reduction, per_element), op, "dout");
}

// ---- cross entropy ------------------------------------------------------------------------

// Validates logits (N, C), target (N,) int64 in [0, C) or ignore_index, weight (C,) and
// label_smoothing in [0, 1]; returns (N, C).
std::pair<int64_t, int64_t> check_cross_entropy(const char* op, const py::array& logits,
                                                const py::array& target,
                                                const OptionalArray& weight, int64_t ignore_index,
                                                double label_smoothing) {
  require_float(logits, op, "logits");
  require_ndim(logits, 2, op, "logits", "(N, C)");
  const int64_t N = logits.shape(0), C = logits.shape(1);
  require_positive(C, op, "logits: number of classes C");
  require_int64(target, op, "target");
  require_shape(target, {N}, op, "target");
  if (weight) {
    require_float(*weight, op, "weight");
    require_same_dtype(*weight, logits, op, "weight", "logits");
    require_shape(*weight, {C}, op, "weight");
  }
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    fail_value(op, "label_smoothing: expected a value in [0, 1], got " +
                       std::to_string(label_smoothing));
  const int64_t* t = ptr<int64_t>(target);
  for (int64_t i = 0; i < N; ++i)
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= C))
      fail_value(op, "target: class index " + std::to_string(t[i]) + " at position " +
                         std::to_string(i) + " is out of range [0, " + std::to_string(C) +
                         ") and is not ignore_index (" + std::to_string(ignore_index) + ")");
  return {N, C};
}

template <typename T>
const T* optional_ptr(const OptionalArray& a) {
  return a ? ptr<T>(*a) : nullptr;
}

py::array cross_entropy_forward(const py::array& logits, const py::array& target,
                                const OptionalArray& weight, const std::string& reduction,
                                int64_t ignore_index, double label_smoothing) {
  const char* op = "cross_entropy";
  const Reduction red = parse_reduction(reduction, op);
  const auto [N, C] = check_cross_entropy(op, logits, target, weight, ignore_index,
                                          label_smoothing);
  return dispatch_float(logits, [&, N = N, C = C](auto tag) -> py::array {
    using T = decltype(tag);
    py::array loss = empty_like_dims<T>(loss_dims(red, {N}));
    T* l = mut_ptr<T>(loss);
    const T* x = ptr<T>(logits);
    const int64_t* t = ptr<int64_t>(target);
    const T* w = optional_ptr<T>(weight);
    {
      py::gil_scoped_release nogil;
      cpu::cross_entropy_forward(l, x, t, w, N, C, red, ignore_index, label_smoothing);
    }
    return loss;
  });
}

py::array cross_entropy_backward(const py::array& dout, const py::array& logits,
                                 const py::array& target, const OptionalArray& weight,
                                 const std::string& reduction, int64_t ignore_index,
                                 double label_smoothing) {
  const char* op = "cross_entropy_backward";
  const Reduction red = parse_reduction(reduction, op);
  const auto [N, C] = check_cross_entropy(op, logits, target, weight, ignore_index,
                                          label_smoothing);
  require_dout(dout, logits, red, {N}, op);
  return dispatch_float(logits, [&, N = N, C = C](auto tag) -> py::array {
    using T = decltype(tag);
    py::array dlogits = empty_like_dims<T>({N, C});
    T* d = mut_ptr<T>(dlogits);
    const T* g = ptr<T>(dout);
    const T* x = ptr<T>(logits);
    const int64_t* t = ptr<int64_t>(target);
    const T* w = optional_ptr<T>(weight);
    {
      py::gil_scoped_release nogil;
      cpu::cross_entropy_backward(d, g, x, t, w, N, C, red, ignore_index, label_smoothing);
    }
    return dlogits;
  });
}

// ---- element-wise losses: input and target of one shape -----------------------------------

void check_pair(const char* op, const char* name, const py::array& x, const py::array& target) {
  require_float(x, op, name);
  require_float(target, op, "target");
  require_same_dtype(target, x, op, "target", name);
  require_shape(target, dims_of(x), op, "target");
}

// pos_weight broadcasts over the last axis: shape (x.shape[-1],).
int64_t check_pos_weight(const char* op, const py::array& x, const OptionalArray& pos_weight) {
  const int64_t cols = x.ndim() > 0 ? x.shape(x.ndim() - 1) : 1;
  if (pos_weight) {
    require_float(*pos_weight, op, "pos_weight");
    require_same_dtype(*pos_weight, x, op, "pos_weight", "x");
    if (x.ndim() == 0) fail_value(op, "pos_weight: x must have ndim >= 1, got shape ()");
    require_shape(*pos_weight, {cols}, op, "pos_weight");
  }
  return cols;
}

py::array bce_with_logits_forward(const py::array& x, const py::array& target,
                                  const std::string& reduction, const OptionalArray& pos_weight) {
  const char* op = "bce_with_logits";
  const Reduction red = parse_reduction(reduction, op);
  check_pair(op, "x", x, target);
  const int64_t cols = check_pos_weight(op, x, pos_weight);
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array loss = empty_like_dims<T>(loss_dims(red, dims_of(x)));
    T* l = mut_ptr<T>(loss);
    const T* in = ptr<T>(x);
    const T* t = ptr<T>(target);
    const T* pw = optional_ptr<T>(pos_weight);
    const int64_t n = x.size();
    {
      py::gil_scoped_release nogil;
      cpu::bce_with_logits_forward(l, in, t, pw, n, cols, red);
    }
    return loss;
  });
}

py::array bce_with_logits_backward(const py::array& dout, const py::array& x,
                                   const py::array& target, const std::string& reduction,
                                   const OptionalArray& pos_weight) {
  const char* op = "bce_with_logits_backward";
  const Reduction red = parse_reduction(reduction, op);
  check_pair(op, "x", x, target);
  const int64_t cols = check_pos_weight(op, x, pos_weight);
  require_dout(dout, x, red, dims_of(x), op);
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array dx = empty_like_dims<T>(dims_of(x));
    T* d = mut_ptr<T>(dx);
    const T* g = ptr<T>(dout);
    const T* in = ptr<T>(x);
    const T* t = ptr<T>(target);
    const T* pw = optional_ptr<T>(pos_weight);
    const int64_t n = x.size();
    {
      py::gil_scoped_release nogil;
      cpu::bce_with_logits_backward(d, g, in, t, pw, n, cols, red);
    }
    return dx;
  });
}

py::array bce_forward(const py::array& p, const py::array& target, const std::string& reduction) {
  const char* op = "bce";
  const Reduction red = parse_reduction(reduction, op);
  check_pair(op, "p", p, target);
  return dispatch_float(p, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array loss = empty_like_dims<T>(loss_dims(red, dims_of(p)));
    T* l = mut_ptr<T>(loss);
    const T* in = ptr<T>(p);
    const T* t = ptr<T>(target);
    const int64_t n = p.size();
    int64_t outside = 0;
    {
      py::gil_scoped_release nogil;
      outside = cpu::count_outside_unit_interval(in, n);
      if (outside == 0) cpu::bce_forward(l, in, t, n, red);
    }
    if (outside)
      fail_value(op, "p: expected probabilities in [0, 1], got " + std::to_string(outside) +
                         " element(s) outside it (or NaN)");
    return loss;
  });
}

// Backward of a loss that pairs each element of x with one of target: dx = kernel(dout, x, target).
template <typename Kernel>
py::array pointwise_loss_backward(const char* op, const py::array& dout, const py::array& x,
                                  const py::array& target, const std::string& reduction,
                                  const char* x_name, Kernel kernel) {
  const Reduction red = parse_reduction(reduction, op);
  check_pair(op, x_name, x, target);
  require_dout(dout, x, red, dims_of(x), op);
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array dx = empty_like_dims<T>(dims_of(x));
    T* d = mut_ptr<T>(dx);
    const T* g = ptr<T>(dout);
    const T* in = ptr<T>(x);
    const T* t = ptr<T>(target);
    const int64_t n = x.size();
    {
      py::gil_scoped_release nogil;
      kernel(d, g, in, t, n, red);
    }
    return dx;
  });
}

py::array bce_backward(const py::array& dout, const py::array& p, const py::array& target,
                       const std::string& reduction) {
  return pointwise_loss_backward(
      "bce_backward", dout, p, target, reduction, "p",
      [](auto* d, const auto* g, const auto* in, const auto* t, int64_t n, Reduction red) {
        cpu::bce_backward(d, g, in, t, n, red);
      });
}

py::array mse_forward(const py::array& x, const py::array& target, const std::string& reduction) {
  const char* op = "mse";
  const Reduction red = parse_reduction(reduction, op);
  check_pair(op, "x", x, target);
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array loss = empty_like_dims<T>(loss_dims(red, dims_of(x)));
    T* l = mut_ptr<T>(loss);
    const T* in = ptr<T>(x);
    const T* t = ptr<T>(target);
    const int64_t n = x.size();
    {
      py::gil_scoped_release nogil;
      cpu::mse_forward(l, in, t, n, red);
    }
    return loss;
  });
}

py::array mse_backward(const py::array& dout, const py::array& x, const py::array& target,
                       const std::string& reduction) {
  return pointwise_loss_backward(
      "mse_backward", dout, x, target, reduction, "x",
      [](auto* d, const auto* g, const auto* in, const auto* t, int64_t n, Reduction red) {
        cpu::mse_backward(d, g, in, t, n, red);
      });
}

}  // namespace

void bind_loss(py::module_& m) {
  m.def("cross_entropy_forward", &cross_entropy_forward, py::arg("logits"), py::arg("target"),
        py::arg("weight") = py::none(), py::arg("reduction") = "mean",
        py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0);
  m.def("cross_entropy_backward", &cross_entropy_backward, py::arg("dout"), py::arg("logits"),
        py::arg("target"), py::arg("weight") = py::none(), py::arg("reduction") = "mean",
        py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0);
  m.def("bce_with_logits_forward", &bce_with_logits_forward, py::arg("x"), py::arg("target"),
        py::arg("reduction") = "mean", py::arg("pos_weight") = py::none());
  m.def("bce_with_logits_backward", &bce_with_logits_backward, py::arg("dout"), py::arg("x"),
        py::arg("target"), py::arg("reduction") = "mean", py::arg("pos_weight") = py::none());
  m.def("bce_forward", &bce_forward, py::arg("p"), py::arg("target"),
        py::arg("reduction") = "mean");
  m.def("bce_backward", &bce_backward, py::arg("dout"), py::arg("p"), py::arg("target"),
        py::arg("reduction") = "mean");
  m.def("mse_forward", &mse_forward, py::arg("x"), py::arg("target"),
        py::arg("reduction") = "mean");
  m.def("mse_backward", &mse_backward, py::arg("dout"), py::arg("x"), py::arg("target"),
        py::arg("reduction") = "mean");
}

}  // namespace ember::bind
