// AVX-512F float32 path of 2x2, stride-2, unpadded max pooling (pool_avx512.cpp). Call only when
// ember::use_avx512() in a build that defines EMBER_HAVE_AVX512_PATH; the
// scalar loops in pool.cpp are the reference.
#pragma once

#include <cstdint>

namespace ember::cpu::avx512 {

// One plane: x is (H, W), y and indices are (OH, OW) with OH = H / 2, OW = W / 2 (a trailing
// odd row or column is never read). Same selection rule as the scalar kernel.
void max_pool2x2_plane(float* y, int64_t* indices, const float* x, int64_t W, int64_t OH,
                       int64_t OW);

}  // namespace ember::cpu::avx512
