#include "bindings/checks.h"
#include "bindings/elementwise.h"
#include "bindings/registry.h"
#include "cpu/activation.h"

#include <type_traits>

namespace ember::bind {

namespace {

// Every activation has one of two shapes (elementwise.h): forward(x) -> out and
// backward(dout, saved) -> dinp, where `saved` is x or the forward's output y, all of one shape.

// The softmax family works on the last axis: (rows, cols) with cols = shape[-1].
std::pair<int64_t, int64_t> rows_cols(const py::array& a, const char* op, const char* name) {
  if (a.ndim() < 1)
    fail_value(op, std::string(name) + ": expected an array with ndim >= 1 (normalised over " +
                       "the last axis), got shape " + shape_str(a));
  const int64_t cols = a.shape(a.ndim() - 1);
  int64_t rows = 1;
  for (py::ssize_t i = 0; i + 1 < a.ndim(); ++i) rows *= a.shape(i);
  return {rows, cols};
}

py::array relu_forward(const py::array& x) {
  return unary(x, "relu", "x", [](auto* o, const auto* in, int64_t n) {
    cpu::relu_forward(o, in, n);
  });
}

py::array relu_backward(const py::array& dout, const py::array& x) {
  return binary(dout, x, "relu_backward", "dout", "x", [](auto* d, const auto* g, const auto* s,
                                                   int64_t n) { cpu::relu_backward(d, g, s, n); });
}

py::array leaky_relu_forward(const py::array& x, double negative_slope) {
  return unary(x, "leaky_relu", "x", [&](auto* o, const auto* in, int64_t n) {
    using T = std::remove_pointer_t<decltype(o)>;
    cpu::leaky_relu_forward(o, in, n, T(negative_slope));
  });
}

py::array leaky_relu_backward(const py::array& dout, const py::array& x, double negative_slope) {
  return binary(dout, x, "leaky_relu_backward", "dout", "x",
                [&](auto* d, const auto* g, const auto* s, int64_t n) {
                  using T = std::remove_pointer_t<decltype(d)>;
                  cpu::leaky_relu_backward(d, g, s, n, T(negative_slope));
                });
}

py::array sigmoid_forward(const py::array& x) {
  return unary(x, "sigmoid", "x", [](auto* o, const auto* in, int64_t n) {
    cpu::sigmoid_forward(o, in, n);
  });
}

py::array sigmoid_backward(const py::array& dout, const py::array& y) {
  return binary(dout, y, "sigmoid_backward", "dout", "y",
                [](auto* d, const auto* g, const auto* s, int64_t n) {
                  cpu::sigmoid_backward(d, g, s, n);
                });
}

py::array tanh_forward(const py::array& x) {
  return unary(x, "tanh", "x", [](auto* o, const auto* in, int64_t n) {
    cpu::tanh_forward(o, in, n);
  });
}

py::array tanh_backward(const py::array& dout, const py::array& y) {
  return binary(dout, y, "tanh_backward", "dout", "y",
                [](auto* d, const auto* g, const auto* s, int64_t n) {
                  cpu::tanh_backward(d, g, s, n);
                });
}

py::array gelu_forward(const py::array& x, bool approximate) {
  return unary(x, "gelu", "x", [&](auto* o, const auto* in, int64_t n) {
    cpu::gelu_forward(o, in, n, approximate);
  });
}

py::array gelu_backward(const py::array& dout, const py::array& x, bool approximate) {
  return binary(dout, x, "gelu_backward", "dout", "x",
                [&](auto* d, const auto* g, const auto* s, int64_t n) {
                  cpu::gelu_backward(d, g, s, n, approximate);
                });
}

py::array softmax_forward(const py::array& x) {
  const auto [rows, cols] = rows_cols(x, "softmax", "x");
  return unary(x, "softmax", "x", [rows = rows, cols = cols](auto* o, const auto* in, int64_t) {
    cpu::softmax_forward(o, in, rows, cols);
  });
}

py::array softmax_backward(const py::array& dout, const py::array& y) {
  const auto [rows, cols] = rows_cols(y, "softmax_backward", "y");
  return binary(dout, y, "softmax_backward", "dout", "y",
                [rows = rows, cols = cols](auto* d, const auto* g, const auto* s, int64_t) {
                  cpu::softmax_backward(d, g, s, rows, cols);
                });
}

py::array log_softmax_forward(const py::array& x) {
  const auto [rows, cols] = rows_cols(x, "log_softmax", "x");
  return unary(x, "log_softmax", "x",
               [rows = rows, cols = cols](auto* o, const auto* in, int64_t) {
                 cpu::log_softmax_forward(o, in, rows, cols);
               });
}

py::array log_softmax_backward(const py::array& dout, const py::array& y) {
  const auto [rows, cols] = rows_cols(y, "log_softmax_backward", "y");
  return binary(dout, y, "log_softmax_backward", "dout", "y",
                [rows = rows, cols = cols](auto* d, const auto* g, const auto* s, int64_t) {
                  cpu::log_softmax_backward(d, g, s, rows, cols);
                });
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def("relu_forward", &relu_forward, py::arg("x"));
  m.def("relu_backward", &relu_backward, py::arg("dout"), py::arg("x"));
  m.def("leaky_relu_forward", &leaky_relu_forward, py::arg("x"),
        py::arg("negative_slope") = 0.01);
  m.def("leaky_relu_backward", &leaky_relu_backward, py::arg("dout"), py::arg("x"),
        py::arg("negative_slope") = 0.01);
  m.def("sigmoid_forward", &sigmoid_forward, py::arg("x"));
  m.def("sigmoid_backward", &sigmoid_backward, py::arg("dout"), py::arg("y"));
  m.def("tanh_forward", &tanh_forward, py::arg("x"));
  m.def("tanh_backward", &tanh_backward, py::arg("dout"), py::arg("y"));
  m.def("gelu_forward", &gelu_forward, py::arg("x"), py::arg("approximate") = false);
  m.def("gelu_backward", &gelu_backward, py::arg("dout"), py::arg("x"),
        py::arg("approximate") = false);
  m.def("softmax_forward", &softmax_forward, py::arg("x"));
  m.def("softmax_backward", &softmax_backward, py::arg("dout"), py::arg("y"));
  m.def("log_softmax_forward", &log_softmax_forward, py::arg("x"));
  m.def("log_softmax_backward", &log_softmax_backward, py::arg("dout"), py::arg("y"));
}

}  // namespace ember::bind
