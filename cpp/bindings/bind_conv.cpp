#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/int_pair.h"
#include "bindings/registry.h"
#include "cpu/conv2d.h"

namespace ember::bind {

namespace {

// Checks the dims of x (N, C, H, W) and weight (O, C/groups, KH, KW) against the
// hyper-parameters, and returns the full geometry.
cpu::Conv2dShape shape_of_dims(const std::vector<int64_t>& xd, const std::vector<int64_t>& wd,
                               const py::object& stride, const py::object& padding,
                               const py::object& dilation, const py::object& groups_arg,
                               const char* op) {
  const auto st = int_pair(stride, op, "stride", 1);
  const auto pad = int_pair(padding, op, "padding", 0);
  const auto dil = int_pair(dilation, op, "dilation", 1);
  const int64_t groups = int_arg(groups_arg, op, "groups");
  require_positive(groups, op, "groups");

  const int64_t C = xd[1], O = wd[0];
  if (C == 0 || xd[2] == 0 || xd[3] == 0)
    fail_value(op, "x: expected non-empty channels and image (N, C, H, W), got shape " +
                       dims_str(xd));
  if (O == 0 || wd[2] == 0 || wd[3] == 0)
    fail_value(op, "weight: expected a non-empty (O, C/groups, KH, KW), got shape " +
                       dims_str(wd));
  if (C % groups != 0)
    fail_value(op, "groups=" + std::to_string(groups) + " must divide the input channels C=" +
                       std::to_string(C) + " of x with shape " + dims_str(xd));
  if (O % groups != 0)
    fail_value(op, "groups=" + std::to_string(groups) + " must divide the output channels O=" +
                       std::to_string(O) + " of weight with shape " + dims_str(wd));
  if (wd[1] != C / groups)
    fail_value(op, "weight: expected (O, C/groups, KH, KW) with C/groups=" +
                       std::to_string(C / groups) + " (x has C=" + std::to_string(C) +
                       ", groups=" + std::to_string(groups) + "), got shape " + dims_str(wd));

  cpu::Conv2dShape s{xd[0], C,      xd[2],  xd[3],  O,      wd[2], wd[3], st[0],
                     st[1], pad[0], pad[1], dil[0], dil[1], groups, 0,   0};
  s.OH = cpu::conv2d_output_size(s.H, s.KH, s.sh, s.ph, s.dh);
  s.OW = cpu::conv2d_output_size(s.W, s.KW, s.sw, s.pw, s.dw);
  if (s.OH <= 0 || s.OW <= 0)
    fail_value(op, "kernel: dilated size " +
                       pair_str({s.dh * (s.KH - 1) + 1, s.dw * (s.KW - 1) + 1}) +
                       " is larger than the padded input " +
                       pair_str({s.H + 2 * s.ph, s.W + 2 * s.pw}));
  return s;
}

// Checks x and weight and the hyper-parameters, and returns the full geometry.
cpu::Conv2dShape conv_shape(const py::array& x, const py::array& weight, const py::object& stride,
                            const py::object& padding, const py::object& dilation,
                            const py::object& groups, const char* op) {
  require_float(x, op, "x");
  require_ndim(x, 4, op, "x", "(N, C, H, W)");
  require_float(weight, op, "weight");
  require_ndim(weight, 4, op, "weight", "(O, C/groups, KH, KW)");
  require_same_dtype(x, weight, op, "x", "weight");
  return shape_of_dims(dims_of(x), dims_of(weight), stride, padding, dilation, groups, op);
}

// Which kernels conv2d runs for these shapes and dtype on the active SIMD path; lets tests prove
// that a fast path is really taken.
std::string conv2d_algorithm(const std::vector<int64_t>& x_shape,
                             const std::vector<int64_t>& w_shape, const py::object& stride,
                             const py::object& padding, const py::object& dilation,
                             const py::object& groups, const py::object& dtype_arg) {
  const char* op = "_conv2d_algorithm";
  if (x_shape.size() != 4 || w_shape.size() != 4)
    fail_value(op, "expected 4-D x_shape (N, C, H, W) and w_shape (O, C/groups, KH, KW), got " +
                       dims_str(x_shape) + " and " + dims_str(w_shape));
  for (const int64_t d : x_shape) require_nonnegative(d, op, "x_shape");
  for (const int64_t d : w_shape) require_nonnegative(d, op, "w_shape");
  const cpu::Conv2dShape s =
      shape_of_dims(x_shape, w_shape, stride, padding, dilation, groups, op);
  const py::dtype dtype = py::dtype::from_args(dtype_arg);
  if (holds<float>(dtype)) return cpu::conv2d_algorithm_name(cpu::conv2d_algorithm<float>(s));
  if (holds<double>(dtype)) return cpu::conv2d_algorithm_name(cpu::conv2d_algorithm<double>(s));
  fail_type(op, "dtype: expected float32 or float64, got " + std::string(py::str(dtype)));
}

py::array conv2d_forward(const py::array& x, const py::array& weight,
                         const std::optional<py::array>& bias, const py::object& stride,
                         const py::object& padding, const py::object& dilation,
                         const py::object& groups) {
  const char* op = "conv2d";
  const cpu::Conv2dShape s = conv_shape(x, weight, stride, padding, dilation, groups, op);
  if (bias) {
    require_float(*bias, op, "bias");
    require_same_dtype(x, *bias, op, "x", "bias");
    require_shape(*bias, {s.O}, op, "bias");
  }
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array y = empty_like_dims<T>({s.N, s.O, s.OH, s.OW});
    T* out = mut_ptr<T>(y);
    const T* inp = ptr<T>(x);
    const T* w = ptr<T>(weight);
    const T* b = bias ? ptr<T>(*bias) : nullptr;
    {
      py::gil_scoped_release nogil;
      cpu::conv2d_forward(out, inp, w, b, s);
    }
    return y;
  });
}

py::tuple conv2d_backward(const py::array& dout, const py::array& x, const py::array& weight,
                          const py::object& stride, const py::object& padding,
                          const py::object& dilation, const py::object& groups, bool need_dx,
                          bool need_dweight, bool need_dbias) {
  const char* op = "conv2d_backward";
  const cpu::Conv2dShape s = conv_shape(x, weight, stride, padding, dilation, groups, op);
  require_float(dout, op, "dout");
  require_same_dtype(dout, x, op, "dout", "x");
  require_shape(dout, {s.N, s.O, s.OH, s.OW}, op, "dout");
  return dispatch_float(x, [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::object dx = py::none(), dweight = py::none(), dbias = py::none();
    T *dinp = nullptr, *dw = nullptr, *db = nullptr;
    if (need_dx) {
      py::array a = empty_like_dims<T>(dims_of(x));
      dinp = mut_ptr<T>(a);
      dx = a;
    }
    if (need_dweight) {
      py::array a = empty_like_dims<T>(dims_of(weight));
      dw = mut_ptr<T>(a);
      dweight = a;
    }
    if (need_dbias) {
      py::array a = empty_like_dims<T>({s.O});
      db = mut_ptr<T>(a);
      dbias = a;
    }
    const T* g = ptr<T>(dout);
    const T* inp = ptr<T>(x);
    const T* w = ptr<T>(weight);
    {
      py::gil_scoped_release nogil;
      cpu::conv2d_backward(dinp, dw, db, g, inp, w, s);
    }
    return py::make_tuple(dx, dweight, dbias);
  });
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward, py::arg("x"), py::arg("weight"),
        py::arg("bias") = py::none(), py::arg("stride") = py::make_tuple(1, 1),
        py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
        py::arg("groups") = 1,
        "y (N, O, OH, OW) = conv2d(x (N, C, H, W), weight (O, C/groups, KH, KW), bias (O,)).");
  m.def("conv2d_backward", &conv2d_backward, py::arg("dout"), py::arg("x"), py::arg("weight"),
        py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
        py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
        py::arg("need_dx") = true, py::arg("need_dweight") = true, py::arg("need_dbias") = true,
        "(dx, dweight, dbias) of conv2d for the upstream gradient dout; None where not needed.");
  m.def("_conv2d_algorithm", &conv2d_algorithm, py::arg("x_shape"), py::arg("w_shape"),
        py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
        py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
        py::arg("dtype") = "float32",
        "'winograd', 'direct_channels', 'direct' or 'im2col': the kernels conv2d runs for these "
        "shapes now.");
}

}  // namespace ember::bind
