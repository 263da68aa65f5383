// gather_rows: the rows of a dataset array that make up one batch.
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/gather.h"

namespace ember::bind {

namespace {

py::array gather_rows(const py::array& src, const py::array& indices) {
  const char* op = "gather_rows";
  if (src.ndim() < 1) fail_value(op, "src: expected at least 1 dimension, got a 0-d array");
  require_contiguous(src, op, "src");
  if (src.dtype().attr("hasobject").cast<bool>())
    fail_type(op, "src: expected an array of plain values, got one holding Python objects");
  require_int64(indices, op, "indices");
  require_ndim(indices, 1, op, "indices", "(count,)");
  const int64_t rows = src.shape(0), count = indices.shape(0);
  const auto* given = static_cast<const int64_t*>(indices.data());
  std::vector<int64_t> resolved(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t k = given[i];
    if (k < -rows || k >= rows)
      throw py::index_error("[gather_rows] indices: index " + std::to_string(k) +
                            " is out of bounds for " + std::to_string(rows) + " rows");
    resolved[static_cast<size_t>(i)] = k < 0 ? k + rows : k;
  }
  std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(count)};
  for (py::ssize_t d = 1; d < src.ndim(); ++d) shape.push_back(src.shape(d));
  py::array out(src.dtype(), shape);
  const int64_t row_bytes = rows > 0 ? static_cast<int64_t>(src.nbytes()) / rows : 0;
  auto* dst = static_cast<char*>(out.mutable_data());
  const auto* from = static_cast<const char*>(src.data());
  {
    py::gil_scoped_release release;
    cpu::gather_rows(dst, from, resolved.data(), count, row_bytes);
  }
  return out;
}

}  // namespace

void bind_data(py::module_& m) {
  m.def("gather_rows", &gather_rows, py::arg("src"), py::arg("indices"),
        "src[indices] for a C-contiguous array of any dtype and 1-D int64 indices (negative ones "
        "count from the end): whole rows, prefetched ahead and copied in parallel when large.");
}

}  // namespace ember::bind
