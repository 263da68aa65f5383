// Element-wise kernels on strided views: copy (with dtype conversion), fill, unary, binary and
// where. One generic kernel per family; the op is a runtime switch (uniform across a launch, so
// it costs no divergence) rather than a template parameter, which keeps the number of compiled
// kernels, and the build time, small.
//
// Every launch first merges dims that all operands traverse contiguously (collapse), so
// contiguous and simply broadcast operands index with one multiplication per element.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/scalar_math.cuh"

namespace ember::cuda {

// ---- host-side index helpers ------------------------------------------------------------------

Strides strides_of(const View& v) {
  Strides s{};
  for (int d = 0; d < v.ndim; ++d) s.s[d] = v.strides[d];
  return s;
}

Dims dims_of(const View& v) {
  Dims d{};
  d.ndim = v.ndim;
  for (int i = 0; i < v.ndim; ++i) d.size[i] = v.shape[i];
  return d;
}

void collapse(Dims& dims, Strides* strides[], int count) {
  int kept = 0;
  for (int d = 0; d < dims.ndim; ++d) {
    if (dims.size[d] == 1) continue;
    dims.size[kept] = dims.size[d];
    for (int k = 0; k < count; ++k) strides[k]->s[kept] = strides[k]->s[d];
    ++kept;
  }
  if (kept == 0) {
    dims.ndim = 1;
    dims.size[0] = 1;
    for (int k = 0; k < count; ++k) strides[k]->s[0] = 0;
    return;
  }
  // Dim d merges into the previous kept dim p when every operand steps over p exactly as far
  // as over all of d: stride[p] == stride[d] * size[d].
  int p = 0;
  for (int d = 1; d < kept; ++d) {
    bool mergeable = true;
    for (int k = 0; k < count; ++k)
      mergeable = mergeable && strides[k]->s[p] == strides[k]->s[d] * dims.size[d];
    if (mergeable) {
      dims.size[p] *= dims.size[d];
      for (int k = 0; k < count; ++k) strides[k]->s[p] = strides[k]->s[d];
    } else {
      ++p;
      dims.size[p] = dims.size[d];
      for (int k = 0; k < count; ++k) strides[k]->s[p] = strides[k]->s[d];
    }
  }
  dims.ndim = p + 1;
}

namespace {

bool int_like(DType dt) { return !is_floating(dt); }

void require_shape_of(const View& v, const View& out, const char* op, const char* name) {
  bool same = v.ndim == out.ndim;
  for (int d = 0; same && d < v.ndim; ++d) same = v.shape[d] == out.shape[d];
  if (!same) throw_value_error(op, std::string(name) + ": shape differs from the output's");
}

bool is_contiguous(const View& v) {
  int64_t expected = 1;
  for (int d = v.ndim - 1; d >= 0; --d) {
    if (v.shape[d] != 1 && v.strides[d] != expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

// ---- copy and fill --------------------------------------------------------------------------

// Integer-to-integer conversions go through int64 (exact); anything involving a float through
// double (exact for every value of the narrower types).
template <typename A>
__global__ void copy_kernel(int64_t n, Dims dims, void* out, DType out_dtype, Strides out_st,
                            const void* src, DType src_dtype, Strides src_st) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const A v = load_as<A>(src, src_dtype, offset_of(i, dims, src_st));
    store_as<A>(out, out_dtype, offset_of(i, dims, out_st), v);
  }
}

template <typename A>
__global__ void fill_kernel(int64_t n, Dims dims, void* out, DType dtype, Strides st, A value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    store_as<A>(out, dtype, offset_of(i, dims, st), value);
}

// ---- unary ------------------------------------------------------------------------------------

template <typename T>
__device__ inline T unary_value(UnaryOp op, T x, double lo, double hi, bool has_lo,
                                bool has_hi) {
  switch (op) {
    case UnaryOp::Neg: return static_cast<T>(-x);
    case UnaryOp::Abs:
      if constexpr (std::is_unsigned<T>::value) return x;
      else return x < T(0) ? static_cast<T>(-x) : x;
    case UnaryOp::Sign:
      if (is_nan(x)) return x;
      if constexpr (std::is_unsigned<T>::value) return x > T(0) ? T(1) : T(0);
      else return x > T(0) ? T(1) : (x < T(0) ? static_cast<T>(-1) : T(0));
    case UnaryOp::Clip: {
      T r = x;
      if (has_lo && r < static_cast<T>(lo)) r = static_cast<T>(lo);
      if (has_hi && r > static_cast<T>(hi)) r = static_cast<T>(hi);
      return r;
    }
    case UnaryOp::Relu:  // NaN and -0 pass, as torch's clamp_min(0)
      if constexpr (std::is_unsigned<T>::value) return x;
      else return x < T(0) ? T(0) : x;
    default: break;
  }
  if constexpr (std::is_floating_point<T>::value) {
    switch (op) {
      case UnaryOp::Exp: return std::exp(x);
      case UnaryOp::Log: return std::log(x);
      case UnaryOp::Sqrt: return std::sqrt(x);
      case UnaryOp::Sigmoid: return sigmoid(x);
      case UnaryOp::Tanh: return std::tanh(x);
      case UnaryOp::LeakyRelu: return x > T(0) ? x : static_cast<T>(lo) * x;
      case UnaryOp::Gelu: return gelu_exact(x);
      case UnaryOp::GeluTanh: return gelu_tanh(x);
      default: break;
    }
  } else {
    if (op == UnaryOp::Invert) return static_cast<T>(~x);
  }
  return x;
}

// IsNan / IsFinite write bool; Invert of a bool array is a logical not (bool_in).
template <typename T>
__global__ void unary_kernel(UnaryOp op, int64_t n, Dims dims, void* out, Strides out_st,
                             const T* x, Strides x_st, double lo, double hi, bool has_lo,
                             bool has_hi, bool bool_in) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T v = x[offset_of(i, dims, x_st)];
    const int64_t o = offset_of(i, dims, out_st);
    if (op == UnaryOp::IsNan) {
      static_cast<uint8_t*>(out)[o] = is_nan(v);
    } else if (op == UnaryOp::IsFinite) {
      if constexpr (std::is_floating_point<T>::value)
        static_cast<uint8_t*>(out)[o] = !is_nan(v) && v != infinity<T>() && v != -infinity<T>();
      else
        static_cast<uint8_t*>(out)[o] = 1;
    } else if (bool_in) {
      static_cast<uint8_t*>(out)[o] = op == UnaryOp::Invert ? v == T(0) : v != T(0);
    } else {
      static_cast<T*>(out)[o] = unary_value(op, v, lo, hi, has_lo, has_hi);
    }
  }
}

// ---- binary -----------------------------------------------------------------------------------

template <typename T>
__device__ inline T nan_max(T a, T b) {
  return is_nan(a) ? a : (is_nan(b) ? b : (a > b ? a : b));
}
template <typename T>
__device__ inline T nan_min(T a, T b) {
  return is_nan(a) ? a : (is_nan(b) ? b : (a < b ? a : b));
}

template <typename T>
__device__ inline T binary_value(BinaryOp op, T a, T b, T param) {
  switch (op) {
    case BinaryOp::Add: return static_cast<T>(a + b);
    case BinaryOp::Sub: return static_cast<T>(a - b);
    case BinaryOp::Mul: return static_cast<T>(a * b);
    case BinaryOp::FloorDivide: return floor_divide(a, b);
    case BinaryOp::Remainder: return remainder(a, b);
    case BinaryOp::Maximum: return nan_max(a, b);
    case BinaryOp::Minimum: return nan_min(a, b);
    case BinaryOp::Eq: return T(a == b);
    case BinaryOp::Ne: return T(a != b);
    case BinaryOp::Lt: return T(a < b);
    case BinaryOp::Le: return T(a <= b);
    case BinaryOp::Gt: return T(a > b);
    case BinaryOp::Ge: return T(a >= b);
    default: break;
  }
  if constexpr (std::is_floating_point<T>::value) {
    switch (op) {
      case BinaryOp::Div: return a / b;
      case BinaryOp::Pow: return std::pow(a, b);
      // Activation backwards: a is the upstream gradient, b the saved input or output.
      case BinaryOp::ReluBackward: return b <= T(0) ? T(0) : a;
      case BinaryOp::LeakyReluBackward: return b > T(0) ? a : param * a;
      case BinaryOp::SigmoidBackward: return a * b * (T(1) - b);
      case BinaryOp::TanhBackward: return a * (T(1) - b * b);
      case BinaryOp::GeluBackward: return a * gelu_exact_grad(b);
      case BinaryOp::GeluTanhBackward: return a * gelu_tanh_grad(b);
      default: break;
    }
  } else {
    switch (op) {
      case BinaryOp::Div: return b == T(0) ? T(0) : static_cast<T>(a / b);
      case BinaryOp::Pow: return int_power(a, b);
      case BinaryOp::And: return static_cast<T>(a & b);
      case BinaryOp::Or: return static_cast<T>(a | b);
      case BinaryOp::Xor: return static_cast<T>(a ^ b);
      default: break;
    }
  }
  return T(0);
}

// Operand k is a[offset] or, when a_scalar, the value a_value.
template <typename T>
__global__ void binary_kernel(BinaryOp op, int64_t n, Dims dims, void* out, Strides out_st,
                              bool bool_out, const T* a, Strides a_st, bool a_scalar, T a_value,
                              const T* b, Strides b_st, bool b_scalar, T b_value, T param) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T x = a_scalar ? a_value : a[offset_of(i, dims, a_st)];
    const T y = b_scalar ? b_value : b[offset_of(i, dims, b_st)];
    const T r = binary_value(op, x, y, param);
    const int64_t o = offset_of(i, dims, out_st);
    if (bool_out)
      static_cast<uint8_t*>(out)[o] = r != T(0);
    else
      static_cast<T*>(out)[o] = r;
  }
}

// ---- where ------------------------------------------------------------------------------------

// Elements are moved as raw bits of their size E: where() never converts.
template <typename E>
__global__ void where_kernel(int64_t n, Dims dims, E* out, Strides out_st, const uint8_t* cond,
                             Strides cond_st, const E* a, Strides a_st, bool a_scalar, E a_value,
                             const E* b, Strides b_st, bool b_scalar, E b_value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    E v;
    if (cond[offset_of(i, dims, cond_st)] != 0)
      v = a_scalar ? a_value : a[offset_of(i, dims, a_st)];
    else
      v = b_scalar ? b_value : b[offset_of(i, dims, b_st)];
    out[offset_of(i, dims, out_st)] = v;
  }
}

// The scalar operand's value in the C++ type T.
template <typename T>
T scalar_as(const Operand& s) {
  if (s.is_int) return static_cast<T>(s.int_value);
  return static_cast<T>(s.value);
}

// The scalar's value converted to `dtype`, as raw bits of size E.
template <typename E>
E scalar_bits(const Operand& s, DType dtype) {
  E bits{};
  if (dtype == DType::Bool) {
    const uint8_t v = s.is_int ? s.int_value != 0 : s.value != 0.0;
    std::memcpy(&bits, &v, 1);
    return bits;
  }
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T v = scalar_as<T>(s);
    std::memcpy(&bits, &v, sizeof(T) < sizeof(E) ? sizeof(T) : sizeof(E));
  });
  return bits;
}

bool float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp:
    case UnaryOp::Log:
    case UnaryOp::Sqrt:
    case UnaryOp::Sigmoid:
    case UnaryOp::Tanh:
    case UnaryOp::LeakyRelu:
    case UnaryOp::Gelu:
    case UnaryOp::GeluTanh: return true;
    default: return false;
  }
}

bool float_only(BinaryOp op) {
  return op >= BinaryOp::ReluBackward;
}

bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }

bool is_bitwise(BinaryOp op) {
  return op == BinaryOp::And || op == BinaryOp::Or || op == BinaryOp::Xor;
}

}  // namespace

void copy(const View& out, const View& src) {
  require_shape_of(src, out, "copy", "src");
  const int64_t n = out.numel();
  if (n == 0) return;
  if (out.dtype == src.dtype && is_contiguous(out) && is_contiguous(src)) {
    check(cudaMemcpyAsync(out.data, src.data, static_cast<size_t>(n * itemsize(out.dtype)),
                          cudaMemcpyDeviceToDevice, stream_for(out.device)),
          "copy");
    return;
  }
  Dims dims = dims_of(out);
  Strides os = strides_of(out), ss = strides_of(src);
  Strides* st[] = {&os, &ss};
  collapse(dims, st, 2);
  if (int_like(out.dtype) && int_like(src.dtype))
    launch("copy", copy_kernel<int64_t>, blocks_for(n), kThreads, out.device, n, dims, out.data,
           out.dtype, os, src.data, src.dtype, ss);
  else
    launch("copy", copy_kernel<double>, blocks_for(n), kThreads, out.device, n, dims, out.data,
           out.dtype, os, src.data, src.dtype, ss);
}

void fill(const View& out, const Operand& value) {
  const int64_t n = out.numel();
  if (n == 0) return;
  Dims dims = dims_of(out);
  Strides os = strides_of(out);
  Strides* st[] = {&os};
  collapse(dims, st, 1);
  if (int_like(out.dtype) && value.is_int)
    launch("fill", fill_kernel<int64_t>, blocks_for(n), kThreads, out.device, n, dims, out.data,
           out.dtype, os, value.int_value);
  else
    launch("fill", fill_kernel<double>, blocks_for(n), kThreads, out.device, n, dims, out.data,
           out.dtype, os, value.value);
}

void unary(UnaryOp op, const View& out, const View& x, double lo, double hi, bool has_lo,
           bool has_hi) {
  const char* name = "unary";
  require_shape_of(x, out, name, "x");
  if (float_only(op) && !is_floating(x.dtype))
    throw_value_error(name, std::string("this op needs a float32/float64 input, got ") +
                                dtype_name(x.dtype));
  const bool bool_result = op == UnaryOp::IsNan || op == UnaryOp::IsFinite;
  const bool bool_in = x.dtype == DType::Bool;
  if (bool_in && op != UnaryOp::Invert && op != UnaryOp::Abs && !bool_result)
    throw_value_error(name, "this op is not defined for bool arrays");
  const DType expected = bool_result ? DType::Bool : x.dtype;
  if (out.dtype != expected)
    throw_value_error(name, std::string("out: expected dtype ") + dtype_name(expected) +
                                ", got " + dtype_name(out.dtype));
  const int64_t n = out.numel();
  if (n == 0) return;
  Dims dims = dims_of(out);
  Strides os = strides_of(out), xs = strides_of(x);
  Strides* st[] = {&os, &xs};
  collapse(dims, st, 2);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch("unary", unary_kernel<T>, blocks_for(n), kThreads, out.device, op, n, dims, out.data,
           os, static_cast<const T*>(x.data), xs, lo, hi, has_lo, has_hi, bool_in);
  });
}

void binary(BinaryOp op, const View& out, const Operand& a, const Operand& b, double param) {
  const char* name = "binary";
  if (a.is_scalar && b.is_scalar) throw_value_error(name, "at least one operand must be an array");
  const DType dt = a.is_scalar ? b.view.dtype : a.view.dtype;
  if (!a.is_scalar) require_shape_of(a.view, out, name, "a");
  if (!b.is_scalar) require_shape_of(b.view, out, name, "b");
  if (!a.is_scalar && !b.is_scalar && a.view.dtype != b.view.dtype)
    throw_value_error(name, std::string("operands have different dtypes: ") +
                                dtype_name(a.view.dtype) + " and " + dtype_name(b.view.dtype));
  if (float_only(op) && !is_floating(dt))
    throw_value_error(name, std::string("this op needs float32/float64 operands, got ") +
                                dtype_name(dt));
  if (is_bitwise(op) && is_floating(dt))
    throw_value_error(name, std::string("bitwise ops need integer or bool operands, got ") +
                                dtype_name(dt));
  const bool bool_out = is_comparison(op) || dt == DType::Bool;
  const DType expected = bool_out ? DType::Bool : dt;
  if (out.dtype != expected)
    throw_value_error(name, std::string("out: expected dtype ") + dtype_name(expected) +
                                ", got " + dtype_name(out.dtype));
  const int64_t n = out.numel();
  if (n == 0) return;
  Dims dims = dims_of(out);
  Strides os = strides_of(out);
  Strides as = a.is_scalar ? Strides{} : strides_of(a.view);
  Strides bs = b.is_scalar ? Strides{} : strides_of(b.view);
  Strides* st[] = {&os, &as, &bs};
  collapse(dims, st, 3);
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.is_scalar ? nullptr : static_cast<const T*>(a.view.data);
    const T* pb = b.is_scalar ? nullptr : static_cast<const T*>(b.view.data);
    const T va = a.is_scalar ? scalar_as<T>(a) : T(0);
    const T vb = b.is_scalar ? scalar_as<T>(b) : T(0);
    launch("binary", binary_kernel<T>, blocks_for(n), kThreads, out.device, op, n, dims,
           out.data, os, bool_out, pa, as, a.is_scalar, va, pb, bs, b.is_scalar, vb,
           static_cast<T>(param));
  });
}

void where(const View& out, const View& cond, const Operand& a, const Operand& b) {
  const char* name = "where";
  require_shape_of(cond, out, name, "condition");
  if (cond.dtype != DType::Bool) throw_value_error(name, "condition must be a bool array");
  for (const Operand* o : {&a, &b}) {
    if (o->is_scalar) continue;
    require_shape_of(o->view, out, name, "x");
    if (o->view.dtype != out.dtype)
      throw_value_error(name, std::string("operands must have the output's dtype ") +
                                  dtype_name(out.dtype) + ", got " + dtype_name(o->view.dtype));
  }
  const int64_t n = out.numel();
  if (n == 0) return;
  Dims dims = dims_of(out);
  Strides os = strides_of(out), cs = strides_of(cond);
  Strides as = a.is_scalar ? Strides{} : strides_of(a.view);
  Strides bs = b.is_scalar ? Strides{} : strides_of(b.view);
  Strides* st[] = {&os, &cs, &as, &bs};
  collapse(dims, st, 4);
  auto run = [&](auto tag) {
    using E = decltype(tag);
    launch("where", where_kernel<E>, blocks_for(n), kThreads, out.device, n, dims,
           static_cast<E*>(out.data), os, static_cast<const uint8_t*>(cond.data), cs,
           a.is_scalar ? nullptr : static_cast<const E*>(a.view.data), as, a.is_scalar,
           a.is_scalar ? scalar_bits<E>(a, out.dtype) : E{},
           b.is_scalar ? nullptr : static_cast<const E*>(b.view.data), bs, b.is_scalar,
           b.is_scalar ? scalar_bits<E>(b, out.dtype) : E{});
  };
  switch (itemsize(out.dtype)) {
    case 1: run(uint8_t{}); break;
    case 4: run(uint32_t{}); break;
    default: run(uint64_t{}); break;
  }
}

}  // namespace ember::cuda
