// conv2d as im2col + GEMM, a chunk of images at a time (the same lowering as cpu/im2col.h, but
// with the chunk's images side by side in one matrix so that each group is one GEMM):
//   col (C*KH*KW, nb*OH*OW):  col[(c*KH + kh)*KW + kw, n*OH*OW + i*OW + j]
//                               = x[n, c, i*sh - ph + kh*dh, j*sw - pw + kw*dw]   (0 outside)
// Group g owns rows [g*CKKg, (g+1)*CKKg) of col and rows [g*Og, (g+1)*Og) of the weight, so the
// groups form a batch of GEMMs with constant strides:
//   forward:  yT (O, nb*OHW) = W (O, CKKg) @ col       then y[n, o, :] = yT[o, n*OHW : ...]
//   dweight:  dW (O, CKKg)  += dyT @ col^T             (summed over the chunks)
//   dx:       dcol = W^T @ dyT, then col2im
// col2im gathers, for each input pixel, the column entries read from it, so it needs no
// atomics and is deterministic. dbias is a reduction of dy over (N, OH, OW).
#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

constexpr int64_t kColumnBudgetBytes = int64_t(64) << 20;

template <typename T>
__global__ void im2col_kernel(Conv2d s, int64_t nb, const T* x, T* col) {
  const int64_t ohw = s.OH * s.OW, cols = nb * ohw;
  const int64_t total = s.C * s.KH * s.KW * cols;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / cols, q = e % cols;
    const int64_t kw = r % s.KW, kh = (r / s.KW) % s.KH, c = r / (s.KW * s.KH);
    const int64_t n = q / ohw, p = q % ohw;
    const int64_t h = (p / s.OW) * s.sh - s.ph + kh * s.dh;
    const int64_t w = (p % s.OW) * s.sw - s.pw + kw * s.dw;
    col[e] = (h >= 0 && h < s.H && w >= 0 && w < s.W) ? x[((n * s.C + c) * s.H + h) * s.W + w]
                                                      : T(0);
  }
}

template <typename T>
__global__ void col2im_kernel(Conv2d s, int64_t nb, const T* col, T* dx) {
  const int64_t ohw = s.OH * s.OW, cols = nb * ohw;
  const int64_t total = nb * s.C * s.H * s.W;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = e % s.W, h = (e / s.W) % s.H, c = (e / (s.W * s.H)) % s.C;
    const int64_t n = e / (s.W * s.H * s.C);
    T sum = T(0);
    for (int64_t kh = 0; kh < s.KH; ++kh) {
      const int64_t hp = h + s.ph - kh * s.dh;  // = i * sh for the output row i reading h
      if (hp < 0 || hp % s.sh != 0 || hp / s.sh >= s.OH) continue;
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        const int64_t wp = w + s.pw - kw * s.dw;
        if (wp < 0 || wp % s.sw != 0 || wp / s.sw >= s.OW) continue;
        const int64_t r = (c * s.KH + kh) * s.KW + kw;
        sum += col[r * cols + n * ohw + (hp / s.sh) * s.OW + wp / s.sw];
      }
    }
    dx[e] = sum;
  }
}

int64_t chunk_images(const Conv2d& s, int64_t item) {
  const int64_t per_image = s.C * s.KH * s.KW * s.OH * s.OW * item;
  int64_t nb = per_image > 0 ? kColumnBudgetBytes / per_image : s.N;
  if (nb < 1) nb = 1;
  return nb < s.N ? nb : s.N;
}

// dy[n0 : n0 + nb] (nb, O, OHW) as the (O, nb, OHW) view that copy() makes contiguous.
View chunk_transposed(const View& dy, const Conv2d& s, int64_t n0, int64_t nb) {
  const int64_t ohw = s.OH * s.OW;
  View v = dy;
  v.data = static_cast<char*>(dy.data) + n0 * s.O * ohw * itemsize(dy.dtype);
  v.capacity = dy.capacity - n0 * s.O * ohw;
  v.ndim = 3;
  v.shape[0] = s.O;
  v.shape[1] = nb;
  v.shape[2] = ohw;
  v.strides[0] = ohw;
  v.strides[1] = s.O * ohw;
  v.strides[2] = 1;
  return v;
}

void require_conv(const Conv2d& s, const View& x, const View& weight, const View& y,
                  const char* op) {
  if (x.numel() != s.N * s.C * s.H * s.W ||
      weight.numel() != s.O * (s.C / s.groups) * s.KH * s.KW ||
      y.numel() != s.N * s.O * s.OH * s.OW)
    throw_value_error(op, "array sizes do not match the convolution's geometry");
  if (x.dtype != weight.dtype || y.dtype != x.dtype)
    throw_value_error(op, "x, weight and y must have one dtype");
}

}  // namespace

void conv2d_forward(const Conv2d& s, const View& y, const View& x, const View& weight,
                    const View* bias) {
  const char* op = "conv2d";
  require_conv(s, x, weight, y, op);
  dispatch_float(x.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    const int64_t ohw = s.OH * s.OW, ckkg = s.C / s.groups * s.KH * s.KW, og = s.O / s.groups;
    const int64_t nb_max = chunk_images(s, sizeof(T));
    Scratch col(static_cast<size_t>(s.C * s.KH * s.KW * nb_max * ohw) * sizeof(T), x.device);
    Scratch yt(static_cast<size_t>(s.O * nb_max * ohw) * sizeof(T), x.device);
    for (int64_t n0 = 0; n0 < s.N; n0 += nb_max) {
      const int64_t nb = nb_max < s.N - n0 ? nb_max : s.N - n0;
      const T* xs = static_cast<const T*>(x.data) + n0 * s.C * s.H * s.W;
      const int64_t col_elems = s.C * s.KH * s.KW * nb * ohw;
      launch(op, im2col_kernel<T>, blocks_for(col_elems), kThreads, x.device, s, nb, xs,
             col.as<T>());
      Gemm g;
      g.M = og;
      g.N = nb * ohw;
      g.K = ckkg;
      g.lda = ckkg;
      g.ldb = nb * ohw;
      g.ldc = nb * ohw;
      g.batch = s.groups;
      g.stride_a = og * ckkg;
      g.stride_b = ckkg * nb * ohw;
      g.stride_c = og * nb * ohw;
      gemm(g, contiguous_view(yt.as<void>(), y.dtype, y.device, {s.O, nb * ohw}), weight,
           contiguous_view(col.as<void>(), x.dtype, x.device, {col_elems}));
      // yt (O, nb, OHW) -> y[n0 : n0 + nb] (nb, O, OHW)
      View src = contiguous_view(yt.as<void>(), y.dtype, y.device, {nb, s.O, ohw});
      src.strides[0] = ohw;
      src.strides[1] = nb * ohw;
      View dst = contiguous_view(static_cast<T*>(y.data) + n0 * s.O * ohw, y.dtype, y.device,
                                 {nb, s.O, ohw});
      copy(dst, src);
    }
  });
  if (bias != nullptr) {
    if (bias->numel() != s.O || bias->dtype != y.dtype)
      throw_value_error(op, "bias must have O elements of y's dtype");
    View b = y;
    b.data = bias->data;
    b.capacity = bias->capacity;
    const int64_t ohw = s.OH * s.OW;
    b.ndim = 3;
    b.shape[0] = s.N;
    b.shape[1] = s.O;
    b.shape[2] = ohw;
    b.strides[0] = 0;
    b.strides[1] = 1;
    b.strides[2] = 0;
    View out = contiguous_view(y.data, y.dtype, y.device, {s.N, s.O, ohw});
    Operand a_op, b_op;
    a_op.view = out;
    b_op.view = b;
    binary(BinaryOp::Add, out, a_op, b_op, 0.0);
  }
}

void conv2d_backward(const Conv2d& s, const View* dx, const View* dweight, const View* dbias,
                     const View& dy, const View& x, const View& weight) {
  const char* op = "conv2d_backward";
  require_conv(s, x, weight, dy, op);
  if ((dx && (dx->numel() != x.numel() || dx->dtype != x.dtype)) ||
      (dweight && (dweight->numel() != weight.numel() || dweight->dtype != x.dtype)) ||
      (dbias && dbias->dtype != x.dtype))
    throw_value_error(op, "gradients must have their input's size and dtype");
  const int64_t ohw = s.OH * s.OW;
  if (dbias != nullptr) {
    if (dbias->numel() != s.O) throw_value_error(op, "dbias must have O elements");
    View moved = contiguous_view(dy.data, dy.dtype, dy.device, {s.O, s.N, ohw});
    moved.strides[0] = ohw;
    moved.strides[1] = s.O * ohw;
    reduce(ReduceOp::Sum, *dbias, moved, 2, 1.0);
  }
  if (dx == nullptr && dweight == nullptr) return;
  dispatch_float(x.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    const int64_t ckkg = s.C / s.groups * s.KH * s.KW, og = s.O / s.groups;
    const int64_t nb_max = chunk_images(s, sizeof(T));
    const int64_t col_max = s.C * s.KH * s.KW * nb_max * ohw;
    Scratch col(static_cast<size_t>(col_max) * sizeof(T), x.device);
    Scratch dyt(static_cast<size_t>(s.O * nb_max * ohw) * sizeof(T), x.device);
    for (int64_t n0 = 0; n0 < s.N; n0 += nb_max) {
      const int64_t nb = nb_max < s.N - n0 ? nb_max : s.N - n0;
      const int64_t cols = nb * ohw, col_elems = s.C * s.KH * s.KW * cols;
      const View dyt_view = contiguous_view(dyt.as<void>(), dy.dtype, dy.device, {s.O, cols});
      const View col_view = contiguous_view(col.as<void>(), x.dtype, x.device, {col_elems});
      copy(contiguous_view(dyt.as<void>(), dy.dtype, dy.device, {s.O, nb, ohw}),
           chunk_transposed(dy, s, n0, nb));
      if (dweight != nullptr) {
        const T* xs = static_cast<const T*>(x.data) + n0 * s.C * s.H * s.W;
        launch(op, im2col_kernel<T>, blocks_for(col_elems), kThreads, x.device, s, nb, xs,
               col.as<T>());
        Gemm g;  // dW_g (og, ckkg) += dyT_g (og, cols) @ col_g^T
        g.trans_b = true;
        g.M = og;
        g.N = ckkg;
        g.K = cols;
        g.lda = cols;
        g.ldb = cols;
        g.ldc = ckkg;
        g.batch = s.groups;
        g.stride_a = og * cols;
        g.stride_b = ckkg * cols;
        g.stride_c = og * ckkg;
        g.beta = n0 == 0 ? 0.0 : 1.0;
        gemm(g, *dweight, dyt_view, col_view);
      }
      if (dx != nullptr) {
        Gemm g;  // dcol_g (ckkg, cols) = W_g^T @ dyT_g
        g.trans_a = true;
        g.M = ckkg;
        g.N = cols;
        g.K = og;
        g.lda = ckkg;
        g.ldb = cols;
        g.ldc = cols;
        g.batch = s.groups;
        g.stride_a = og * ckkg;
        g.stride_b = og * cols;
        g.stride_c = ckkg * cols;
        gemm(g, col_view, weight, dyt_view);
        T* dxs = static_cast<T*>(dx->data) + n0 * s.C * s.H * s.W;
        launch(op, col2im_kernel<T>, blocks_for(nb * s.C * s.H * s.W), kThreads, x.device, s, nb,
               col.as<T>(), dxs);
      }
    }
  });
}

}  // namespace ember::cuda
