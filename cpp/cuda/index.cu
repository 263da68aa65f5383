// Advanced indexing: gather (out = src[indices]) and its adjoint scatter (dst[indices] = values,
// or += to accumulate), both from the one offset formula of api.h's IndexPlan. The Python
// backend turns NumPy-style indices (ints, slices, None, integer and bool arrays) into a plan;
// take_along_axis / put_along_axis are plans with a single index array.
//
// Indices are checked on the host before the launch; the kernels check again so that a bad
// index can never touch memory outside the array: they skip it and record kBadIndex.
#include <string>

#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

struct IndexArgs {
  int nidx;
  const int64_t* idx[kMaxDims];
  Strides idx_st[kMaxDims];
  int64_t bound[kMaxDims];
  int64_t src_stride[kMaxDims];
};

// Offset into the indexed array for output element i, or -1 for an out-of-range index.
__device__ inline int64_t source_offset(int64_t i, const Dims& dims, const Strides& src_st,
                                        const IndexArgs& a) {
  int64_t off = offset_of(i, dims, src_st);
#pragma unroll
  for (int j = 0; j < kMaxDims; ++j) {
    if (j < a.nidx) {
      int64_t k = a.idx[j][offset_of(i, dims, a.idx_st[j])];
      if (k < 0) k += a.bound[j];
      if (k < 0 || k >= a.bound[j]) return -1;
      off += k * a.src_stride[j];
    }
  }
  return off;
}

template <typename E>
__global__ void gather_kernel(int64_t n, Dims dims, E* out, Strides out_st, const E* src,
                              Strides src_st, IndexArgs a, int* err) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = source_offset(i, dims, src_st, a);
    if (s < 0) {
      atomicOr(err, kBadIndex);
      out[offset_of(i, dims, out_st)] = E{};
    } else {
      out[offset_of(i, dims, out_st)] = src[s];
    }
  }
}

template <typename E>
__global__ void scatter_assign_kernel(int64_t n, Dims dims, E* dst, Strides dst_st,
                                      const E* values, Strides val_st, IndexArgs a, int* err) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = source_offset(i, dims, dst_st, a);
    if (d < 0)
      atomicOr(err, kBadIndex);
    else
      dst[d] = values[offset_of(i, dims, val_st)];
  }
}

// Repeated indices add up (atomically, so their order, and the float rounding, may vary).
template <typename T>
__global__ void scatter_add_kernel(int64_t n, Dims dims, T* dst, Strides dst_st, const T* values,
                                   Strides val_st, IndexArgs a, int* err) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = source_offset(i, dims, dst_st, a);
    if (d < 0)
      atomicOr(err, kBadIndex);
    else
      atomicAdd(dst + d, values[offset_of(i, dims, val_st)]);
  }
}

// Shared preparation: checks the plan against the output/values view `like` and collapses the
// dims of every stride set (out or values, src, each index array) together.
IndexArgs prepare(const IndexPlan& plan, const View& like, Dims& dims, Strides& like_st,
                  Strides& src_st, const char* op) {
  if (plan.nidx < 0 || plan.nidx > kMaxDims) throw_value_error(op, "bad number of index arrays");
  bool same = plan.src.ndim == like.ndim;
  for (int d = 0; same && d < like.ndim; ++d) same = plan.src.shape[d] == like.shape[d];
  if (!same) throw_value_error(op, "the plan's shape differs from the output's");
  IndexArgs a{};
  a.nidx = plan.nidx;
  dims = dims_of(like);
  like_st = strides_of(like);
  src_st = strides_of(plan.src);
  Strides* lists[2 + kMaxDims] = {&like_st, &src_st};
  for (int j = 0; j < plan.nidx; ++j) {
    const View& ix = plan.idx[j];
    if (ix.dtype != DType::Int64) throw_value_error(op, "index arrays must be int64");
    bool ok = ix.ndim == like.ndim;
    for (int d = 0; ok && d < like.ndim; ++d) ok = ix.shape[d] == like.shape[d];
    if (!ok) throw_value_error(op, "an index array's shape differs from the output's");
    a.idx[j] = static_cast<const int64_t*>(ix.data);
    a.idx_st[j] = strides_of(ix);
    a.bound[j] = plan.idx_bound[j];
    a.src_stride[j] = plan.idx_src_stride[j];
    lists[2 + j] = &a.idx_st[j];
  }
  collapse(dims, lists, 2 + plan.nidx);
  return a;
}

}  // namespace

void gather(const View& out, const IndexPlan& plan) {
  const char* op = "index";
  if (out.dtype != plan.src.dtype) throw_value_error(op, "out must have the source's dtype");
  const int64_t n = out.numel();
  if (n == 0) return;
  Dims dims;
  Strides out_st, src_st;
  const IndexArgs a = prepare(plan, out, dims, out_st, src_st, op);
  int* err = error_word(out.device);
  auto run = [&](auto tag) {
    using E = decltype(tag);
    launch(op, gather_kernel<E>, blocks_for(n), kThreads, out.device, n, dims,
           static_cast<E*>(out.data), out_st, static_cast<const E*>(plan.src.data), src_st, a,
           err);
  };
  switch (itemsize(out.dtype)) {
    case 1: run(uint8_t{}); break;
    case 4: run(uint32_t{}); break;
    default: run(uint64_t{}); break;
  }
}

void scatter(const IndexPlan& plan, const View& values, bool accumulate) {
  const char* op = accumulate ? "index_add" : "index_put";
  if (values.dtype != plan.src.dtype) throw_value_error(op, "values must have the array's dtype");
  const int64_t n = values.numel();
  if (n == 0) return;
  Dims dims;
  Strides val_st, dst_st;
  const IndexArgs a = prepare(plan, values, dims, val_st, dst_st, op);
  int* err = error_word(values.device);
  if (accumulate) {
    dispatch_float(values.dtype, op, [&](auto tag) {
      using T = decltype(tag);
      launch(op, scatter_add_kernel<T>, blocks_for(n), kThreads, values.device, n, dims,
             static_cast<T*>(plan.src.data), dst_st, static_cast<const T*>(values.data), val_st,
             a, err);
    });
    return;
  }
  auto run = [&](auto tag) {
    using E = decltype(tag);
    launch(op, scatter_assign_kernel<E>, blocks_for(n), kThreads, values.device, n, dims,
           static_cast<E*>(plan.src.data), dst_st, static_cast<const E*>(values.data), val_st, a,
           err);
  };
  switch (itemsize(values.dtype)) {
    case 1: run(uint8_t{}); break;
    case 4: run(uint32_t{}); break;
    default: run(uint64_t{}); break;
  }
}

}  // namespace ember::cuda
