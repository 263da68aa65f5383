#include <pybind11/stl.h>

#include <array>
#include <string>

#include "bindings/checks.h"
#include "bindings/elementwise.h"
#include "bindings/registry.h"
#include "cpu/dropout.h"
#include "cpu/philox.h"

namespace ember::bind {

namespace {

// Seeds and offsets are unsigned 64-bit; Python ints (and NumPy integers) outside that range are
// errors rather than silently wrapped.
uint64_t as_uint64(const py::handle& v, const char* op, const char* name) {
  if (py::isinstance<py::bool_>(v) || !PyIndex_Check(v.ptr()))
    fail_type(op, std::string(name) + ": expected an int, got " +
                      std::string(py::str(py::type::handle_of(v).attr("__name__"))));
  const py::int_ as_int = py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr()));
  if (!as_int) throw py::error_already_set();
  const unsigned long long r = PyLong_AsUnsignedLongLong(as_int.ptr());
  if (PyErr_Occurred()) {
    PyErr_Clear();
    fail_value(op, std::string(name) + " must be in [0, 2**64), got " + std::string(py::str(v)));
  }
  return r;
}

void require_probability(double p, const char* op) {
  if (!(p >= 0.0 && p <= 1.0))
    fail_value(op, "p must be in [0, 1], got " + std::string(py::repr(py::float_(p))));
}

template <typename Kernel>
py::array masked(const py::array& x, double p, const py::handle& seed, const py::handle& offset,
                 const char* op, const char* name, Kernel kernel) {
  require_probability(p, op);
  const uint64_t s = as_uint64(seed, op, "seed");
  const uint64_t o = as_uint64(offset, op, "offset");
  return unary(x, op, name,
               [&](auto* y, const auto* in, int64_t n) { kernel(y, in, n, p, s, o); });
}

py::array dropout_forward(const py::array& x, double p, const py::handle& seed,
                          const py::handle& offset) {
  return masked(x, p, seed, offset, "dropout", "x", [](auto... args) {
    cpu::dropout_forward(args...);
  });
}

py::array dropout_backward(const py::array& dout, double p, const py::handle& seed,
                           const py::handle& offset) {
  return masked(dout, p, seed, offset, "dropout_backward", "dout", [](auto... args) {
    cpu::dropout_backward(args...);
  });
}

template <typename T>
py::array mask_of(int64_t n, double p, uint64_t seed, uint64_t offset) {
  py::array keep = empty_like_dims<T>({n});
  T* k = mut_ptr<T>(keep);
  {
    py::gil_scoped_release nogil;
    cpu::dropout_mask(k, n, p, seed, offset);
  }
  return keep;
}

py::array dropout_mask(int64_t n, double p, const py::handle& seed, const py::handle& offset,
                       const py::handle& dtype) {
  const char* op = "dropout_mask";
  require_nonnegative(n, op, "n");
  require_probability(p, op);
  const uint64_t s = as_uint64(seed, op, "seed");
  const uint64_t o = as_uint64(offset, op, "offset");
  py::dtype dt;
  try {
    dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(dtype));
  } catch (py::error_already_set&) {
    fail_type(op, "dtype: expected float32, float64 or bool, got " + std::string(py::repr(dtype)));
  }
  if (holds<float>(dt)) return mask_of<float>(n, p, s, o);
  if (holds<double>(dt)) return mask_of<double>(n, p, s, o);
  if (holds<bool>(dt)) {
    // bool and uint8 share a layout; the kernel writes 0/1 bytes.
    static_assert(sizeof(bool) == sizeof(uint8_t));
    py::array bytes = mask_of<uint8_t>(n, p, s, o);
    return bytes.attr("view")(dt);
  }
  fail_type(op, "dtype: expected float32, float64 or bool, got " + std::string(py::str(dt)));
}

// The raw generator, for known-answer tests: four counter words and two key words in, four out.
py::tuple philox4x32_10(const std::array<uint32_t, 4>& counter,
                        const std::array<uint32_t, 2>& key) {
  const philox::Counter c{{counter[0], counter[1], counter[2], counter[3]}};
  const philox::Key k{{key[0], key[1]}};
  const philox::Counter r = philox::philox4x32_10(c, k);
  return py::make_tuple(r.w[0], r.w[1], r.w[2], r.w[3]);
}

}  // namespace

void bind_dropout(py::module_& m) {
  m.def("dropout_forward", &dropout_forward, py::arg("x"), py::arg("p"), py::arg("seed"),
        py::arg("offset"),
        "y = x * keep / (1 - p), keep = u >= p with u the Philox uniform of stream position "
        "offset + i under seed. Returns a new array.");
  m.def("dropout_backward", &dropout_backward, py::arg("dout"), py::arg("p"), py::arg("seed"),
        py::arg("offset"),
        "dx = dout * keep / (1 - p), regenerating the forward's mask from (seed, offset).");
  m.def("dropout_mask", &dropout_mask, py::arg("n"), py::arg("p"), py::arg("seed"),
        py::arg("offset"), py::arg("dtype") = "float32",
        "The keep mask (1 kept, 0 dropped) of n elements, as float32, float64 or bool.");
  m.def("philox4x32_10", &philox4x32_10, py::arg("counter"), py::arg("key"),
        "Philox4x32-10 of a 4-word counter under a 2-word key (the Random123 generator).");
}

}  // namespace ember::bind
