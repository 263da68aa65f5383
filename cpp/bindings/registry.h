// One registration function per op family; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace ember::bind {

void bind_runtime(pybind11::module_& m);
void bind_gemm(pybind11::module_& m);        // gemm, linear
void bind_conv(pybind11::module_& m);        // conv2d
void bind_pool(pybind11::module_& m);        // max_pool2d, avg_pool2d
void bind_activation(pybind11::module_& m);  // relu ... log_softmax
void bind_arithmetic(pybind11::module_& m);  // a + b ... a / b, same shapes
void bind_loss(pybind11::module_& m);        // cross_entropy, bce, mse
void bind_dropout(pybind11::module_& m);
void bind_optim(pybind11::module_& m);       // fused sgd / adam steps
void bind_data(pybind11::module_& m);        // gather_rows
#ifdef EMBER_WITH_CUDA
void bind_cuda(pybind11::module_& m);        // the submodule ember._C.cuda
#endif

}  // namespace ember::bind
