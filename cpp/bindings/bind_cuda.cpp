// ember._C.cuda: the CUDA backend's native half. Python (ember/backends/cuda.py) owns the array
// type and allocates every output; these functions check their arguments, turn arrays into
// cuda::View and queue kernels on the device's stream.
//
// A device array is any Python object with the attributes
//   _buffer (a Buffer), _offset (elements), shape (tuple), _strides (tuple, in elements), dtype
// (ember's CudaArray). Every view is checked to lie inside its buffer before a kernel sees it,
// so a wrong view raises ValueError instead of corrupting device memory.
#ifdef EMBER_WITH_CUDA

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings/registry.h"
#include "cuda/api.h"

namespace ember::bind {

namespace py = pybind11;
using cuda::DType;
using cuda::View;

namespace {

// Device memory from the caching allocator, returned to it when the last view dies.
class Buffer {
 public:
  Buffer(int64_t nbytes, int device) : nbytes_(nbytes), device_(device) {
    if (nbytes < 0) throw std::invalid_argument("[cuda] Buffer: nbytes must be >= 0");
    ptr_ = cuda::allocate(static_cast<size_t>(nbytes), device, &reserved_);
  }
  ~Buffer() { cuda::release(ptr_, reserved_, device_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* ptr() const { return ptr_; }
  int64_t nbytes() const { return nbytes_; }
  int device() const { return device_; }

 private:
  void* ptr_ = nullptr;
  size_t reserved_ = 0;
  int64_t nbytes_;
  int device_;
};

[[noreturn]] void fail(const char* op, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + op + "] " + msg);
}

DType dtype_of(const py::dtype& dt, const char* op) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'b') return DType::Bool;
  if (kind == 'u' && size == 1) return DType::UInt8;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  throw py::type_error(std::string("[") + op + "] dtype " + std::string(py::str(dt)) +
                       " is not supported on CUDA (bool, uint8, int32, int64, float32, float64)");
}

// The attribute names of a device array, made once: every kernel launch reads them, and a
// lookup by an existing str object skips building a new one each time. Never freed: their
// destruction at exit could run without the GIL.
struct ArrayAttributes {
  py::str buffer{"_buffer"}, offset{"_offset"}, shape{"shape"}, strides{"_strides"},
      dtype{"dtype"};
};
const ArrayAttributes& array_attributes() {
  static const auto* names = new ArrayAttributes();
  return *names;
}

// The view of a device array, checked to lie inside its buffer.
View view_of(const py::handle& obj, const char* op) {
  const ArrayAttributes& names = array_attributes();
  PyObject* buffer_obj = PyObject_GetAttr(obj.ptr(), names.buffer.ptr());
  if (buffer_obj == nullptr) {
    PyErr_Clear();
    throw py::type_error(std::string("[") + op + "] expected a CUDA array, got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  }
  const auto buffer_ref = py::reinterpret_steal<py::object>(buffer_obj);
  const auto& buffer = buffer_ref.cast<const Buffer&>();
  const auto offset = obj.attr(names.offset).cast<int64_t>();
  const auto shape = obj.attr(names.shape).cast<std::vector<int64_t>>();
  const auto strides = obj.attr(names.strides).cast<std::vector<int64_t>>();
  View v;
  v.dtype = dtype_of(obj.attr(names.dtype).cast<py::dtype>(), op);
  v.device = buffer.device();
  if (shape.size() > static_cast<size_t>(cuda::kMaxDims) || strides.size() != shape.size())
    fail(op, "arrays may have at most " + std::to_string(cuda::kMaxDims) + " dims on CUDA");
  v.ndim = static_cast<int>(shape.size());
  const int64_t item = cuda::itemsize(v.dtype);
  const int64_t elements = buffer.nbytes() / item;
  int64_t lo = 0, hi = 0;
  bool empty = false;
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = shape[d];
    v.strides[d] = strides[d];
    if (shape[d] < 0) fail(op, "negative dimension");
    if (shape[d] == 0) empty = true;
    const int64_t reach = (shape[d] > 0 ? shape[d] - 1 : 0) * strides[d];
    (reach < 0 ? lo : hi) += reach;
  }
  if (!empty && (offset + lo < 0 || offset + hi >= elements))
    fail(op, "array view lies outside its buffer (offset " + std::to_string(offset) +
                 ", buffer of " + std::to_string(elements) + " elements)");
  v.data = static_cast<char*>(buffer.ptr()) + offset * item;
  v.capacity = elements - offset;
  return v;
}

std::optional<View> optional_view(const py::object& obj, const char* op) {
  if (obj.is_none()) return std::nullopt;
  return view_of(obj, op);
}

const View* ptr_or_null(const std::optional<View>& v) { return v ? &*v : nullptr; }

cuda::Operand operand_of(const py::handle& obj, const char* op) {
  cuda::Operand o;
  if (py::isinstance<py::bool_>(obj)) {
    o.is_scalar = o.is_int = true;
    o.int_value = obj.cast<bool>();
    o.value = static_cast<double>(o.int_value);
  } else if (py::isinstance<py::int_>(obj)) {
    o.is_scalar = o.is_int = true;
    o.int_value = obj.cast<int64_t>();
    o.value = static_cast<double>(o.int_value);
  } else if (py::isinstance<py::float_>(obj)) {
    o.is_scalar = true;
    o.value = obj.cast<double>();
  } else {
    o.view = view_of(obj, op);
  }
  return o;
}

template <typename E>
E parse_enum(const std::string& name, const std::vector<std::pair<const char*, E>>& table,
             const char* op) {
  for (const auto& [key, value] : table)
    if (name == key) return value;
  fail(op, "unknown operation '" + name + "'");
}

cuda::UnaryOp unary_op(const std::string& name) {
  using U = cuda::UnaryOp;
  static const std::vector<std::pair<const char*, U>> table = {
      {"neg", U::Neg},         {"exp", U::Exp},           {"log", U::Log},
      {"sqrt", U::Sqrt},       {"abs", U::Abs},           {"sign", U::Sign},
      {"invert", U::Invert},   {"isnan", U::IsNan},       {"isfinite", U::IsFinite},
      {"clip", U::Clip},       {"relu", U::Relu},         {"sigmoid", U::Sigmoid},
      {"tanh", U::Tanh},       {"leaky_relu", U::LeakyRelu}, {"gelu", U::Gelu},
      {"gelu_tanh", U::GeluTanh}};
  return parse_enum(name, table, "unary");
}

cuda::BinaryOp binary_op(const std::string& name) {
  using B = cuda::BinaryOp;
  static const std::vector<std::pair<const char*, B>> table = {
      {"add", B::Add},
      {"sub", B::Sub},
      {"mul", B::Mul},
      {"div", B::Div},
      {"floor_divide", B::FloorDivide},
      {"remainder", B::Remainder},
      {"pow", B::Pow},
      {"maximum", B::Maximum},
      {"minimum", B::Minimum},
      {"eq", B::Eq},
      {"ne", B::Ne},
      {"lt", B::Lt},
      {"le", B::Le},
      {"gt", B::Gt},
      {"ge", B::Ge},
      {"and", B::And},
      {"or", B::Or},
      {"xor", B::Xor},
      {"relu_backward", B::ReluBackward},
      {"leaky_relu_backward", B::LeakyReluBackward},
      {"sigmoid_backward", B::SigmoidBackward},
      {"tanh_backward", B::TanhBackward},
      {"gelu_backward", B::GeluBackward},
      {"gelu_tanh_backward", B::GeluTanhBackward}};
  return parse_enum(name, table, "binary");
}

cuda::ReduceOp reduce_op(const std::string& name) {
  using R = cuda::ReduceOp;
  static const std::vector<std::pair<const char*, R>> table = {
      {"sum", R::Sum}, {"max", R::Max}, {"min", R::Min}, {"argmax", R::ArgMax},
      {"argmin", R::ArgMin}};
  return parse_enum(name, table, "reduce");
}

cuda::Reduction reduction_of(const std::string& name, const char* op) {
  using R = cuda::Reduction;
  static const std::vector<std::pair<const char*, R>> table = {
      {"none", R::None}, {"mean", R::Mean}, {"sum", R::Sum}};
  return parse_enum(name, table, op);
}

cuda::PointLoss point_loss_of(const std::string& name) {
  using P = cuda::PointLoss;
  static const std::vector<std::pair<const char*, P>> table = {
      {"mse", P::Mse}, {"bce", P::Bce}, {"bce_with_logits", P::BceWithLogits}};
  return parse_enum(name, table, "loss");
}

bool is_contiguous(const View& v) {
  int64_t expected = 1;
  for (int d = v.ndim - 1; d >= 0; --d) {
    if (v.shape[d] != 1 && v.strides[d] != expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

View contiguous_view_of(const py::handle& obj, const char* op, const char* name) {
  View v = view_of(obj, op);
  if (!is_contiguous(v)) fail(op, std::string(name) + " must be contiguous");
  return v;
}

// ---- copies between host and device ----------------------------------------------------------

void upload(const py::object& dst, const py::array& src) {
  const char* op = "copy to cuda";
  const View v = contiguous_view_of(dst, op, "dst");
  if (!(src.flags() & py::array::c_style)) fail(op, "src must be C-contiguous");
  if (dtype_of(src.dtype(), op) != v.dtype || src.size() != v.numel())
    fail(op, "src must have dst's dtype and size");
  cuda::copy_host_to_device(v.data, src.data(), static_cast<size_t>(src.nbytes()), v.device);
}

py::array download(const py::object& src) {
  const char* op = "copy to host";
  const View v = contiguous_view_of(src, op, "src");
  py::array out(src.attr("dtype").cast<py::dtype>(),
                src.attr("shape").cast<std::vector<py::ssize_t>>());
  void* dst = out.mutable_data();
  const size_t nbytes = static_cast<size_t>(out.nbytes());
  {
    py::gil_scoped_release nogil;
    cuda::copy_device_to_host(dst, v.data, nbytes, v.device);
  }
  return out;
}

// ---- element-wise, reductions, indexing -------------------------------------------------------

void unary(const std::string& op, const py::object& out, const py::object& x,
           const std::optional<double>& lo, const std::optional<double>& hi) {
  cuda::unary(unary_op(op), view_of(out, "unary"), view_of(x, "unary"), lo.value_or(0.0),
              hi.value_or(0.0), lo.has_value(), hi.has_value());
}

void binary(const std::string& op, const py::object& out, const py::object& a,
            const py::object& b, double param) {
  cuda::binary(binary_op(op), view_of(out, "binary"), operand_of(a, "binary"),
               operand_of(b, "binary"), param);
}

// The plan of an advanced index: the indexed array `base` read from element `offset` with
// `strides` per output dim, plus index arrays (broadcast to the output's shape), each indexing a
// dim of size bounds[j] and stride index_strides[j] of `base`.
cuda::IndexPlan index_plan(const py::object& base, int64_t offset,
                           const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                           const std::vector<py::object>& indices,
                           const std::vector<int64_t>& bounds,
                           const std::vector<int64_t>& index_strides, const char* op) {
  if (shape.size() != strides.size() || shape.size() > static_cast<size_t>(cuda::kMaxDims))
    fail(op, "bad index plan");
  if (indices.size() != bounds.size() || indices.size() != index_strides.size() ||
      indices.size() > static_cast<size_t>(cuda::kMaxDims))
    fail(op, "bad index plan");
  const View whole = view_of(base, op);
  cuda::IndexPlan plan;
  plan.src = whole;
  plan.src.ndim = static_cast<int>(shape.size());
  const int64_t item = cuda::itemsize(whole.dtype);
  const auto& buffer = base.attr("_buffer").cast<const Buffer&>();
  const int64_t elements = buffer.nbytes() / item;
  int64_t lo = offset, hi = offset;
  bool empty = false;
  for (size_t d = 0; d < shape.size(); ++d) {
    plan.src.shape[d] = shape[d];
    plan.src.strides[d] = strides[d];
    if (shape[d] == 0) empty = true;
    const int64_t reach = (shape[d] > 0 ? shape[d] - 1 : 0) * strides[d];
    (reach < 0 ? lo : hi) += reach;
  }
  plan.nidx = static_cast<int>(indices.size());
  for (size_t j = 0; j < indices.size(); ++j) {
    plan.idx[j] = view_of(indices[j], op);
    plan.idx_bound[j] = bounds[j];
    plan.idx_src_stride[j] = index_strides[j];
    if (bounds[j] <= 0) empty = true;
    const int64_t reach = (bounds[j] > 0 ? bounds[j] - 1 : 0) * index_strides[j];
    (reach < 0 ? lo : hi) += reach;
  }
  if (!empty && (lo < 0 || hi >= elements)) fail(op, "the index plan reaches outside the array");
  plan.src.data = static_cast<char*>(buffer.ptr()) + offset * item;
  plan.src.capacity = elements - offset;
  return plan;
}

// ---- geometry tuples ----------------------------------------------------------------------

cuda::Conv2d conv_geometry(const std::vector<int64_t>& g) {
  if (g.size() != 16) fail("conv2d", "geometry must have 16 entries");
  for (int64_t v : g)
    if (v < 0) fail("conv2d", "geometry entries must be >= 0");
  cuda::Conv2d s{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
                 g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]};
  if (s.groups < 1 || s.C % s.groups || s.O % s.groups || s.sh < 1 || s.sw < 1 || s.dh < 1 ||
      s.dw < 1 || s.OH < 1 || s.OW < 1 || s.KH < 1 || s.KW < 1)
    fail("conv2d", "invalid geometry");
  return s;
}

cuda::Pool2d pool_geometry(const std::vector<int64_t>& g) {
  if (g.size() != 11) fail("pool2d", "geometry must have 11 entries");
  cuda::Pool2d s{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10]};
  if (s.kh < 1 || s.kw < 1 || s.sh < 1 || s.sw < 1 || s.ph < 0 || s.pw < 0 || s.OH < 1 ||
      s.OW < 1 || s.planes < 0 || s.H < 1 || s.W < 1)
    fail("pool2d", "invalid geometry");
  return s;
}

}  // namespace

void bind_cuda(py::module_& parent) {
  py::module_ m = parent.def_submodule("cuda", "CUDA backend kernels (private: use ember.cuda)");

  py::class_<Buffer>(m, "Buffer", "Device memory from ember's caching allocator.")
      .def(py::init<int64_t, int>(), py::arg("nbytes"), py::arg("device"))
      .def_property_readonly("ptr", [](const Buffer& b) {
        return reinterpret_cast<uintptr_t>(b.ptr());
      })
      .def_property_readonly("nbytes", &Buffer::nbytes)
      .def_property_readonly("device", &Buffer::device);

  m.def("device_count", &cuda::device_count);
  m.def("current_device", &cuda::current_device);
  m.def("set_device", &cuda::set_device, py::arg("device"));
  m.def("synchronize", [](int device) {
    py::gil_scoped_release nogil;
    cuda::synchronize(device);
  }, py::arg("device"));
  m.def("device_name", &cuda::device_name, py::arg("device"));
  m.def("runtime_version", &cuda::runtime_version);
  m.def("driver_version", &cuda::driver_version);
  m.def("platform", &cuda::platform);
  m.def("cublas_built", &cuda::cublas_built);
  m.def("use_cublas", &cuda::use_cublas);
  m.def("set_use_cublas", &cuda::set_use_cublas, py::arg("on"));
  m.def("empty_cache", &cuda::empty_cache);
  m.def("memory_allocated", &cuda::memory_allocated, py::arg("device"));
  m.def("memory_reserved", &cuda::memory_reserved, py::arg("device"));

  m.def("upload", &upload, py::arg("dst"), py::arg("src"));
  m.def("download", &download, py::arg("src"));

  m.def("copy", [](const py::object& out, const py::object& src) {
    cuda::copy(view_of(out, "copy"), view_of(src, "copy"));
  }, py::arg("out"), py::arg("src"));
  m.def("fill", [](const py::object& out, const py::object& value) {
    const cuda::Operand v = operand_of(value, "fill");
    if (!v.is_scalar) fail("fill", "value must be a Python scalar");
    cuda::fill(view_of(out, "fill"), v);
  }, py::arg("out"), py::arg("value"));
  m.def("unary", &unary, py::arg("op"), py::arg("out"), py::arg("x"), py::arg("lo") = py::none(),
        py::arg("hi") = py::none());
  m.def("binary", &binary, py::arg("op"), py::arg("out"), py::arg("a"), py::arg("b"),
        py::arg("param") = 0.0);
  m.def("where", [](const py::object& out, const py::object& cond, const py::object& a,
                    const py::object& b) {
    cuda::where(view_of(out, "where"), view_of(cond, "where"), operand_of(a, "where"),
                operand_of(b, "where"));
  }, py::arg("out"), py::arg("cond"), py::arg("a"), py::arg("b"));
  m.def("reduce", [](const std::string& op, const py::object& out, const py::object& x,
                     int inner_dims, double scale) {
    cuda::reduce(reduce_op(op), view_of(out, "reduce"), view_of(x, "reduce"), inner_dims, scale);
  }, py::arg("op"), py::arg("out"), py::arg("x"), py::arg("inner_dims"), py::arg("scale") = 1.0);

  m.def("gather", [](const py::object& out, const py::object& base, int64_t offset,
                     const std::vector<int64_t>& strides, const std::vector<py::object>& indices,
                     const std::vector<int64_t>& bounds,
                     const std::vector<int64_t>& index_strides) {
    const View o = view_of(out, "index");
    const std::vector<int64_t> shape(o.shape, o.shape + o.ndim);
    cuda::gather(o, index_plan(base, offset, shape, strides, indices, bounds, index_strides,
                               "index"));
  }, py::arg("out"), py::arg("base"), py::arg("offset"), py::arg("strides"), py::arg("indices"),
        py::arg("bounds"), py::arg("index_strides"));
  m.def("scatter", [](const py::object& base, int64_t offset, const std::vector<int64_t>& strides,
                      const std::vector<py::object>& indices, const std::vector<int64_t>& bounds,
                      const std::vector<int64_t>& index_strides, const py::object& values,
                      bool accumulate) {
    const View v = view_of(values, "index_put");
    const std::vector<int64_t> shape(v.shape, v.shape + v.ndim);
    cuda::scatter(index_plan(base, offset, shape, strides, indices, bounds, index_strides,
                             "index_put"),
                  v, accumulate);
  }, py::arg("base"), py::arg("offset"), py::arg("strides"), py::arg("indices"),
        py::arg("bounds"), py::arg("index_strides"), py::arg("values"), py::arg("accumulate"));

  m.def("gemm", [](const py::object& c, const py::object& a, const py::object& b, bool trans_a,
                   bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                   int64_t ldc, int64_t batch, int64_t stride_a, int64_t stride_b,
                   int64_t stride_c, double alpha, double beta) {
    cuda::Gemm g;
    g.trans_a = trans_a;
    g.trans_b = trans_b;
    g.M = M;
    g.N = N;
    g.K = K;
    g.lda = lda;
    g.ldb = ldb;
    g.ldc = ldc;
    g.batch = batch;
    g.stride_a = stride_a;
    g.stride_b = stride_b;
    g.stride_c = stride_c;
    g.alpha = alpha;
    g.beta = beta;
    cuda::gemm(g, view_of(c, "gemm"), view_of(a, "gemm"), view_of(b, "gemm"));
  }, py::arg("c"), py::arg("a"), py::arg("b"), py::arg("trans_a"), py::arg("trans_b"),
        py::arg("M"), py::arg("N"), py::arg("K"), py::arg("lda"), py::arg("ldb"), py::arg("ldc"),
        py::arg("batch") = 1, py::arg("stride_a") = 0, py::arg("stride_b") = 0,
        py::arg("stride_c") = 0, py::arg("alpha") = 1.0, py::arg("beta") = 0.0);

  m.def("conv2d_forward", [](const py::object& y, const py::object& x, const py::object& weight,
                             const py::object& bias, const std::vector<int64_t>& geometry) {
    const char* op = "conv2d";
    const auto b = optional_view(bias, op);
    cuda::conv2d_forward(conv_geometry(geometry), contiguous_view_of(y, op, "y"),
                         contiguous_view_of(x, op, "x"), contiguous_view_of(weight, op, "weight"),
                         ptr_or_null(b));
  }, py::arg("y"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("geometry"));
  m.def("conv2d_backward", [](const py::object& dx, const py::object& dweight,
                              const py::object& dbias, const py::object& dy, const py::object& x,
                              const py::object& weight, const std::vector<int64_t>& geometry) {
    const char* op = "conv2d_backward";
    const auto vdx = optional_view(dx, op), vdw = optional_view(dweight, op),
               vdb = optional_view(dbias, op);
    for (const auto* v : {&vdx, &vdw, &vdb})
      if (*v && !is_contiguous(**v)) fail(op, "gradients must be contiguous");
    cuda::conv2d_backward(conv_geometry(geometry), ptr_or_null(vdx), ptr_or_null(vdw),
                          ptr_or_null(vdb), contiguous_view_of(dy, op, "dout"),
                          contiguous_view_of(x, op, "x"),
                          contiguous_view_of(weight, op, "weight"));
  }, py::arg("dx"), py::arg("dweight"), py::arg("dbias"), py::arg("dy"), py::arg("x"),
        py::arg("weight"), py::arg("geometry"));

  m.def("max_pool2d_forward", [](const py::object& y, const py::object& indices,
                                 const py::object& x, const std::vector<int64_t>& geometry) {
    const char* op = "max_pool2d";
    cuda::max_pool2d_forward(pool_geometry(geometry), contiguous_view_of(y, op, "y"),
                             contiguous_view_of(indices, op, "indices"),
                             contiguous_view_of(x, op, "x"));
  }, py::arg("y"), py::arg("indices"), py::arg("x"), py::arg("geometry"));
  m.def("avg_pool2d_forward", [](const py::object& y, const py::object& x,
                                 const std::vector<int64_t>& geometry, bool count_include_pad) {
    const char* op = "avg_pool2d";
    cuda::avg_pool2d_forward(pool_geometry(geometry), contiguous_view_of(y, op, "y"),
                             contiguous_view_of(x, op, "x"), count_include_pad);
  }, py::arg("y"), py::arg("x"), py::arg("geometry"), py::arg("count_include_pad"));
  m.def("avg_pool2d_backward", [](const py::object& dx, const py::object& dy,
                                  const std::vector<int64_t>& geometry, bool count_include_pad) {
    const char* op = "avg_pool2d_backward";
    cuda::avg_pool2d_backward(pool_geometry(geometry), contiguous_view_of(dx, op, "dx"),
                              contiguous_view_of(dy, op, "dout"), count_include_pad);
  }, py::arg("dx"), py::arg("dy"), py::arg("geometry"), py::arg("count_include_pad"));

  m.def("softmax_forward", [](const py::object& y, const py::object& x, bool log) {
    const char* op = "softmax";
    cuda::softmax_forward(contiguous_view_of(y, op, "y"), contiguous_view_of(x, op, "x"), log);
  }, py::arg("y"), py::arg("x"), py::arg("log"));
  m.def("softmax_backward", [](const py::object& dx, const py::object& dy, const py::object& y,
                               bool log) {
    const char* op = "softmax_backward";
    cuda::softmax_backward(contiguous_view_of(dx, op, "dx"), contiguous_view_of(dy, op, "dout"),
                           contiguous_view_of(y, op, "y"), log);
  }, py::arg("dx"), py::arg("dy"), py::arg("y"), py::arg("log"));

  m.def("cross_entropy_forward", [](const py::object& loss, const py::object& logits,
                                    const py::object& target, const py::object& weight,
                                    const std::string& reduction, int64_t ignore_index,
                                    double label_smoothing) {
    const char* op = "cross_entropy";
    const auto w = optional_view(weight, op);
    if (w && !is_contiguous(*w)) fail(op, "weight must be contiguous");
    cuda::cross_entropy_forward(contiguous_view_of(loss, op, "loss"),
                                contiguous_view_of(logits, op, "logits"),
                                contiguous_view_of(target, op, "target"), ptr_or_null(w),
                                reduction_of(reduction, op), ignore_index, label_smoothing);
  }, py::arg("loss"), py::arg("logits"), py::arg("target"), py::arg("weight"),
        py::arg("reduction"), py::arg("ignore_index"), py::arg("label_smoothing"));
  m.def("cross_entropy_backward", [](const py::object& dlogits, const py::object& dloss,
                                     const py::object& logits, const py::object& target,
                                     const py::object& weight, const std::string& reduction,
                                     int64_t ignore_index, double label_smoothing) {
    const char* op = "cross_entropy_backward";
    const auto w = optional_view(weight, op);
    if (w && !is_contiguous(*w)) fail(op, "weight must be contiguous");
    cuda::cross_entropy_backward(contiguous_view_of(dlogits, op, "dlogits"),
                                 contiguous_view_of(dloss, op, "dout"),
                                 contiguous_view_of(logits, op, "logits"),
                                 contiguous_view_of(target, op, "target"), ptr_or_null(w),
                                 reduction_of(reduction, op), ignore_index, label_smoothing);
  }, py::arg("dlogits"), py::arg("dloss"), py::arg("logits"), py::arg("target"),
        py::arg("weight"), py::arg("reduction"), py::arg("ignore_index"),
        py::arg("label_smoothing"));

  m.def("point_loss_forward", [](const std::string& kind, const py::object& loss,
                                 const py::object& x, const py::object& target,
                                 const py::object& pos_weight, const std::string& reduction) {
    const char* op = "loss";
    const auto pw = optional_view(pos_weight, op);
    if (pw && !is_contiguous(*pw)) fail(op, "pos_weight must be contiguous");
    cuda::point_loss_forward(point_loss_of(kind), contiguous_view_of(loss, op, "loss"),
                             contiguous_view_of(x, op, "x"),
                             contiguous_view_of(target, op, "target"), ptr_or_null(pw),
                             reduction_of(reduction, op));
  }, py::arg("kind"), py::arg("loss"), py::arg("x"), py::arg("target"), py::arg("pos_weight"),
        py::arg("reduction"));
  m.def("point_loss_backward", [](const std::string& kind, const py::object& dx,
                                  const py::object& dloss, const py::object& x,
                                  const py::object& target, const py::object& pos_weight,
                                  const std::string& reduction) {
    const char* op = "loss_backward";
    const auto pw = optional_view(pos_weight, op);
    if (pw && !is_contiguous(*pw)) fail(op, "pos_weight must be contiguous");
    cuda::point_loss_backward(point_loss_of(kind), contiguous_view_of(dx, op, "dx"),
                              contiguous_view_of(dloss, op, "dout"),
                              contiguous_view_of(x, op, "x"),
                              contiguous_view_of(target, op, "target"), ptr_or_null(pw),
                              reduction_of(reduction, op));
  }, py::arg("kind"), py::arg("dx"), py::arg("dloss"), py::arg("x"), py::arg("target"),
        py::arg("pos_weight"), py::arg("reduction"));

  m.def("dropout", [](const py::object& out, const py::object& x, double p, uint64_t seed,
                      uint64_t offset) {
    const char* op = "dropout";
    cuda::dropout(contiguous_view_of(out, op, "out"), contiguous_view_of(x, op, "x"), p, seed,
                  offset);
  }, py::arg("out"), py::arg("x"), py::arg("p"), py::arg("seed"), py::arg("offset"));

  m.def("sgd_step", [](const py::object& param, const py::object& grad,
                       const py::object& momentum_buffer, double lr, double momentum,
                       double dampening, double weight_decay, bool nesterov, bool maximize,
                       bool first_step) {
    const char* op = "sgd_step";
    const auto buf = optional_view(momentum_buffer, op);
    if (buf && !is_contiguous(*buf)) fail(op, "momentum_buffer must be contiguous");
    cuda::sgd_step({lr, momentum, dampening, weight_decay, nesterov, maximize, first_step},
                   contiguous_view_of(param, op, "param"), contiguous_view_of(grad, op, "grad"),
                   ptr_or_null(buf));
  }, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("lr"),
        py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
        py::arg("maximize"), py::arg("first_step"));
  m.def("adam_step", [](const py::object& param, const py::object& grad,
                        const py::object& exp_avg, const py::object& exp_avg_sq, int64_t step,
                        double lr, double beta1, double beta2, double eps, double weight_decay,
                        bool decoupled_weight_decay, bool amsgrad,
                        const py::object& max_exp_avg_sq, bool maximize) {
    const char* op = "adam_step";
    const auto vmax = optional_view(max_exp_avg_sq, op);
    if (vmax && !is_contiguous(*vmax)) fail(op, "max_exp_avg_sq must be contiguous");
    cuda::adam_step({lr, beta1, beta2, eps, weight_decay, step, decoupled_weight_decay, amsgrad,
                     maximize},
                    contiguous_view_of(param, op, "param"), contiguous_view_of(grad, op, "grad"),
                    contiguous_view_of(exp_avg, op, "exp_avg"),
                    contiguous_view_of(exp_avg_sq, op, "exp_avg_sq"), ptr_or_null(vmax));
  }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
        py::arg("step"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("decoupled_weight_decay"), py::arg("amsgrad"),
        py::arg("max_exp_avg_sq"), py::arg("maximize"));
}

}  // namespace ember::bind

#endif  // EMBER_WITH_CUDA
