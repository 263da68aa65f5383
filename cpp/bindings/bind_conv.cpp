#include "bindings/registry.h"

namespace ember::bind {

void bind_conv(pybind11::module_& m) { (void)m; }

}  // namespace ember::bind
