// The CUDA backend's host interface: what bindings/bind_cuda.cpp calls. Plain C++ (no CUDA
// headers), so the bindings compile with the host compiler; the .cu files implement it.
//
// Memory is described by View: a strided window on device memory, as a NumPy array describes
// host memory. Element (i_0, ..., i_{n-1}) lives at data + sum_d i_d * strides[d] elements;
// strides may be 0 (broadcast) or negative (reversed slices). A 0-d view has ndim 0 and one
// element. Every kernel runs on the stream of the view's device and returns without waiting;
// copies to the host and synchronize() wait. A failing CUDA call throws std::runtime_error
// "[op] CUDA error <name>: <description>".
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ember::cuda {

enum class DType : int { Bool, UInt8, Int32, Int64, Float32, Float64 };

constexpr int kMaxDims = 8;

struct View {
  void* data = nullptr;
  DType dtype = DType::Float32;
  int device = 0;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  int64_t capacity = 0;  // elements from data to the end of its allocation (for bound checks)

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    return n;
  }
};

// An operand of an element-wise op: a view, or a scalar broadcast everywhere.
struct Operand {
  bool is_scalar = false;
  View view;
  double value = 0.0;       // the scalar, as a float ...
  int64_t int_value = 0;    // ... and exactly, when it is an integer (is_int)
  bool is_int = false;
};

int64_t itemsize(DType dtype);
const char* dtype_name(DType dtype);
bool is_floating(DType dtype);

// ---- runtime --------------------------------------------------------------------------------

int device_count() noexcept;  // 0 without a driver or a device; never throws
int current_device();
void set_device(int device);
void synchronize(int device);  // also raises errors that kernels recorded (see error_word)
std::string device_name(int device);
int runtime_version();  // e.g. 13000 for CUDA 13.0
int driver_version();   // 0 without a driver
const char* platform();  // "cuda", or "host emulation" in the emulated build

bool cublas_built();
bool use_cublas();  // whether GEMMs go to cuBLAS (built and not switched off)
void set_use_cublas(bool on);

// ---- memory: a caching allocator, one set of size-class free lists per device ---------------

void* allocate(size_t nbytes, int device, size_t* reserved_bytes);
void release(void* ptr, size_t reserved_bytes, int device) noexcept;
void empty_cache();
size_t memory_allocated(int device);
size_t memory_reserved(int device);

void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device);  // waits

// ---- element-wise -------------------------------------------------------------------------

enum class UnaryOp : int {
  Neg, Exp, Log, Sqrt, Abs, Sign, Invert, IsNan, IsFinite, Clip,
  Relu, Sigmoid, Tanh, LeakyRelu, Gelu, GeluTanh,
};
enum class BinaryOp : int {
  Add, Sub, Mul, Div, FloorDivide, Remainder, Pow, Maximum, Minimum,
  Eq, Ne, Lt, Le, Gt, Ge, And, Or, Xor,
  ReluBackward, LeakyReluBackward, SigmoidBackward, TanhBackward, GeluBackward,
  GeluTanhBackward,
};

// out = src converted to out's dtype; src is broadcast to out's shape by the caller (strides).
void copy(const View& out, const View& src);
void fill(const View& out, const Operand& value);
// Clip uses lo/hi (has_lo/has_hi say which); LeakyRelu uses lo as the slope.
void unary(UnaryOp op, const View& out, const View& x, double lo, double hi, bool has_lo,
           bool has_hi);
// a and b have out's shape (broadcast strides) and one dtype; param is the leaky-relu slope.
void binary(BinaryOp op, const View& out, const Operand& a, const Operand& b, double param);
void where(const View& out, const View& cond, const Operand& a, const Operand& b);

// ---- reductions ---------------------------------------------------------------------------

enum class ReduceOp : int { Sum, Max, Min, ArgMax, ArgMin };

// x is (outer..., inner...) with the reduced dims last (`inner_dims` of them); out is contiguous
// with the outer shape. Sum multiplies by `scale` (1/count for a mean). Arg ops write int64.
void reduce(ReduceOp op, const View& out, const View& x, int inner_dims, double scale);

// ---- indexing -----------------------------------------------------------------------------

// Advanced indexing in one formula. For output coordinates c (out's shape):
//   src offset = sum_d c_d * src_strides[d] + sum_j wrap_j(idx_j[c]) * idx_src_stride[j]
// where idx_j (int64, a view with out's shape after broadcasting) indexes a source dim of size
// idx_bound[j] (negative values count from the end). Out-of-range indices are an error.
struct IndexPlan {
  View src;  // data/dtype/device of the indexed array; shape = out's shape, strides as above
  int nidx = 0;
  View idx[kMaxDims];
  int64_t idx_bound[kMaxDims] = {};
  int64_t idx_src_stride[kMaxDims] = {};
};
void gather(const View& out, const IndexPlan& plan);
// The adjoint: dst[offset(c)] = values[c] (accumulate: +=, repeated indices add up).
void scatter(const IndexPlan& plan, const View& values, bool accumulate);

// ---- matrix products ----------------------------------------------------------------------

// C_b = alpha * op(A_b) @ op(B_b) + beta * C_b for b < batch, row-major, op(X) = X^T if trans.
// Matrix b of X starts at X + b * stride_x elements (0 broadcasts one matrix); ld = row stride.
struct Gemm {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
  double alpha = 1.0, beta = 0.0;
};
void gemm(const Gemm& g, const View& c, const View& a, const View& b);

// ---- convolution and pooling (x is (N, C, H, W), contiguous) ----------------------------------

struct Conv2d {
  int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups, OH, OW;
};
void conv2d_forward(const Conv2d& s, const View& y, const View& x, const View& weight,
                    const View* bias);
void conv2d_backward(const Conv2d& s, const View* dx, const View* dweight, const View* dbias,
                     const View& dy, const View& x, const View& weight);

struct Pool2d {
  int64_t planes, H, W, kh, kw, sh, sw, ph, pw, OH, OW;
};
void max_pool2d_forward(const Pool2d& s, const View& y, const View& indices, const View& x);
void avg_pool2d_forward(const Pool2d& s, const View& y, const View& x, bool count_include_pad);
void avg_pool2d_backward(const Pool2d& s, const View& dx, const View& dy,
                         bool count_include_pad);

// ---- softmax family and losses --------------------------------------------------------------

// Row-wise over the last dim of contiguous views (rows x cols).
void softmax_forward(const View& y, const View& x, bool log);
void softmax_backward(const View& dx, const View& dy, const View& y, bool log);

enum class Reduction : int { None, Mean, Sum };

void cross_entropy_forward(const View& loss, const View& logits, const View& target,
                           const View* weight, Reduction reduction, int64_t ignore_index,
                           double label_smoothing);
void cross_entropy_backward(const View& dlogits, const View& dloss, const View& logits,
                            const View& target, const View* weight, Reduction reduction,
                            int64_t ignore_index, double label_smoothing);

enum class PointLoss : int { Mse, Bce, BceWithLogits };
// Element-wise losses on contiguous x and target of n elements; pos_weight (BceWithLogits only)
// has `cols` entries and broadcasts over the last axis.
void point_loss_forward(PointLoss kind, const View& loss, const View& x, const View& target,
                        const View* pos_weight, Reduction reduction);
void point_loss_backward(PointLoss kind, const View& dx, const View& dloss, const View& x,
                         const View& target, const View* pos_weight, Reduction reduction);

// ---- dropout and optimizers (contiguous) -----------------------------------------------------

void dropout(const View& out, const View& x, double p, uint64_t seed, uint64_t offset);

struct Sgd {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize, first_step;
};
void sgd_step(const Sgd& o, const View& param, const View& grad, const View* momentum_buffer);

struct Adam {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;
  bool decoupled_weight_decay, amsgrad, maximize;
};
void adam_step(const Adam& o, const View& param, const View& grad, const View& exp_avg,
               const View& exp_avg_sq, const View* max_exp_avg_sq);

}  // namespace ember::cuda
