#include <string>

#include "bindings/checks.h"
#include "bindings/int_pair.h"
#include "bindings/registry.h"
#include "cpu/pool.h"

namespace ember::bind {

namespace {

// Checks the window parameters against an input of spatial size (H, W) and returns the geometry.
cpu::Pool2dShape pool_shape(int64_t N, int64_t C, int64_t H, int64_t W,
                            const py::object& kernel_size, const py::object& stride,
                            const py::object& padding, const char* op) {
  const auto k = int_pair(kernel_size, op, "kernel_size", 1);
  const auto st = int_pair(stride, op, "stride", 1);
  const auto pad = int_pair(padding, op, "padding", 0);
  if (pad[0] > k[0] / 2 || pad[1] > k[1] / 2)
    fail_value(op, "padding: expected at most half the kernel size " + pair_str(k) + ", i.e. " +
                       pair_str({k[0] / 2, k[1] / 2}) + ", got " + pair_str(pad));
  cpu::Pool2dShape s{N * C, H, W, k[0], k[1], st[0], st[1], pad[0], pad[1], 0, 0};
  s.OH = cpu::pool2d_output_size(H, s.kh, s.sh, s.ph);
  s.OW = cpu::pool2d_output_size(W, s.kw, s.sw, s.pw);
  if (s.OH <= 0 || s.OW <= 0)
    fail_value(op, "kernel_size: " + pair_str(k) + " is larger than the padded input " +
                       pair_str({H + 2 * s.ph, W + 2 * s.pw}));
  return s;
}

// A 4-D input x, checked and turned into its pooling geometry.
cpu::Pool2dShape input_pool_shape(const py::array& x, const py::object& kernel_size,
                                  const py::object& stride, const py::object& padding,
                                  const char* op) {
  require_float(x, op, "x");
  require_ndim(x, 4, op, "x", "(N, C, H, W)");
  const auto d = dims_of(x);
  return pool_shape(d[0], d[1], d[2], d[3], kernel_size, stride, padding, op);
}

// input_shape as given to a backward: a 4-tuple (N, C, H, W) of non-negative ints.
std::vector<int64_t> shape_arg(const py::object& input_shape, const char* op) {
  if (!py::isinstance<py::tuple>(input_shape) && !py::isinstance<py::list>(input_shape))
    fail_type(op, "input_shape: expected a tuple (N, C, H, W), got " +
                      std::string(py::repr(input_shape)));
  const auto seq = py::reinterpret_borrow<py::sequence>(input_shape);
  if (seq.size() != 4)
    fail_value(op, "input_shape: expected 4 sizes (N, C, H, W), got " +
                       std::string(py::repr(input_shape)));
  std::vector<int64_t> dims;
  for (const auto& v : seq) {
    dims.push_back(int_arg(v, op, "input_shape"));
    require_nonnegative(dims.back(), op, "input_shape entries");
  }
  return dims;
}

py::tuple max_pool2d_forward(const py::array& x, const py::object& kernel_size,
                             const py::object& stride, const py::object& padding) {
  const char* op = "max_pool2d";
  const cpu::Pool2dShape s = input_pool_shape(x, kernel_size, stride, padding, op);
  const auto d = dims_of(x);
  return dispatch_float(x, [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::array y = empty_like_dims<T>({d[0], d[1], s.OH, s.OW});
    py::array indices = empty_like_dims<int64_t>({d[0], d[1], s.OH, s.OW});
    T* out = mut_ptr<T>(y);
    int64_t* idx = mut_ptr<int64_t>(indices);
    const T* inp = ptr<T>(x);
    {
      py::gil_scoped_release nogil;
      cpu::max_pool2d_forward(out, idx, inp, s);
    }
    return py::make_tuple(y, indices);
  });
}

py::array max_pool2d_backward(const py::array& dout, const py::array& indices,
                              const py::object& input_shape) {
  const char* op = "max_pool2d_backward";
  require_float(dout, op, "dout");
  require_ndim(dout, 4, op, "dout", "(N, C, OH, OW)");
  require_int64(indices, op, "indices");
  require_shape(indices, dims_of(dout), op, "indices");
  const auto in = shape_arg(input_shape, op);
  const auto d = dims_of(dout);
  if (in[0] != d[0] || in[1] != d[1])
    fail_value(op, "input_shape: expected (N, C) = " + pair_str({d[0], d[1]}) +
                       " as in dout, got " + dims_str(in));
  return dispatch_float(dout, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array dx = empty_like_dims<T>(in);
    T* dinp = mut_ptr<T>(dx);
    const T* g = ptr<T>(dout);
    const int64_t* idx = ptr<int64_t>(indices);
    int64_t out_of_range = 0;
    {
      py::gil_scoped_release nogil;
      out_of_range = cpu::max_pool2d_backward(dinp, g, idx, d[0] * d[1], in[2] * in[3],
                                              d[2] * d[3]);
    }
    if (out_of_range > 0)
      fail_value(op, "indices: " + std::to_string(out_of_range) +
                         " entries outside [0, H*W) = [0, " + std::to_string(in[2] * in[3]) +
                         ")");
    return dx;
  });
}

py::array avg_pool2d_forward(const py::array& x, const py::object& kernel_size,
                             const py::object& stride, const py::object& padding,
                             bool count_include_pad) {
  const char* op = "avg_pool2d";
  const cpu::Pool2dShape s = input_pool_shape(x, kernel_size, stride, padding, op);
  const auto d = dims_of(x);
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array y = empty_like_dims<T>({d[0], d[1], s.OH, s.OW});
    T* out = mut_ptr<T>(y);
    const T* inp = ptr<T>(x);
    {
      py::gil_scoped_release nogil;
      cpu::avg_pool2d_forward(out, inp, s, count_include_pad);
    }
    return y;
  });
}

py::array avg_pool2d_backward(const py::array& dout, const py::object& input_shape,
                              const py::object& kernel_size, const py::object& stride,
                              const py::object& padding, bool count_include_pad) {
  const char* op = "avg_pool2d_backward";
  require_float(dout, op, "dout");
  require_ndim(dout, 4, op, "dout", "(N, C, OH, OW)");
  const auto in = shape_arg(input_shape, op);
  const cpu::Pool2dShape s =
      pool_shape(in[0], in[1], in[2], in[3], kernel_size, stride, padding, op);
  require_shape(dout, {in[0], in[1], s.OH, s.OW}, op, "dout");
  return dispatch_float(dout, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array dx = empty_like_dims<T>(in);
    T* dinp = mut_ptr<T>(dx);
    const T* g = ptr<T>(dout);
    {
      py::gil_scoped_release nogil;
      cpu::avg_pool2d_backward(dinp, g, s, count_include_pad);
    }
    return dx;
  });
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool2d_forward", &max_pool2d_forward, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = py::make_tuple(0, 0),
        "(y, indices): max over each window; indices are flat positions in each H*W plane.");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("dout"), py::arg("indices"),
        py::arg("input_shape"), "dx: dout scattered (summed) to the positions in indices.");
  m.def("avg_pool2d_forward", &avg_pool2d_forward, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = py::make_tuple(0, 0),
        py::arg("count_include_pad") = true, "y: mean over each window (zero padding).");
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("dout"), py::arg("input_shape"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding") = py::make_tuple(0, 0),
        py::arg("count_include_pad") = true, "dx of avg_pool2d for the upstream gradient dout.");
}

}  // namespace ember::bind
