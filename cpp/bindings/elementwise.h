// Bindings of element-wise kernels over whole arrays: unary f(x) and binary f(a, b) for arrays
// of one shape and float dtype. Each checks its arguments, allocates the output and calls the
// kernel without the GIL; the kernels are generic lambdas, so one body serves float and double.
#pragma once

#include "bindings/checks.h"

namespace ember::bind {

// out = kernel(x): kernel(out, x, n).
template <typename Kernel>
py::array unary(const py::array& x, const char* op, const char* name, Kernel&& kernel) {
  require_float(x, op, name);
  return dispatch_float(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array out = empty_like_dims<T>(dims_of(x));
    T* o = mut_ptr<T>(out);
    const T* in = ptr<T>(x);
    const int64_t n = x.size();
    {
      py::gil_scoped_release nogil;
      kernel(o, in, n);
    }
    return out;
  });
}

// out = kernel(a, b) for `a` of b's shape and dtype: kernel(out, a, b, n).
template <typename Kernel>
py::array binary(const py::array& a, const py::array& b, const char* op, const char* name_a,
                 const char* name_b, Kernel&& kernel) {
  require_float(a, op, name_a);
  require_float(b, op, name_b);
  require_same_dtype(a, b, op, name_a, name_b);
  require_shape(a, dims_of(b), op, name_a);
  return dispatch_float(b, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array out = empty_like_dims<T>(dims_of(b));
    T* o = mut_ptr<T>(out);
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    const int64_t n = b.size();
    {
      py::gil_scoped_release nogil;
      kernel(o, pa, pb, n);
    }
    return out;
  });
}

}  // namespace ember::bind
