#include "bindings/registry.h"

namespace ember::bind {

void bind_gemm(pybind11::module_& m) { (void)m; }

}  // namespace ember::bind
