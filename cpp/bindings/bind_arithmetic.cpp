// arithmetic: a + b, a - b, a * b, a / b for two float arrays of one shape.
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/arithmetic.h"

namespace ember::bind {

namespace {

cpu::Arithmetic parse_op(const std::string& name) {
  if (name == "add") return cpu::Arithmetic::Add;
  if (name == "sub") return cpu::Arithmetic::Subtract;
  if (name == "mul") return cpu::Arithmetic::Multiply;
  if (name == "div") return cpu::Arithmetic::Divide;
  fail_value("arithmetic", "op: expected 'add', 'sub', 'mul' or 'div', got '" + name + "'");
}

py::array arithmetic(const py::array& a, const py::array& b, const std::string& op_name) {
  const char* op = "arithmetic";
  const cpu::Arithmetic kind = parse_op(op_name);
  require_float(a, op, "a");
  require_float(b, op, "b");
  require_same_dtype(a, b, op, "a", "b");
  require_shape(b, dims_of(a), op, "b");
  return dispatch_float(a, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array out = empty_like_dims<T>(dims_of(a));
    T* o = mut_ptr<T>(out);
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    const int64_t n = a.size();
    {
      py::gil_scoped_release nogil;
      cpu::arithmetic<T>(kind, o, pa, pb, n);
    }
    return out;
  });
}

}  // namespace

void bind_arithmetic(py::module_& m) {
  m.def("arithmetic", &arithmetic, py::arg("a"), py::arg("b"), py::arg("op"),
        "a (op) b element by element for float arrays of one shape; op is 'add', 'sub', 'mul' "
        "or 'div'.");
}

}  // namespace ember::bind
