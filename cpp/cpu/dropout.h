// Inverted dropout driven by the Philox stream of cpu/philox.h.
//
// Tensors are flat arrays of n elements. Element i is kept when its uniform u (stream position
// offset + i under `seed`) satisfies u >= p; kept elements are scaled by 1 / (1 - p):
//   out[i] = inp[i] * keep[i] / (1 - p)
// The mask is never stored: backward regenerates it from (seed, offset), and the result does not
// depend on the thread count. A caller that draws several masks from one seed advances `offset`
// by at least n per call so that the masks use disjoint parts of the stream.
//
// p is in [0, 1]: p == 0 is the identity, p == 1 gives inp * 0 (zeros for finite input, as in
// PyTorch). Callers validate p.
#pragma once

#include <cstdint>

namespace ember::cpu {

template <typename T>
void dropout_forward(T* out, const T* inp, int64_t n, double p, uint64_t seed, uint64_t offset);
// dinp = dout * keep / (1 - p) with the forward's mask: the forward map applied to dout.
template <typename T>
void dropout_backward(T* dinp, const T* dout, int64_t n, double p, uint64_t seed,
                      uint64_t offset);
// keep[i] = 1 where element i is kept, else 0 (T = float, double or uint8_t).
template <typename T>
void dropout_mask(T* keep, int64_t n, double p, uint64_t seed, uint64_t offset);

}  // namespace ember::cpu
