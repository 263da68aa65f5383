#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/activation.h"

namespace ember::bind {

namespace {

py::array relu_forward(const py::array& x) {
  require_float(x, "relu", "x");
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array out = empty_like_dims<T>(dims_of(x));
    T* o = mut_ptr<T>(out);
    const T* in = ptr<T>(x);
    const int64_t n = x.size();
    {
      py::gil_scoped_release nogil;
      cpu::relu_forward(o, in, n);
    }
    return out;
  });
}

py::array relu_backward(const py::array& dout, const py::array& x) {
  require_float(dout, "relu_backward", "dout");
  require_float(x, "relu_backward", "x");
  require_same_dtype(dout, x, "relu_backward", "dout", "x");
  require_shape(dout, dims_of(x), "relu_backward", "dout");
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array dinp = empty_like_dims<T>(dims_of(x));
    T* d = mut_ptr<T>(dinp);
    const T* g = ptr<T>(dout);
    const T* in = ptr<T>(x);
    const int64_t n = x.size();
    {
      py::gil_scoped_release nogil;
      cpu::relu_backward(d, g, in, n);
    }
    return dinp;
  });
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def("relu_forward", &relu_forward, py::arg("x"));
  m.def("relu_backward", &relu_backward, py::arg("dout"), py::arg("x"));
}

}  // namespace ember::bind
