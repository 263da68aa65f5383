// Driver of the output-channel-vectorised direct convolution (kernels:
// conv2d_direct_channels_kernel.h): weight packing, padding, transposes and threads.
//
// Threads: the forward pass splits the batch into one chunk of images per thread, each with its
// own scratch. dweight is split over tap blocks (vector of output channels, input channel, rows
// and columns of the kernel): each thread owns distinct dweight entries and sweeps the whole
// batch image by image for them, transposing each image's output gradient itself (a few hundred
// shuffles against tens of thousands of FMAs per image). Every entry is summed over the images
// and pixels in the same order whatever the thread count, so the result does not depend on it.
#include "cpu/conv2d_direct_channels.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/conv2d_batch.h"
#include "cpu/conv2d_direct.h"
#include "cpu/runtime.h"

namespace ember::cpu {

namespace {

using direct_detail::ChannelKernels;
using direct_detail::ChannelPlan;
using direct_detail::TapBlock;

ChannelKernels channel_kernels() {
#ifdef EMBER_HAVE_AVX512_PATH
  if (use_avx512()) return direct_detail::channel_kernels_avx512();
#endif
#ifdef EMBER_HAVE_AVX2_PATH
  return direct_detail::channel_kernels_avx2();
#else
  return {};
#endif
}

ChannelPlan channel_plan(const Conv2dShape& s) {
  return {s.C, s.KH, s.KW, s.OH, s.OW, s.H + 2 * s.ph, s.W + 2 * s.pw};
}

bool needs_padding(const Conv2dShape& s) { return s.ph > 0 || s.pw > 0; }

// The interior of a zeroed padded image (C, Hp, Wp); the border is left as it is.
void pad_image(float* xp, const float* x, const Conv2dShape& s, const ChannelPlan& p) {
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t r = 0; r < s.H; ++r)
      std::memcpy(xp + (c * p.Hp + s.ph + r) * p.Wp + s.pw, x + (c * s.H + r) * s.W,
                  sizeof(float) * s.W);
}

// Image n as the kernels read it: padded into xp (zeroed once by the caller) when the layer pads.
const float* image_for_kernels(float* xp, const float* inp, int64_t n, const Conv2dShape& s,
                               const ChannelPlan& p) {
  const float* x = inp + n * s.C * s.H * s.W;
  if (!needs_padding(s)) return x;
  pad_image(xp, x, s, p);
  return xp;
}

}  // namespace

bool direct_channels_applies(const Conv2dShape& s) {
  return direct_available() && direct_applies(s) && s.O % channel_kernels().lanes == 0;
}

void direct_channels_forward(float* out, const float* inp, const float* weight, const float* bias,
                             const Conv2dShape& s) {
  const ChannelKernels k = channel_kernels();
  const int64_t L = k.lanes, K = s.C * s.KH * s.KW, P = s.OH * s.OW;
  const ChannelPlan p = channel_plan(s);

  // wt (O / L, K, L): the weights of a tap for one vector of output channels side by side.
  const auto wt = conv_batch::scratch<float>(s.O * K);
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t t = 0; t < K; ++t) wt[((o / L) * K + t) * L + o % L] = weight[o * K + t];

  const int64_t padded = needs_padding(s) ? s.C * p.Hp * p.Wp : 0, per_thread = P * L + padded;
  const int nt = conv_batch::threads(s.N, s.N * s.O * K * P);
  const auto buffers = conv_batch::scratch<float>(nt * per_thread);

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) {
    float* yt = buffers.get() + t * per_thread;
    float* xp = yt + P * L;
    std::fill(xp, xp + padded, 0.0f);
    for (int64_t n = conv_batch::chunk_begin(s.N, t, nt);
         n < conv_batch::chunk_begin(s.N, t + 1, nt); ++n) {
      const float* x = image_for_kernels(xp, inp, n, s, p);
      for (int64_t o0 = 0; o0 < s.O; o0 += L) {
        k.forward_rows(yt, x, wt.get() + o0 * K, p);
        k.planes_from_rows(out + (n * s.O + o0) * P, P, yt, P, bias ? bias + o0 : nullptr);
      }
    }
  }
}

void direct_channels_weight_gradient(float* dweight, const float* dout, const float* inp,
                                     const Conv2dShape& s) {
  const ChannelKernels k = channel_kernels();
  const int64_t L = k.lanes, K = s.C * s.KH * s.KW, P = s.OH * s.OW;
  const ChannelPlan p = channel_plan(s);

  // Tap blocks as large as the accumulators allow, whole kernel rows first.
  const int cols = static_cast<int>(std::min<int64_t>(s.KW, k.max_cols));
  const int rows = static_cast<int>(std::min<int64_t>({s.KH, k.max_rows, k.accumulators / cols}));
  struct Item {
    int64_t o0;
    TapBlock taps;
  };
  std::vector<Item> items;
  for (int64_t o0 = 0; o0 < s.O; o0 += L)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t kh0 = 0; kh0 < s.KH; kh0 += rows)
        for (int64_t kw0 = 0; kw0 < s.KW; kw0 += cols)
          items.push_back({o0, {c, kh0, kw0, static_cast<int>(std::min<int64_t>(rows, s.KH - kh0)),
                                static_cast<int>(std::min<int64_t>(cols, s.KW - kw0))}});
  const int64_t count = static_cast<int64_t>(items.size());

  // dwt (O / L, K, L): the layout of wt in the forward pass, summed into in place.
  const auto dwt = conv_batch::scratch<float>(s.O * K);
  std::fill(dwt.get(), dwt.get() + s.O * K, 0.0f);
  const int64_t padded = needs_padding(s) ? s.C * p.Hp * p.Wp : 0, per_thread = s.O * P + padded;
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(s.N * s.O * K * P), count));
  const auto buffers = conv_batch::scratch<float>(nt * per_thread);

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) {
    float* dyt = buffers.get() + t * per_thread;  // (O / L, P, L), blocks this thread needs
    float* xp = dyt + s.O * P;
    std::fill(xp, xp + padded, 0.0f);
    const int64_t first = count * t / nt, last = count * (t + 1) / nt;
    for (int64_t n = 0; n < s.N; ++n) {
      const float* x = image_for_kernels(xp, inp, n, s, p);
      for (int64_t o0 = items[first].o0; o0 <= items[last - 1].o0; o0 += L)
        k.rows_from_planes(dyt + o0 * P, dout + (n * s.O + o0) * P, P, P);
      for (int64_t i = first; i < last; ++i)
        k.weight_taps(dwt.get() + items[i].o0 * K, dyt + items[i].o0 * P, x, p, items[i].taps);
    }
  }
  for (int64_t o0 = 0; o0 < s.O; o0 += L)
    k.planes_from_rows(dweight + o0 * K, K, dwt.get() + o0 * K, K, nullptr);
}

}  // namespace ember::cpu
