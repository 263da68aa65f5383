// Reductions (sum, max, min, argmax, argmin) over the trailing `inner_dims` dims of a strided
// view: out[o] = reduce_r x[o, r], with o running over the outer dims and r over the inner ones
// in row-major order (arg ops return r).
//
// Two kernels, chosen by the inner size:
//   - one thread per output, looping over r in order (short reductions, many outputs);
//   - one block per output: thread t takes r = t, t + blockDim, ..., then a fixed tree combines
//     the partials (long reductions).
// A long reduction with few outputs (the sum of a whole tensor) is first split into `parts`
// chunks reduced into a scratch array of accumulators, then those are reduced again. Both the
// split and the tree are fixed by the sizes alone, so results are bitwise reproducible.
//
// Accumulators: double for floating inputs, int64 for integer ones. NaN propagates through
// max/min; argmax/argmin return the first NaN if there is one, else the first extreme value.
#include <limits>
#include <string>
#include <type_traits>

#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

template <typename A>
struct Item {
  A v;
  int64_t i;
};

// The result of combining two candidates, `a` holding the lower or equal index on ties.
template <typename A>
__device__ inline Item<A> combine(ReduceOp op, Item<A> a, Item<A> b) {
  switch (op) {
    case ReduceOp::Sum: return {a.v + b.v, 0};
    case ReduceOp::Max:
      return is_nan(a.v) ? a : (is_nan(b.v) ? b : (b.v > a.v ? b : a));
    case ReduceOp::Min:
      return is_nan(a.v) ? a : (is_nan(b.v) ? b : (b.v < a.v ? b : a));
    case ReduceOp::ArgMax:
    case ReduceOp::ArgMin: {
      if (is_nan(a.v) || is_nan(b.v)) {
        if (!is_nan(b.v)) return a;
        if (!is_nan(a.v)) return b;
        return b.i < a.i ? b : a;
      }
      const bool b_wins = op == ReduceOp::ArgMax ? b.v > a.v : b.v < a.v;
      if (b_wins || (b.v == a.v && b.i < a.i)) return b;
      return a;
    }
  }
  return a;
}

template <typename A>
__device__ inline void store_result(ReduceOp op, void* out, DType out_dtype, int64_t o,
                                    Item<A> r, double scale) {
  if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) {
    static_cast<int64_t*>(out)[o] = r.i;
  } else if (op == ReduceOp::Sum && scale != 1.0) {
    store_as<double>(out, out_dtype, o, static_cast<double>(r.v) * scale);
  } else {
    store_as<A>(out, out_dtype, o, r.v);
  }
}

// One thread per output o.
template <typename T>
__global__ void reduce_thread_kernel(ReduceOp op, int64_t outer, Dims odims, Strides ost,
                                     int64_t inner, Dims idims, Strides ist, const T* x,
                                     void* out, DType out_dtype, double scale, Acc<T> identity) {
  using A = Acc<T>;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < outer;
       o += int64_t(gridDim.x) * blockDim.x) {
    const T* base = x + offset_of(o, odims, ost);
    Item<A> acc{identity, 0};
    for (int64_t r = 0; r < inner; ++r) {
      const Item<A> item{static_cast<A>(base[offset_of(r, idims, ist)]), r};
      acc = r == 0 ? item : combine(op, acc, item);
    }
    store_result(op, out, out_dtype, o, acc, scale);
  }
}

// One block per (output o, part p); part p covers r in [p * chunk, min((p + 1) * chunk, inner)).
// With parts > 1 the block writes its accumulator (not the final value) to out[o * parts + p].
template <typename T>
__global__ void __launch_bounds__(kThreads)
    reduce_block_kernel(ReduceOp op, int64_t outer, Dims odims, Strides ost, int64_t inner,
                        Dims idims, Strides ist, const T* x, void* out, DType out_dtype,
                        double scale, Acc<T> identity, int64_t parts, int64_t chunk) {
  using A = Acc<T>;
  __shared__ A values[kThreads];
  __shared__ int64_t indices[kThreads];
  const int t = threadIdx.x;
  for (int64_t item = blockIdx.x; item < outer * parts; item += gridDim.x) {
    const int64_t o = item / parts, p = item % parts;
    const int64_t begin = p * chunk;
    const int64_t end = begin + chunk < inner ? begin + chunk : inner;
    const T* base = x + offset_of(o, odims, ost);
    Item<A> acc{identity, begin};
    bool any = false;
    for (int64_t r = begin + t; r < end; r += blockDim.x) {
      const Item<A> next{static_cast<A>(base[offset_of(r, idims, ist)]), r};
      acc = any ? combine(op, acc, next) : next;
      any = true;
    }
    // Threads that saw nothing hold the identity; for arg ops give them an index past the end
    // so they lose every tie.
    if (!any) acc.i = inner;
    values[t] = acc.v;
    indices[t] = acc.i;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (t < s) {
        const Item<A> r = combine(op, Item<A>{values[t], indices[t]},
                                  Item<A>{values[t + s], indices[t + s]});
        values[t] = r.v;
        indices[t] = r.i;
      }
      __syncthreads();
    }
    if (t == 0) {
      const Item<A> r{values[0], indices[0]};
      if (parts == 1)
        store_result(op, out, out_dtype, o, r, scale);
      else
        static_cast<A*>(out)[item] = r.v;
    }
    __syncthreads();
  }
}

template <typename A>
A identity_of(ReduceOp op) {
  if (op == ReduceOp::Max || op == ReduceOp::ArgMax) {
    if (std::numeric_limits<A>::has_infinity) return -std::numeric_limits<A>::infinity();
    return std::numeric_limits<A>::lowest();
  }
  if (op == ReduceOp::Min || op == ReduceOp::ArgMin) {
    if (std::numeric_limits<A>::has_infinity) return std::numeric_limits<A>::infinity();
    return std::numeric_limits<A>::max();
  }
  return A(0);
}

void collapse_one(Dims& dims, Strides& st) {
  Strides* list[] = {&st};
  collapse(dims, list, 1);
}

}  // namespace

void reduce(ReduceOp op, const View& out, const View& x, int inner_dims, double scale) {
  const char* name = "reduce";
  if (inner_dims < 0 || inner_dims > x.ndim) throw_value_error(name, "bad number of reduced dims");
  const int outer_nd = x.ndim - inner_dims;
  Dims odims{}, idims{};
  Strides ost{}, ist{};
  odims.ndim = outer_nd;
  idims.ndim = inner_dims;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < outer_nd; ++d) {
    odims.size[d] = x.shape[d];
    ost.s[d] = x.strides[d];
    outer *= x.shape[d];
  }
  for (int d = 0; d < inner_dims; ++d) {
    idims.size[d] = x.shape[outer_nd + d];
    ist.s[d] = x.strides[outer_nd + d];
    inner *= x.shape[outer_nd + d];
  }
  if (out.numel() != outer) throw_value_error(name, "out has the wrong number of elements");
  const bool arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
  if (arg && out.dtype != DType::Int64) throw_value_error(name, "arg reductions write int64");
  if (inner == 0 && op != ReduceOp::Sum)
    throw_value_error(name, "zero-size reduction of an operation without identity");
  if (outer == 0) return;
  collapse_one(odims, ost);
  collapse_one(idims, ist);

  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    const T* px = static_cast<const T*>(x.data);
    const A identity = identity_of<A>(op);
    if (inner < 128) {
      launch("reduce", reduce_thread_kernel<T>, blocks_for(outer), kThreads, out.device, op,
             outer, odims, ost, inner, idims, ist, px, out.data, out.dtype, scale, identity);
      return;
    }
    int64_t parts = 1;
    if (!arg && outer < 32 && inner >= (int64_t(1) << 16)) {
      parts = (inner + 16383) / 16384;
      if (parts > 1024) parts = 1024;
    }
    const int64_t chunk = (inner + parts - 1) / parts;
    const int64_t items = outer * parts;
    const unsigned grid = static_cast<unsigned>(items < kMaxBlocks ? items : kMaxBlocks);
    if (parts == 1) {
      launch("reduce", reduce_block_kernel<T>, grid, kThreads, out.device, op, outer, odims, ost,
             inner, idims, ist, px, out.data, out.dtype, scale, identity, parts, chunk);
      return;
    }
    const DType acc_dtype = std::is_floating_point<A>::value ? DType::Float64 : DType::Int64;
    Scratch partial(static_cast<size_t>(items) * sizeof(A), out.device);
    launch("reduce", reduce_block_kernel<T>, grid, kThreads, out.device, op, outer, odims, ost,
           inner, idims, ist, px, partial.as<void>(), acc_dtype, 1.0, identity, parts, chunk);
    reduce(op, out, contiguous_view(partial.as<void>(), acc_dtype, out.device, {outer, parts}), 1,
           scale);
  });
}

}  // namespace ember::cuda
