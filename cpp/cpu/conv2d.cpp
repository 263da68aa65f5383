#include "cpu/conv2d.h"

#include <algorithm>
#include <type_traits>

#include "cpu/conv2d_batch.h"
#include "cpu/conv2d_direct.h"
#include "cpu/conv2d_direct_channels.h"
#include "cpu/conv2d_winograd.h"
#include "cpu/gemm.h"
#include "cpu/im2col.h"
#include "cpu/runtime.h"

// 3x3 stride-1 layers with enough channels go to the Winograd kernels (conv2d_winograd.h), float32
// stride-1 layers with few channels to the direct kernels (conv2d_direct.h) on AVX2/AVX-512 CPUs.
// Every other shape lowers one image at a time (im2col) and multiplies per group:
//   forward  y[n]_g      = W_g (O/G x K_g) @ col[n]_g (K_g x P)
//   dinp     dcol[n]_g   = W_g^T @ dy[n]_g, then col2im
//   dweight  dW_g       += dy[n]_g @ col[n]_g^T    (summed over the batch)
// with K_g = C/G*KH*KW and P = OH*OW.
//
// Where the parallelism lives: the batch is split into one contiguous chunk of images per
// thread, each thread owning its lowering buffer, and the GEMMs inside run on one thread (a nested
// OpenMP region). The layers this library is built for (LeNet/CIFAR-sized convolutions at batch
// 64) have GEMMs of 6-16 rows and a few hundred columns per image: too small to split across
// threads without the split costing more than the work, while 64 independent images split
// perfectly. The alternative, one GEMM over the whole batch, needs a lowered matrix of the whole
// batch (150 MB for a 64->64 3x3 layer at 32x32 and batch 64) and a transpose of the output from
// (O, N, P) to (N, O, P). When there are fewer images than threads (inference on one image) the
// images run in turn and each GEMM uses the threads itself.
//
// dweight is a sum over the batch, so each thread accumulates its chunk into its own partial
// buffer (thread 0 straight into dweight) and the partials are added in thread order at the end:
// no atomics, and a fixed thread count gives bitwise-identical results.

namespace ember::cpu {

int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                           int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

namespace {

// A 1x1 kernel with unit stride and no padding reads the image as it is: col is the image.
bool lowering_is_identity(const Conv2dShape& s) {
  return s.KH == 1 && s.KW == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
}

int batch_threads(const Conv2dShape& s) {
  return conv_batch::threads(s.N, s.N * s.O * s.col_rows_per_group() * s.out_plane());
}

// dbias[o] = sum of dout[n, o, :, :] over n. Each row is summed in chunks of kBiasChunk elements
// on kBiasLanes partial sums of T, which vectorise, and the chunks in double (the scheme of the
// softmax rows): a float chunk of 1024 carries ~64 additions per lane, far below float32's
// precision limit, while the double accumulation keeps long sums over big batches exact enough.
// Converting every element to double cost LeNet's first layer 66 us of its 557 us backward.
constexpr int kBiasLanes = 16;
constexpr int64_t kBiasChunk = 64 * kBiasLanes;

template <typename T>
void bias_gradient(T* dbias, const T* dout, const Conv2dShape& s) {
  const int64_t P = s.out_plane();
#pragma omp parallel for num_threads(threads_for(s.N * s.O * P)) schedule(static)
  for (int64_t o = 0; o < s.O; ++o) {
    double sum = 0;
    for (int64_t n = 0; n < s.N; ++n) {
      const T* row = dout + (n * s.O + o) * P;
      for (int64_t c0 = 0; c0 < P; c0 += kBiasChunk) {
        const int64_t c1 = std::min(P, c0 + kBiasChunk);
        T lanes[kBiasLanes] = {};
        int64_t p = c0;
        for (; p + kBiasLanes <= c1; p += kBiasLanes)
          for (int l = 0; l < kBiasLanes; ++l) lanes[l] += row[p + l];
        double chunk = 0;
        for (; p < c1; ++p) chunk += row[p];
        for (const T lane : lanes) chunk += lane;
        sum += chunk;
      }
    }
    dbias[o] = static_cast<T>(sum);
  }
}

template <typename T>
void im2col_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dShape& s) {
  const int64_t Og = s.out_per_group(), Kg = s.col_rows_per_group(), P = s.out_plane();
  const int64_t image = s.C * s.H * s.W, col_size = s.groups * Kg * P;
  const bool identity = lowering_is_identity(s);
  const int nt = batch_threads(s);
  const auto cols = conv_batch::scratch<T>(identity ? 0 : nt * col_size);

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) {
    T* col_buf = identity ? nullptr : cols.get() + t * col_size;
    for (int64_t n = conv_batch::chunk_begin(s.N, t, nt);
         n < conv_batch::chunk_begin(s.N, t + 1, nt); ++n) {
      const T* x = inp + n * image;
      T* y = out + n * s.O * P;
      const T* col = x;
      if (!identity) {
        im2col(col_buf, x, s);
        col = col_buf;
      }
      for (int64_t g = 0; g < s.groups; ++g)
        gemm<T>(false, false, Og, P, Kg, T(1), weight + g * Og * Kg, Kg, col + g * Kg * P, P,
                T(0), y + g * Og * P, P);
      if (bias) {
        for (int64_t o = 0; o < s.O; ++o) {
          T* row = y + o * P;
          for (int64_t p = 0; p < P; ++p) row[p] += bias[o];
        }
      }
    }
  }
}

template <typename T>
void im2col_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight,
                     const Conv2dShape& s) {
  const int64_t Og = s.out_per_group(), Kg = s.col_rows_per_group(), P = s.out_plane();
  const int64_t image = s.C * s.H * s.W, col_size = s.groups * Kg * P, wsize = s.O * Kg;
  const bool identity = lowering_is_identity(s);
  const int nt = batch_threads(s);
  const auto cols = conv_batch::scratch<T>(dweight && !identity ? nt * col_size : 0);
  const auto dcols = conv_batch::scratch<T>(dinp && !identity ? nt * col_size : 0);
  const auto partials = conv_batch::scratch<T>(dweight ? (nt - 1) * wsize : 0);

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) {
    T* dw = t == 0 ? dweight : partials.get() + (t - 1) * wsize;
    const int64_t first = conv_batch::chunk_begin(s.N, t, nt);
    for (int64_t n = first; n < conv_batch::chunk_begin(s.N, t + 1, nt); ++n) {
      const T* dy = dout + n * s.O * P;
      if (dweight) {
        const T* col = inp + n * image;
        if (!identity) {
          im2col(cols.get() + t * col_size, col, s);
          col = cols.get() + t * col_size;
        }
        const T beta = n == first ? T(0) : T(1);
        for (int64_t g = 0; g < s.groups; ++g)
          gemm<T>(false, true, Og, Kg, P, T(1), dy + g * Og * P, P, col + g * Kg * P, P, beta,
                  dw + g * Og * Kg, Kg);
      }
      if (dinp) {
        T* dx = dinp + n * image;
        T* dcol = identity ? dx : dcols.get() + t * col_size;
        for (int64_t g = 0; g < s.groups; ++g)
          gemm<T>(true, false, Kg, P, Og, T(1), weight + g * Og * Kg, Kg, dy + g * Og * P, P,
                  T(0), dcol + g * Kg * P, P);
        if (!identity) col2im(dx, dcol, s);
      }
    }
  }
  if (dweight) conv_batch::add_partials(dweight, partials.get(), nt - 1, wsize);
}

}  // namespace

template <typename T>
Conv2dAlgorithm conv2d_algorithm(const Conv2dShape& s) {
  if (winograd_applies(s)) return Conv2dAlgorithm::Winograd;
  if (std::is_same_v<T, float> && direct_available() && direct_applies(s))
    return direct_channels_applies(s) ? Conv2dAlgorithm::DirectChannels : Conv2dAlgorithm::Direct;
  return Conv2dAlgorithm::Im2col;
}

const char* conv2d_algorithm_name(Conv2dAlgorithm a) {
  switch (a) {
    case Conv2dAlgorithm::Winograd: return "winograd";
    case Conv2dAlgorithm::Direct: return "direct";
    case Conv2dAlgorithm::DirectChannels: return "direct_channels";
    default: return "im2col";
  }
}

template <typename T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dShape& s) {
  if (s.N == 0) return;
  const Conv2dAlgorithm algorithm = conv2d_algorithm<T>(s);
  if (algorithm == Conv2dAlgorithm::Winograd) {
    winograd_conv2d_forward(out, inp, weight, bias, s);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (algorithm == Conv2dAlgorithm::Direct || algorithm == Conv2dAlgorithm::DirectChannels) {
      direct_conv2d_forward(out, inp, weight, bias, s);
      return;
    }
  }
  im2col_forward(out, inp, weight, bias, s);
}

template <typename T>
void conv2d_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     const Conv2dShape& s) {
  if (dbias) bias_gradient(dbias, dout, s);
  if (s.N == 0) {
    if (dweight) std::fill(dweight, dweight + s.O * s.col_rows_per_group(), T(0));
    return;
  }
  if (!dinp && !dweight) return;
  const Conv2dAlgorithm algorithm = conv2d_algorithm<T>(s);
  if (algorithm == Conv2dAlgorithm::Winograd) {
    if (dinp) winograd_conv2d_backward_input(dinp, dout, weight, s);
    if (dweight) winograd_conv2d_backward_weight(dweight, dout, inp, s);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (algorithm == Conv2dAlgorithm::Direct || algorithm == Conv2dAlgorithm::DirectChannels) {
      direct_conv2d_backward(dinp, dweight, dout, inp, weight, s);
      return;
    }
  }
  im2col_backward(dinp, dweight, dout, inp, weight, s);
}

#define EMBER_INSTANTIATE(T)                                                                \
  template Conv2dAlgorithm conv2d_algorithm<T>(const Conv2dShape&);                      \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&); \
  template void conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*,             \
                                   const Conv2dShape&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
