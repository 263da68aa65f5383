// AVX2 float32 path of 2x2, stride-2, unpadded max pooling (pool_avx2.cpp), for CPUs without
// AVX-512. Call only when ember::use_avx2() in a build that defines EMBER_HAVE_AVX2_PATH; the
// scalar loops in pool.cpp are the reference.
#pragma once

#include <cstdint>

namespace ember::cpu::avx2 {

// One plane: x is (H, W), y and indices are (OH, OW) with OH = H / 2, OW = W / 2 (a trailing
// odd row or column is never read). Same selection rule as the scalar kernel.
void max_pool2x2_plane(float* y, int64_t* indices, const float* x, int64_t W, int64_t OH,
                       int64_t OW);

}  // namespace ember::cpu::avx2
