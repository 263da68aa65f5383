// Driver of the direct convolution (kernels: conv2d_direct_kernel.h): zero-padded scratch, packed
// weights, threads, and the choice of the AVX-512 or AVX2 kernels.
//
// Threads: the forward pass and dinp split the batch into one chunk of images per thread, each
// with its own padded-image scratch (as conv2d.cpp does, for the same reasons). dweight is split
// over work items (block of output channels, input channel, kernel row): each thread owns
// distinct dweight entries and sums the whole batch for them, so there are no partial buffers to
// add and the result does not depend on the thread count.
#include "cpu/conv2d_direct.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/conv2d_batch.h"
#include "cpu/conv2d_direct_channels.h"
#include "cpu/runtime.h"

namespace ember::cpu {

namespace {

using direct_detail::kMaxLanes;
using direct_detail::kOutBlock;
using direct_detail::Plan;
using direct_detail::WeightItem;

// Where the direct kernels are chosen. Below a few hundred rows of the lowered matrix (C*KH*KW)
// im2col spends its time lowering, packing and scattering back rather than multiplying: measured
// on LeNet-5's two layers and CIFAR's first (C*KH*KW = 25..150, O = 6..16, batch 64), forward +
// backward is 1.5-2x faster here than with im2col + GEMM. The GEMM reuses each loaded value
// across a 12 x 32 register tile against 4 x 4 rows here, so with many channels it should win
// again; the bounds are the measured layers with some room, not a measured crossover.
constexpr int64_t kMaxReduction = 256;  // C * KH * KW
constexpr int64_t kMaxOutChannels = 64;
// dweight pads the whole batch of x and repacks dout at once: keep each within 32 MiB.
constexpr int64_t kMaxScratchFloats = int64_t{1} << 23;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Row stride of a padded input `cols_padded` wide read by full-vector loads for `out_cols`
// outputs of a kernel `kw` wide.
int64_t padded_stride(int64_t cols_padded, int64_t out_cols, int64_t kw) {
  return std::max(cols_padded, round_up(out_cols, kMaxLanes) + kw - 1);
}

// The correlation computing y from x, and the one computing dinp from dout.
Plan forward_plan(const Conv2dShape& s) {
  return {s.C,          s.O,  s.KH, s.KW, s.OH, s.OW, s.H + 2 * s.ph,
          padded_stride(s.W + 2 * s.pw, s.OW, s.KW), s.ph, s.H};
}
Plan input_grad_plan(const Conv2dShape& s) {
  return {s.O,          s.C,  s.KH, s.KW, s.H, s.W, s.H + s.KH - 1,
          padded_stride(s.W + s.KW - 1, s.W, s.KW), s.KH - 1 - s.ph, s.OH};
}

using Correlate = void (*)(float*, const float*, const float*, const float*, const Plan&);
using WeightKernel = void (*)(float*, const float*, const float*, const WeightItem&);

Correlate correlate_kernel() {
#ifdef EMBER_HAVE_AVX512_PATH
  if (use_avx512()) return direct_detail::correlate_image_avx512;
#endif
#ifdef EMBER_HAVE_AVX2_PATH
  return direct_detail::correlate_image_avx2;
#else
  return nullptr;
#endif
}

WeightKernel weight_kernel() {
#ifdef EMBER_HAVE_AVX512_PATH
  if (use_avx512()) return direct_detail::weight_item_avx512;
#endif
#ifdef EMBER_HAVE_AVX2_PATH
  return direct_detail::weight_item_avx2;
#else
  return nullptr;
#endif
}

// Packs value(o, c, kh, kw) of a (Co, Ci, KH, KW) kernel in the layout of Plan's wpacked.
template <typename Value>
std::unique_ptr<float[]> pack_weights(const Plan& p, Value value) {
  const int64_t K = p.Ci * p.KH * p.KW;
  auto packed = conv_batch::scratch<float>(p.Co * K);
  for (int64_t o0 = 0; o0 < p.Co; o0 += kOutBlock) {
    const int64_t bo = std::min<int64_t>(kOutBlock, p.Co - o0);
    float* dst = packed.get() + o0 * K;
    for (int64_t c = 0; c < p.Ci; ++c)
      for (int64_t kh = 0; kh < p.KH; ++kh)
        for (int64_t kw = 0; kw < p.KW; ++kw)
          for (int64_t b = 0; b < bo; ++b) *dst++ = value(o0 + b, c, kh, kw);
  }
  return packed;
}

// Copies `planes` planes (rows x cols) into the interior of zeroed padded planes (Hp x Wpa) at
// offset (top, left); the border is left as it is.
void pad_planes(float* dst, const float* src, int64_t planes, int64_t rows, int64_t cols,
                int64_t top, int64_t left, const Plan& p) {
  for (int64_t c = 0; c < planes; ++c)
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(dst + (c * p.Hp + top + r) * p.Wpa + left, src + (c * rows + r) * cols,
                  sizeof(float) * cols);
}

// out (N, Co, OH, OW) = correlation of each zero-padded image of inp (N, Ci, rows, cols).
void correlate_batch(float* out, const float* inp, const float* packed, const float* bias,
                     const Plan& p, int64_t N, int64_t cols, int64_t left) {
  const int64_t rows = p.rows, top = p.top;
  const Correlate correlate = correlate_kernel();
  const int64_t image = p.Ci * rows * cols, out_image = p.Co * p.OH * p.OW;
  const int64_t padded = p.Ci * p.Hp * p.Wpa;
  const int nt = conv_batch::threads(N, N * out_image * p.Ci * p.KH * p.KW);
  const auto buffers = conv_batch::scratch<float>(nt * padded);
  std::fill(buffers.get(), buffers.get() + nt * padded, 0.0f);

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) {
    float* xp = buffers.get() + t * padded;
    for (int64_t n = conv_batch::chunk_begin(N, t, nt); n < conv_batch::chunk_begin(N, t + 1, nt);
         ++n) {
      pad_planes(xp, inp + n * image, p.Ci, rows, cols, top, left, p);
      correlate(out + n * out_image, xp, packed, bias, p);
    }
  }
}

// dy (N, O, OH, OW) -> (N, blocks, OH, kOutBlock, OWp) at 64-byte alignment (see WeightItem):
// the rows a weight work item reads together lie next to each other, loads of them never split
// a cache line, and full-vector loads never leave the buffer.
struct PackedGrad {
  std::unique_ptr<float[]> storage;
  float* data;
  int64_t OWp, image;
};

PackedGrad pack_output_grad(const float* dout, const Conv2dShape& s) {
  const int64_t OWp = round_up(s.OW, kMaxLanes), blocks = (s.O + kOutBlock - 1) / kOutBlock;
  const int64_t row = kOutBlock * OWp, image = blocks * s.OH * row;
  PackedGrad g{conv_batch::scratch<float>(s.N * image + kMaxLanes), nullptr, OWp, image};
  g.data = reinterpret_cast<float*>(
      round_up(reinterpret_cast<std::uintptr_t>(g.storage.get()), kMaxLanes * sizeof(float)));
#pragma omp parallel for num_threads(conv_batch::threads(s.N, s.N * image)) schedule(static)
  for (int64_t n = 0; n < s.N; ++n) {
    float* dst = g.data + n * image;
    std::fill(dst, dst + image, 0.0f);
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t i = 0; i < s.OH; ++i)
        std::memcpy(dst + (o / kOutBlock * s.OH + i) * row + o % kOutBlock * OWp,
                    dout + ((n * s.O + o) * s.OH + i) * s.OW, sizeof(float) * s.OW);
  }
  return g;
}

void weight_gradient(float* dweight, const float* dout, const float* inp, const Conv2dShape& s) {
  const WeightKernel kernel = weight_kernel();
  const Plan p = forward_plan(s);
  const int64_t padded = s.C * p.Hp * p.Wpa, image = s.C * s.H * s.W;
  const auto xp = conv_batch::scratch<float>(s.N * padded);
  const int64_t macs = s.N * s.O * s.C * s.KH * s.KW * s.OH * s.OW;

#pragma omp parallel for num_threads(conv_batch::threads(s.N, s.N * padded)) schedule(static)
  for (int64_t n = 0; n < s.N; ++n) {
    float* dst = xp.get() + n * padded;
    std::fill(dst, dst + padded, 0.0f);
    pad_planes(dst, inp + n * image, s.C, s.H, s.W, s.ph, s.pw, p);
  }
  const PackedGrad dy = pack_output_grad(dout, s);

  const int64_t blocks = (s.O + kOutBlock - 1) / kOutBlock, items = blocks * s.C * s.KH;
#pragma omp parallel for num_threads(threads_for(macs)) schedule(static)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t ob = item / (s.C * s.KH), c = item / s.KH % s.C, kh = item % s.KH;
    const int64_t o0 = ob * kOutBlock;
    const WeightItem it{s.N,   s.C,      s.KH, s.KW,  s.OH,
                        s.OW,  dy.OWp,   dy.image, p.Hp, p.Wpa,
                        static_cast<int>(std::min<int64_t>(kOutBlock, s.O - o0))};
    kernel(dweight + ((o0 * s.C + c) * s.KH + kh) * s.KW, dy.data + ob * s.OH * kOutBlock * dy.OWp,
           xp.get() + (c * p.Hp + kh) * p.Wpa, it);
  }
}

}  // namespace

bool direct_available() {
#if defined(EMBER_HAVE_AVX512_PATH) || defined(EMBER_HAVE_AVX2_PATH)
  return use_avx2();
#else
  return false;
#endif
}

bool direct_applies(const Conv2dShape& s) {
  if (s.sh != 1 || s.sw != 1 || s.dh != 1 || s.dw != 1 || s.groups != 1) return false;
  if (s.ph > s.KH - 1 || s.pw > s.KW - 1) return false;
  if (s.C * s.KH * s.KW > kMaxReduction || s.O > kMaxOutChannels) return false;
  const Plan f = forward_plan(s), b = input_grad_plan(s);
  const int64_t packed_grad = s.N * round_up(s.O, kOutBlock) * s.OH * round_up(s.OW, kMaxLanes);
  return s.N * s.C * f.Hp * f.Wpa <= kMaxScratchFloats && s.O * b.Hp * b.Wpa <= kMaxScratchFloats &&
         packed_grad <= kMaxScratchFloats;
}

void direct_conv2d_forward(float* out, const float* inp, const float* weight, const float* bias,
                           const Conv2dShape& s) {
  if (direct_channels_applies(s)) {
    direct_channels_forward(out, inp, weight, bias, s);
    return;
  }
  const Plan p = forward_plan(s);
  const auto packed = pack_weights(p, [&](int64_t o, int64_t c, int64_t kh, int64_t kw) {
    return weight[((o * s.C + c) * s.KH + kh) * s.KW + kw];
  });
  correlate_batch(out, inp, packed.get(), bias, p, s.N, s.W, s.pw);
}

// dinp[n, c, i, j] = sum_{o, kh, kw} dout_p[n, o, i + kh, j + kw] * weight[o, c, KH-1-kh, KW-1-kw]
// where dout_p is dout zero-padded by (KH-1-ph, KW-1-pw): the forward correlation with the
// kernel transposed and flipped.
void direct_conv2d_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                            const float* weight, const Conv2dShape& s) {
  if (dinp) {
    const Plan p = input_grad_plan(s);
    const auto packed = pack_weights(p, [&](int64_t c, int64_t o, int64_t kh, int64_t kw) {
      return weight[((o * s.C + c) * s.KH + (s.KH - 1 - kh)) * s.KW + (s.KW - 1 - kw)];
    });
    correlate_batch(dinp, dout, packed.get(), nullptr, p, s.N, s.OW, s.KW - 1 - s.pw);
  }
  if (dweight) {
    if (direct_channels_applies(s))
      direct_channels_weight_gradient(dweight, dout, inp, s);
    else
      weight_gradient(dweight, dout, inp, s);
  }
}

}  // namespace ember::cpu
