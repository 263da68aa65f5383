#include "cpu/im2col.h"

#include <algorithm>

namespace ember::cpu {

namespace {

// Output columns j in [lo, hi) of one kernel column kw read the input column j*sw + offset,
// which is inside the image; the others read padding. Computing the range once per row turns
// the inner loop into a plain copy (a memcpy when sw == 1) with no bounds test per element.
struct ColumnRange {
  int64_t lo, hi, offset;
};

ColumnRange valid_columns(int64_t kw, const Conv2dShape& s) {
  const int64_t offset = kw * s.dw - s.pw;
  int64_t lo = offset >= 0 ? 0 : (-offset + s.sw - 1) / s.sw;
  int64_t hi = s.W - 1 - offset >= 0 ? (s.W - 1 - offset) / s.sw + 1 : 0;
  lo = std::min(lo, s.OW);
  hi = std::max(lo, std::min(hi, s.OW));
  return {lo, hi, offset};
}

}  // namespace

template <typename T>
void im2col(T* col, const T* img, const Conv2dShape& s) {
  for (int64_t c = 0; c < s.C; ++c) {
    for (int64_t kh = 0; kh < s.KH; ++kh) {
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        const ColumnRange r = valid_columns(kw, s);
        T* row = col + ((c * s.KH + kh) * s.KW + kw) * s.out_plane();
        for (int64_t i = 0; i < s.OH; ++i, row += s.OW) {
          const int64_t ih = i * s.sh - s.ph + kh * s.dh;
          if (ih < 0 || ih >= s.H) {
            std::fill(row, row + s.OW, T(0));
            continue;
          }
          const T* in_row = img + (c * s.H + ih) * s.W;
          std::fill(row, row + r.lo, T(0));
          if (s.sw == 1) {
            std::copy(in_row + r.lo + r.offset, in_row + r.hi + r.offset, row + r.lo);
          } else {
            for (int64_t j = r.lo; j < r.hi; ++j) row[j] = in_row[j * s.sw + r.offset];
          }
          std::fill(row + r.hi, row + s.OW, T(0));
        }
      }
    }
  }
}

template <typename T>
void col2im(T* img, const T* col, const Conv2dShape& s) {
  std::fill(img, img + s.C * s.H * s.W, T(0));
  for (int64_t c = 0; c < s.C; ++c) {
    for (int64_t kh = 0; kh < s.KH; ++kh) {
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        const ColumnRange r = valid_columns(kw, s);
        const T* row = col + ((c * s.KH + kh) * s.KW + kw) * s.out_plane();
        for (int64_t i = 0; i < s.OH; ++i, row += s.OW) {
          const int64_t ih = i * s.sh - s.ph + kh * s.dh;
          if (ih < 0 || ih >= s.H) continue;
          T* in_row = img + (c * s.H + ih) * s.W;
          if (s.sw == 1) {
            T* dst = in_row + r.lo + r.offset;
            const T* src = row + r.lo;
#pragma omp simd
            for (int64_t j = 0; j < r.hi - r.lo; ++j) dst[j] += src[j];
          } else {
            for (int64_t j = r.lo; j < r.hi; ++j) in_row[j * s.sw + r.offset] += row[j];
          }
        }
      }
    }
  }
}

#define EMBER_INSTANTIATE(T)                                   \
  template void im2col<T>(T*, const T*, const Conv2dShape&); \
  template void col2im<T>(T*, const T*, const Conv2dShape&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
