#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/optim.h"

namespace ember::bind {

namespace {

struct Buffer {
  const char* name;
  const py::array* array;
  bool written;
};

std::string num(double v) { return std::string(py::repr(py::float_(v))); }

// Every buffer is a contiguous float array with param's dtype and size; the ones the step writes
// must be writeable and must not share memory with any other buffer, since each element is read
// and written once in a single pass.
void require_buffers(const std::vector<Buffer>& buffers, const char* op) {
  const py::array& param = *buffers.front().array;
  for (const Buffer& b : buffers) {
    require_float(*b.array, op, b.name);
    require_same_dtype(param, *b.array, op, buffers.front().name, b.name);
    if (b.array->size() != param.size())
      fail_value(op, std::string(b.name) + ": expected " + std::to_string(param.size()) +
                         " elements (the size of " + buffers.front().name + " " +
                         shape_str(param) + "), got shape " + shape_str(*b.array));
    if (b.written && !b.array->writeable())
      fail_value(op, std::string(b.name) + ": the step updates it in place, got a read-only array");
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      if (!buffers[i].written && !buffers[j].written) continue;
      const auto* a = static_cast<const char*>(buffers[i].array->data());
      const auto* b = static_cast<const char*>(buffers[j].array->data());
      const auto bytes = buffers[i].array->nbytes();
      if (bytes > 0 && a < b + bytes && b < a + bytes)
        fail_value(op, std::string(buffers[i].name) + " and " + buffers[j].name +
                           " share memory; each needs its own array");
    }
  }
}

template <typename T>
T* data_or_null(const py::object& maybe) {
  if (maybe.is_none()) return nullptr;
  return static_cast<T*>(maybe.cast<py::array>().mutable_data());
}

// None, or an ndarray (anything else is a TypeError naming the argument).
py::object optional_array(const py::object& v, const char* op, const char* name) {
  if (!v.is_none() && !py::isinstance<py::array>(v))
    fail_type(op, std::string(name) + ": expected a NumPy array or None, got " +
                      std::string(py::str(py::type::handle_of(v).attr("__name__"))));
  return v;
}

cpu::SgdOptions sgd_options(const char* op, double lr, double momentum, double dampening,
                            double weight_decay, bool nesterov, bool maximize, bool first_step) {
  if (!(lr >= 0.0)) fail_value(op, "lr must be >= 0, got " + num(lr));
  if (!(momentum >= 0.0)) fail_value(op, "momentum must be >= 0, got " + num(momentum));
  if (!(weight_decay >= 0.0))
    fail_value(op, "weight_decay must be >= 0, got " + num(weight_decay));
  if (nesterov && (momentum <= 0.0 || dampening != 0.0))
    fail_value(op, "nesterov requires momentum > 0 and dampening == 0, got momentum " +
                       num(momentum) + " and dampening " + num(dampening));
  cpu::SgdOptions opt;
  opt.lr = lr;
  opt.momentum = momentum;
  opt.dampening = dampening;
  opt.weight_decay = weight_decay;
  opt.nesterov = nesterov;
  opt.maximize = maximize;
  opt.first_step = first_step;
  return opt;
}

// One parameter's arrays, checked, with the pointers the step needs once the GIL is released
// (the arrays keep them alive).
struct SgdArrays {
  py::array param, grad, buffer;  // buffer: empty without momentum
  void* param_data = nullptr;
  const void* grad_data = nullptr;
  void* buffer_data = nullptr;
  int64_t size = 0;
  bool single = true;

  void run(const cpu::SgdOptions& opt) const {
    if (single)
      cpu::sgd_step(static_cast<float*>(param_data), static_cast<float*>(buffer_data),
                    static_cast<const float*>(grad_data), size, opt);
    else
      cpu::sgd_step(static_cast<double*>(param_data), static_cast<double*>(buffer_data),
                    static_cast<const double*>(grad_data), size, opt);
  }
};

SgdArrays sgd_arrays(const py::array& param, const py::array& grad,
                     const py::object& momentum_buffer, const cpu::SgdOptions& opt,
                     const char* op) {
  const py::object buf = optional_array(momentum_buffer, op, "momentum_buffer");
  if (opt.momentum != 0.0 && buf.is_none())
    fail_value(op, "momentum_buffer is required when momentum != 0 (got None)");
  SgdArrays a{param, grad, {}};
  std::vector<Buffer> buffers{{"param", &a.param, true}, {"grad", &a.grad, false}};
  if (!buf.is_none()) {
    a.buffer = buf.cast<py::array>();
    buffers.push_back({"momentum_buffer", &a.buffer, opt.momentum != 0.0});
  }
  require_buffers(buffers, op);
  a.param_data = a.param.mutable_data();
  a.grad_data = a.grad.data();
  if (opt.momentum != 0.0) a.buffer_data = a.buffer.mutable_data();
  a.size = static_cast<int64_t>(a.param.size());
  a.single = is_float32(a.param);
  return a;
}

void sgd_step(py::array& param, const py::array& grad, const py::object& momentum_buffer,
              double lr, double momentum, double dampening, double weight_decay, bool nesterov,
              bool maximize, bool first_step) {
  const char* op = "sgd_step";
  const cpu::SgdOptions opt = sgd_options(op, lr, momentum, dampening, weight_decay, nesterov,
                                          maximize, first_step);
  const SgdArrays arrays = sgd_arrays(param, grad, momentum_buffer, opt, op);
  py::gil_scoped_release nogil;
  arrays.run(opt);
}

// The same step for every parameter of an optimizer's group in one call: a small model's step
// is otherwise mostly the Python and binding overhead of one call per bias vector.
void sgd_step_many(const py::list& params, const py::list& grads, const py::list& buffers,
                   double lr, double momentum, double dampening, double weight_decay,
                   bool nesterov, bool maximize, bool first_step) {
  const char* op = "sgd_step_many";
  const cpu::SgdOptions opt = sgd_options(op, lr, momentum, dampening, weight_decay, nesterov,
                                          maximize, first_step);
  const size_t count = params.size();
  if (grads.size() != count || buffers.size() != count)
    fail_value(op, "params, grads and momentum_buffers: expected lists of one length, got " +
                       std::to_string(count) + ", " + std::to_string(grads.size()) + " and " +
                       std::to_string(buffers.size()));
  std::vector<SgdArrays> steps;
  steps.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const auto array_at = [&](const py::list& list, const char* name) {
      if (!py::isinstance<py::array>(list[i]))
        fail_type(op, std::string(name) + "[" + std::to_string(i) + "]: expected a NumPy array");
      return list[i].cast<py::array>();
    };
    const std::string which = " (parameter " + std::to_string(i) + ")";
    try {
      steps.push_back(sgd_arrays(array_at(params, "params"), array_at(grads, "grads"),
                                 buffers[i], opt, op));
    } catch (const py::value_error& e) {
      throw py::value_error(e.what() + which);
    } catch (const py::type_error& e) {
      throw py::type_error(e.what() + which);
    }
  }
  py::gil_scoped_release nogil;
  for (const SgdArrays& step : steps) step.run(opt);
}

void adam_step(py::array& param, const py::array& grad, py::array& exp_avg,
               py::array& exp_avg_sq, int64_t step, double lr, double beta1, double beta2,
               double eps, double weight_decay, bool decoupled_weight_decay, bool amsgrad,
               const py::object& max_exp_avg_sq, bool maximize) {
  const char* op = "adam_step";
  if (step < 1) fail_value(op, "step must be >= 1 (the count after this step), got " +
                                   std::to_string(step));
  if (!(lr >= 0.0)) fail_value(op, "lr must be >= 0, got " + num(lr));
  if (!(eps >= 0.0)) fail_value(op, "eps must be >= 0, got " + num(eps));
  if (!(beta1 >= 0.0 && beta1 < 1.0)) fail_value(op, "beta1 must be in [0, 1), got " + num(beta1));
  if (!(beta2 >= 0.0 && beta2 < 1.0)) fail_value(op, "beta2 must be in [0, 1), got " + num(beta2));
  if (!(weight_decay >= 0.0))
    fail_value(op, "weight_decay must be >= 0, got " + num(weight_decay));
  const py::object vmax = optional_array(max_exp_avg_sq, op, "max_exp_avg_sq");
  if (amsgrad && vmax.is_none())
    fail_value(op, "max_exp_avg_sq is required when amsgrad=True (got None)");

  std::vector<Buffer> buffers{{"param", &param, true},
                              {"grad", &grad, false},
                              {"exp_avg", &exp_avg, true},
                              {"exp_avg_sq", &exp_avg_sq, true}};
  py::array vmax_array;
  if (!vmax.is_none()) {
    vmax_array = vmax.cast<py::array>();
    buffers.push_back({"max_exp_avg_sq", &vmax_array, amsgrad});
  }
  require_buffers(buffers, op);

  cpu::AdamOptions opt;
  opt.lr = lr;
  opt.beta1 = beta1;
  opt.beta2 = beta2;
  opt.eps = eps;
  opt.weight_decay = weight_decay;
  opt.step = step;
  opt.decoupled_weight_decay = decoupled_weight_decay;
  opt.amsgrad = amsgrad;
  opt.maximize = maximize;
  dispatch_float(param, [&](auto tag) {
    using T = decltype(tag);
    T* p = mut_ptr<T>(param);
    T* m = mut_ptr<T>(exp_avg);
    T* v = mut_ptr<T>(exp_avg_sq);
    T* vm = amsgrad ? mut_ptr<T>(vmax_array) : nullptr;
    const T* g = ptr<T>(grad);
    const int64_t n = param.size();
    py::gil_scoped_release nogil;
    cpu::adam_step(p, m, v, vm, g, n, opt);
  });
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def("sgd_step", &sgd_step, py::arg("param"), py::arg("grad"),
        py::arg("momentum_buffer") = py::none(), py::kw_only(), py::arg("lr"),
        py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0,
        py::arg("nesterov") = false, py::arg("maximize") = false, py::arg("first_step") = false,
        "One torch.optim.SGD step, in place on param (and momentum_buffer):\n"
        "  g = (-grad if maximize else grad) + weight_decay * param\n"
        "  if momentum != 0:\n"
        "    buf = g on the first step, else momentum * buf + (1 - dampening) * g\n"
        "    g = g + momentum * buf if nesterov else buf\n"
        "  param -= lr * g");
  m.def("sgd_step_many", &sgd_step_many, py::arg("params"), py::arg("grads"),
        py::arg("momentum_buffers"), py::kw_only(), py::arg("lr"), py::arg("momentum") = 0.0,
        py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0, py::arg("nesterov") = false,
        py::arg("maximize") = false, py::arg("first_step") = false,
        "sgd_step on every params[i], grads[i], momentum_buffers[i] (None entries without\n"
        "momentum) in one call, with the same hyper-parameters; all are checked before any is\n"
        "updated.");
  m.def("adam_step", &adam_step, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("step"), py::kw_only(), py::arg("lr") = 1e-3,
        py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("decoupled_weight_decay") = false,
        py::arg("amsgrad") = false, py::arg("max_exp_avg_sq") = py::none(),
        py::arg("maximize") = false,
        "One torch.optim.Adam step (AdamW with decoupled_weight_decay=True), in place on param,\n"
        "exp_avg, exp_avg_sq (and max_exp_avg_sq with amsgrad). step counts this step (1-based):\n"
        "  g = -grad if maximize else grad\n"
        "  param *= 1 - lr * weight_decay (decoupled) or g += weight_decay * param\n"
        "  m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2\n"
        "  v_hat = max(max_exp_avg_sq, v) with amsgrad (stored back), else v\n"
        "  param -= lr / (1 - beta1^step) * m / (sqrt(v_hat) / sqrt(1 - beta2^step) + eps)");
}

}  // namespace ember::bind
