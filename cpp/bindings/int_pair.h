// Parsing of the (height, width) pairs the 2-D ops take (stride=(2, 1), padding=1, ...): an int
// stands for the same value on both axes, as in PyTorch. Values are limited to 32 bits so that
// output-size arithmetic on them cannot overflow.
#pragma once

#include <pybind11/pybind11.h>

#include <array>
#include <climits>
#include <cstdint>
#include <string>

#include "bindings/checks.h"

namespace ember::bind {

// An int argument (Python int or anything with __index__, not a bool); `expected` describes the
// accepted forms for the error message.
inline int64_t int_arg(const py::handle& v, const char* op, const char* name,
                       const char* expected = "an int") {
  if (py::isinstance<py::bool_>(v) || !PyIndex_Check(v.ptr()))
    fail_type(op, std::string(name) + ": expected " + expected + ", got " +
                      std::string(py::repr(v)));
  const auto index = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (overflow != 0 || value > INT32_MAX || value < INT32_MIN)
    fail_value(op, std::string(name) + ": expected values that fit in 32 bits, got " +
                       std::string(py::repr(v)));
  return value;
}

inline std::string pair_str(const std::array<int64_t, 2>& p) {
  return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}

// A (height, width) pair whose values must both be >= min_value.
inline std::array<int64_t, 2> int_pair(const py::handle& v, const char* op, const char* name,
                                       int64_t min_value) {
  constexpr const char* kPairForms = "an int or a pair of ints";
  std::array<int64_t, 2> pair{};
  if (py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v)) {
    const py::sequence seq = py::reinterpret_borrow<py::sequence>(v);
    if (seq.size() != 2)
      fail_value(op, std::string(name) + ": expected a pair (height, width), got " +
                         std::string(py::repr(v)));
    pair = {int_arg(seq[0], op, name, kPairForms), int_arg(seq[1], op, name, kPairForms)};
  } else {
    const int64_t value = int_arg(v, op, name, kPairForms);
    pair = {value, value};
  }
  if (pair[0] < min_value || pair[1] < min_value)
    fail_value(op, std::string(name) + ": expected values >= " + std::to_string(min_value) +
                       ", got " + pair_str(pair));
  return pair;
}

}  // namespace ember::bind
