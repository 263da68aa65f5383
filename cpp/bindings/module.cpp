// ember._C: the native kernels. Every function takes C-contiguous NumPy arrays (float32 or
// float64; int64 for class indices), checks them, releases the GIL and calls a plain C++ kernel.
#include "bindings/registry.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "ember native kernels (private: use the ember package)";
  ember::bind::bind_runtime(m);
  ember::bind::bind_gemm(m);
  ember::bind::bind_conv(m);
  ember::bind::bind_pool(m);
  ember::bind::bind_activation(m);
  ember::bind::bind_arithmetic(m);
  ember::bind::bind_data(m);
  ember::bind::bind_loss(m);
  ember::bind::bind_dropout(m);
  ember::bind::bind_optim(m);
#ifdef EMBER_WITH_CUDA
  ember::bind::bind_cuda(m);
#endif
}
