#include "bindings/checks.h"

#include <cstdint>
#include <sstream>

namespace ember::bind {

std::string dims_str(const std::vector<int64_t>& dims) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < dims.size(); ++i) s << (i ? ", " : "") << dims[i];
  if (dims.size() == 1) s << ",";
  s << ")";
  return s.str();
}

std::vector<int64_t> dims_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

std::string shape_str(const py::array& a) { return dims_str(dims_of(a)); }

void fail_value(const char* op, const std::string& msg) {
  throw py::value_error(std::string("[") + op + "] " + msg);
}

void fail_type(const char* op, const std::string& msg) {
  throw py::type_error(std::string("[") + op + "] " + msg);
}

void require_contiguous(const py::array& a, const char* op, const char* name) {
  if (!(a.flags() & py::array::c_style))
    fail_value(op, std::string(name) + ": expected a C-contiguous array, got strides of a view " +
                       "with shape " + shape_str(a) + " (use numpy.ascontiguousarray)");
}

void require_float(const py::array& a, const char* op, const char* name) {
  if (!holds<float>(a.dtype()) && !holds<double>(a.dtype()))
    fail_type(op, std::string(name) + ": expected float32 or float64, got " +
                      std::string(py::str(a.dtype())));
  require_contiguous(a, op, name);
}

void require_int64(const py::array& a, const char* op, const char* name) {
  if (!holds<int64_t>(a.dtype()))
    fail_type(op, std::string(name) + ": expected int64, got " + std::string(py::str(a.dtype())));
  require_contiguous(a, op, name);
}

void require_ndim(const py::array& a, int ndim, const char* op, const char* name,
                  const char* layout) {
  if (a.ndim() != ndim)
    fail_value(op, std::string(name) + ": expected " + std::to_string(ndim) + "-D " + layout +
                       ", got shape " + shape_str(a));
}

void require_same_dtype(const py::array& a, const py::array& b, const char* op,
                        const char* name_a, const char* name_b) {
  if (a.dtype().normalized_num() != b.dtype().normalized_num())
    fail_type(op, std::string(name_a) + " and " + name_b + " must share a dtype, got " +
                      std::string(py::str(a.dtype())) + " and " + std::string(py::str(b.dtype())));
}

void require_shape(const py::array& a, const std::vector<int64_t>& dims, const char* op,
                   const char* name) {
  if (dims_of(a) != dims)
    fail_value(op, std::string(name) + ": expected shape " + dims_str(dims) + ", got " +
                       shape_str(a));
}

void require_positive(int64_t v, const char* op, const char* name) {
  if (v <= 0) fail_value(op, std::string(name) + " must be positive, got " + std::to_string(v));
}

void require_nonnegative(int64_t v, const char* op, const char* name) {
  if (v < 0) fail_value(op, std::string(name) + " must be >= 0, got " + std::to_string(v));
}

}  // namespace ember::bind
