// 2-D max and average pooling, forward and backward, with PyTorch's semantics.
//
// x is (N, C, H, W), seen as N*C independent planes of H*W; y is (N, C, OH, OW) with the floor
// output size OH = (H + 2*ph - kh) / sh + 1. Window (i, j) covers input rows i*sh - ph ..
// i*sh - ph + kh - 1 and likewise columns.
//   max: padding acts as -inf, so the max is over the window's pixels inside the image (there is
//        always one, as padding <= kernel/2). indices hold, for each output, the flat index
//        ih*W + iw of the max within its input plane: scanning the window in row-major order,
//        a pixel replaces the best so far when it is larger or NaN, as in PyTorch (so the first
//        of equal maxima wins, and the last NaN).
//   avg: padding acts as 0; the divisor is the window size clipped to the padded input
//        (count_include_pad) or to the image (not count_include_pad).
//
// Conventions (as in llm.c): outputs first, then inputs, then the shape. Backward kernels WRITE
// dinp (every element), they do not accumulate.
#pragma once

#include <cstdint>

namespace ember::cpu {

struct Pool2dShape {
  int64_t planes;  // N * C
  int64_t H, W;
  int64_t kh, kw;
  int64_t sh, sw;
  int64_t ph, pw;
  int64_t OH, OW;  // fill with pool2d_output_size
};

// Floor output length along one axis, or a value <= 0 when the window does not fit.
int64_t pool2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad);

template <typename T>
void max_pool2d_forward(T* out, int64_t* indices, const T* inp, const Pool2dShape& s);

// Scatters dout to dinp at indices (in_plane = H*W entries per plane, out_plane per output
// plane). Returns how many indices fell outside [0, in_plane); those are skipped.
template <typename T>
int64_t max_pool2d_backward(T* dinp, const T* dout, const int64_t* indices, int64_t planes,
                            int64_t in_plane, int64_t out_plane);

template <typename T>
void avg_pool2d_forward(T* out, const T* inp, const Pool2dShape& s, bool count_include_pad);

template <typename T>
void avg_pool2d_backward(T* dinp, const T* dout, const Pool2dShape& s, bool count_include_pad);

}  // namespace ember::cpu
