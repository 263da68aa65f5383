// arithmetic: a + b, a - b, a * b, a / b for two float arrays of one shape.
#include <string>

#include "bindings/checks.h"
#include "bindings/elementwise.h"
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
  const cpu::Arithmetic kind = parse_op(op_name);
  // b's shape is checked against a's: binary() takes its first argument as the one to match.
  return binary(b, a, "arithmetic", "b", "a", [kind](auto* out, const auto* pb, const auto* pa,
                                                     int64_t n) {
    cpu::arithmetic(kind, out, pa, pb, n);
  });
}

}  // namespace

void bind_arithmetic(py::module_& m) {
  m.def("arithmetic", &arithmetic, py::arg("a"), py::arg("b"), py::arg("op"),
        "a (op) b element by element for float arrays of one shape; op is 'add', 'sub', 'mul' "
        "or 'div'.");
}

}  // namespace ember::bind
