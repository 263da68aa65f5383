// gemm, bmm, linear_forward, linear_backward.
//
// Zero-size dimensions are valid: M == 0 or N == 0 gives an empty result; K == 0 gives
// alpha * 0 + beta * C (zeros when beta == 0), like BLAS and NumPy.
// gemm also accepts a, b and out as row-strided views (unit column stride, e.g. x[:, 2:7] of a
// C-contiguous x): their row stride becomes lda/ldb/ldc, so sub-matrices are read and written in
// place. Transposed views are refused; pass trans_a/trans_b instead.
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/gemm.h"
#include "cpu/linear.h"

namespace ember::bind {

namespace {

struct Matrix {
  int64_t rows, cols, ld;
};

void require_float_dtype(const py::array& a, const char* op, const char* name) {
  if (!a.dtype().is(py::dtype::of<float>()) && !a.dtype().is(py::dtype::of<double>()))
    fail_type(op, std::string(name) + ": expected float32 or float64, got " +
                      std::string(py::str(a.dtype())));
}

// A 2-D float array whose rows are each contiguous; returns its shape and row stride (elements).
Matrix row_major_matrix(const py::array& a, const char* op, const char* name) {
  require_float_dtype(a, op, name);
  require_ndim(a, 2, op, name, "matrix");
  const int64_t rows = a.shape(0), cols = a.shape(1), item = a.itemsize();
  if (rows == 0 || cols == 0) return {rows, cols, std::max<int64_t>(cols, 1)};
  const int64_t s0 = a.strides(0), s1 = a.strides(1);
  const bool unit_cols = cols == 1 || s1 == item;
  const bool rows_apart = rows == 1 || (s0 > 0 && s0 % item == 0 && s0 / item >= cols);
  if (!unit_cols || !rows_apart)
    fail_value(op, std::string(name) + ": expected a matrix with contiguous rows (C-contiguous " +
                       "or a column slice of one), got strides (" + std::to_string(s0) + ", " +
                       std::to_string(s1) + ") bytes for shape " + shape_str(a) +
                       "; for a transposed view pass the trans_ flag instead");
  return {rows, cols, rows == 1 ? cols : s0 / item};
}

const char* byte_ptr(const py::array& a) { return static_cast<const char*>(a.data()); }

// Bytes spanned by a matrix's elements, from its first to just past its last.
int64_t span_bytes(const py::array& a, const Matrix& m) {
  if (m.rows == 0 || m.cols == 0) return 0;
  return ((m.rows - 1) * m.ld + m.cols) * a.itemsize();
}

bool overlaps(const py::array& x, const Matrix& mx, const py::array& y, const Matrix& my) {
  const char *x0 = byte_ptr(x), *y0 = byte_ptr(y);
  const int64_t nx = span_bytes(x, mx), ny = span_bytes(y, my);
  if (nx == 0 || ny == 0 || x0 + nx <= y0 || y0 + ny <= x0) return false;
  // Spans interleave for column slices of one buffer; ask NumPy whether elements really meet.
  return py::module_::import("numpy").attr("shares_memory")(x, y).cast<bool>();
}

std::string pair_str(int64_t a, int64_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

py::object gemm(const py::array& a, const py::array& b, bool trans_a, bool trans_b, double alpha,
                double beta, const py::object& out_arg) {
  const Matrix ma = row_major_matrix(a, "gemm", "a");
  const Matrix mb = row_major_matrix(b, "gemm", "b");
  require_same_dtype(a, b, "gemm", "a", "b");
  const int64_t M = trans_a ? ma.cols : ma.rows, K = trans_a ? ma.rows : ma.cols;
  const int64_t Kb = trans_b ? mb.cols : mb.rows, N = trans_b ? mb.rows : mb.cols;
  if (K != Kb)
    fail_value("gemm", "inner dimensions differ: op(a) is (M, K) = " + pair_str(M, K) +
                           " but op(b) is (K, N) = " + pair_str(Kb, N) + " (a " + shape_str(a) +
                           ", trans_a=" + (trans_a ? "True" : "False") + "; b " + shape_str(b) +
                           ", trans_b=" + (trans_b ? "True" : "False") + ")");

  py::array out;
  Matrix mc{M, N, std::max<int64_t>(N, 1)};
  if (out_arg.is_none()) {
    if (beta != 0.0)
      fail_value("gemm", "beta = " + std::string(py::repr(py::float_(beta))) +
                             " scales the old C, so it needs out= (an (M, N) array)");
    out = is_float32(a) ? py::array(empty_matrix<float>({M, N}))
                        : py::array(empty_matrix<double>({M, N}));
  } else {
    if (!py::isinstance<py::array>(out_arg))
      fail_type("gemm", std::string("out: expected a numpy.ndarray, got ") +
                            std::string(py::str(py::type::of(out_arg))));
    out = py::reinterpret_borrow<py::array>(out_arg);
    mc = row_major_matrix(out, "gemm", "out");
    require_same_dtype(a, out, "gemm", "a", "out");
    require_shape(out, {M, N}, "gemm", "out");
    if (!out.writeable()) fail_value("gemm", "out: array is read-only");
    if (overlaps(out, mc, a, ma) || overlaps(out, mc, b, mb))
      fail_value("gemm", "out must not share memory with a or b");
  }

  return dispatch_float(a, [&](auto tag) -> py::object {
    using T = decltype(tag);
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    T* pc = mut_ptr<T>(out);
    {
      py::gil_scoped_release nogil;
      cpu::gemm<T>(trans_a, trans_b, M, N, K, static_cast<T>(alpha), pa, ma.ld, pb, mb.ld,
                   static_cast<T>(beta), pc, mc.ld);
    }
    return out;
  });
}

py::array bmm(const py::array& a, const py::array& b, bool trans_a, bool trans_b) {
  require_float(a, "bmm", "a");
  require_float(b, "bmm", "b");
  require_ndim(a, 3, "bmm", "a", "batch of matrices (B, rows, cols)");
  require_ndim(b, 3, "bmm", "b", "batch of matrices (B, rows, cols)");
  require_same_dtype(a, b, "bmm", "a", "b");
  const int64_t batch = a.shape(0);
  if (b.shape(0) != batch)
    fail_value("bmm", "batch sizes differ: a " + shape_str(a) + ", b " + shape_str(b));
  const int64_t ra = a.shape(1), ca = a.shape(2), rb = b.shape(1), cb = b.shape(2);
  const int64_t M = trans_a ? ca : ra, K = trans_a ? ra : ca;
  const int64_t Kb = trans_b ? cb : rb, N = trans_b ? rb : cb;
  if (K != Kb)
    fail_value("bmm", "inner dimensions differ: op(a) is (M, K) = " + pair_str(M, K) +
                          " but op(b) is (K, N) = " + pair_str(Kb, N) + " (a " + shape_str(a) +
                          ", b " + shape_str(b) + ")");
  return dispatch_float(a, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array out = empty_matrix<T>({batch, M, N});
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    T* pc = mut_ptr<T>(out);
    {
      py::gil_scoped_release nogil;
      cpu::gemm_batched<T>(trans_a, trans_b, batch, M, N, K, T(1), pa, std::max<int64_t>(ca, 1),
                           ra * ca, pb, std::max<int64_t>(cb, 1), rb * cb, T(0), pc,
                           std::max<int64_t>(N, 1), M * N);
    }
    return out;
  });
}

// Checks x (N, in) and weight (out, in); returns {N, in, out}.
std::array<int64_t, 3> linear_dims(const py::array& x, const py::array& weight, const char* op) {
  require_float(x, op, "x");
  require_float(weight, op, "weight");
  require_ndim(x, 2, op, "x", "(N, in_features)");
  require_ndim(weight, 2, op, "weight", "(out_features, in_features)");
  require_same_dtype(x, weight, op, "x", "weight");
  if (weight.shape(1) != x.shape(1))
    fail_value(op, "weight: expected (out_features, " + std::to_string(x.shape(1)) +
                       ") to match x " + shape_str(x) + ", got " + shape_str(weight));
  return {x.shape(0), x.shape(1), weight.shape(0)};
}

py::array linear_forward(const py::array& x, const py::array& weight,
                         const std::optional<py::array>& bias) {
  const auto [N, in, out] = linear_dims(x, weight, "linear");
  if (bias) {
    require_float(*bias, "linear", "bias");
    require_same_dtype(x, *bias, "linear", "x", "bias");
    require_shape(*bias, {out}, "linear", "bias");
  }
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array y = empty_matrix<T>({N, out});
    T* py_ = mut_ptr<T>(y);
    const T* px = ptr<T>(x);
    const T* pw = ptr<T>(weight);
    const T* pbias = bias ? ptr<T>(*bias) : nullptr;
    {
      py::gil_scoped_release nogil;
      cpu::linear_forward<T>(py_, px, pw, pbias, N, in, out);
    }
    return y;
  });
}

py::tuple linear_backward(const py::array& dout, const py::array& x, const py::array& weight,
                          bool need_dx, bool need_dweight, bool need_dbias) {
  const auto [N, in, out] = linear_dims(x, weight, "linear_backward");
  require_float(dout, "linear_backward", "dout");
  require_same_dtype(dout, x, "linear_backward", "dout", "x");
  require_shape(dout, {N, out}, "linear_backward", "dout");
  return dispatch_float(x, [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::object dx = py::none(), dweight = py::none(), dbias = py::none();
    T *pdx = nullptr, *pdw = nullptr, *pdb = nullptr;
    if (need_dx) {
      py::array a = empty_matrix<T>({N, in});
      pdx = mut_ptr<T>(a);
      dx = a;
    }
    if (need_dweight) {
      py::array a = empty_matrix<T>({out, in});
      pdw = mut_ptr<T>(a);
      dweight = a;
    }
    if (need_dbias) {
      py::array a = empty_like_dims<T>({out});
      pdb = mut_ptr<T>(a);
      dbias = a;
    }
    const T* pdy = ptr<T>(dout);
    const T* px = ptr<T>(x);
    const T* pw = ptr<T>(weight);
    {
      py::gil_scoped_release nogil;
      cpu::linear_backward<T>(pdx, pdw, pdb, pdy, px, pw, N, in, out);
    }
    return py::make_tuple(dx, dweight, dbias);
  });
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
        py::arg("out") = py::none(),
        "out = alpha * op(a) @ op(b) + beta * out, op(x) = x.T if trans_x else x. Returns out "
        "(allocated when not given; beta != 0 needs it).");
  m.def("bmm", &bmm, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, "Batched gemm: out[i] = op(a[i]) @ op(b[i]).");
  m.def("linear_forward", &linear_forward, py::arg("x"), py::arg("weight"),
        py::arg("bias") = py::none(), "y = x @ weight.T + bias; x (N, in), weight (out, in).");
  m.def("linear_backward", &linear_backward, py::arg("dout"), py::arg("x"), py::arg("weight"),
        py::arg("need_dx") = true, py::arg("need_dweight") = true, py::arg("need_dbias") = true,
        "(dx, dweight, dbias) = (dout @ weight, dout.T @ x, dout.sum(0)); None where not needed.");
}

}  // namespace ember::bind
