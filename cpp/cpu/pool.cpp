#include "cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/pool_avx2.h"
#include "cpu/pool_avx512.h"
#include "cpu/runtime.h"

// Every kernel runs in parallel over the N*C planes: a plane's outputs, and in backward its whole
// input gradient, are written by one thread, so overlapping windows never race.

namespace ember::cpu {

int64_t pool2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  const int64_t span = in + 2 * pad - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

namespace {

// The part of window (i, j) inside the image: rows [h0, h1), columns [w0, w1); and the number of
// window positions inside the padded input, the count_include_pad divisor.
struct Window {
  int64_t h0, h1, w0, w1, padded_count;

  Window(int64_t i, int64_t j, const Pool2dShape& s) {
    const int64_t hs = i * s.sh - s.ph, ws = j * s.sw - s.pw;
    const int64_t he = std::min(hs + s.kh, s.H + s.ph), we = std::min(ws + s.kw, s.W + s.pw);
    padded_count = (he - hs) * (we - ws);
    h0 = std::max<int64_t>(hs, 0);
    w0 = std::max<int64_t>(ws, 0);
    h1 = std::min(he, s.H);
    w1 = std::min(we, s.W);
  }
  int64_t divisor(bool count_include_pad) const {
    return count_include_pad ? padded_count : (h1 - h0) * (w1 - w0);
  }
};

int64_t window_work(const Pool2dShape& s) { return s.planes * s.OH * s.OW * s.kh * s.kw; }

}  // namespace

namespace {

// The reference for every window shape: one plane, windows clipped to the image.
template <typename T>
void max_pool_plane(T* y, int64_t* idx, const T* x, const Pool2dShape& s) {
  for (int64_t i = 0; i < s.OH; ++i) {
    for (int64_t j = 0; j < s.OW; ++j) {
      const Window win(i, j, s);
      T best = -std::numeric_limits<T>::infinity();
      int64_t best_at = win.h0 * s.W + win.w0;
      for (int64_t ih = win.h0; ih < win.h1; ++ih) {
        for (int64_t iw = win.w0; iw < win.w1; ++iw) {
          const T v = x[ih * s.W + iw];
          if (v > best || std::isnan(v)) {
            best = v;
            best_at = ih * s.W + iw;
          }
        }
      }
      y[i * s.OW + j] = best;
      idx[i * s.OW + j] = best_at;
    }
  }
}

// K x K windows with stride K and no padding tile the image: every window lies inside it, so
// the scan needs no clipping and, with K fixed, unrolls fully. Starting from the first pixel
// instead of -inf picks the same element: a first pixel of -inf is kept by the reference too
// unless something larger or NaN follows.
template <int K, typename T>
void max_pool_plane_tiled(T* y, int64_t* idx, const T* x, int64_t W, int64_t OH, int64_t OW) {
  for (int64_t i = 0; i < OH; ++i) {
    const T* row = x + i * K * W;
    T* y_row = y + i * OW;
    int64_t* idx_row = idx + i * OW;
    const int64_t row_start = i * K * W;
    for (int64_t j = 0; j < OW; ++j) {
      T best = row[j * K];
      int64_t at = 0;
      for (int q = 1; q < K * K; ++q) {  // pixel (q / K, q % K) of the window
        const int64_t offset = (q / K) * W + q % K;
        const T v = row[j * K + offset];
        const bool take = (v > best) | (v != v);
        best = take ? v : best;
        at = take ? offset : at;
      }
      y_row[j] = best;
      idx_row[j] = row_start + j * K + at;
    }
  }
}

// Square tiling windows of this size have an unrolled path; 0 when s has none.
int tiled_window(const Pool2dShape& s) {
  const bool tiled = s.kh == s.kw && s.sh == s.kh && s.sw == s.kw && s.ph == 0 && s.pw == 0;
  return tiled && (s.kh == 2 || s.kh == 3) ? static_cast<int>(s.kh) : 0;
}

}  // namespace

template <typename T>
void max_pool2d_forward(T* out, int64_t* indices, const T* inp, const Pool2dShape& s) {
  const int tile = tiled_window(s);
  // 2x2 float windows take the widest vector path: 16 (AVX-512) or 8 (AVX2) outputs per step.
  [[maybe_unused]] bool wide = false, avx2_wide = false;
  [[maybe_unused]] const bool vector_candidate = std::is_same_v<T, float> && tile == 2;
#ifdef EMBER_HAVE_AVX512_PATH
  wide = vector_candidate && use_avx512();
#endif
#ifdef EMBER_HAVE_AVX2_PATH
  avx2_wide = vector_candidate && !wide && use_avx2();
#endif
  // A SIMD path handles 8 or 16 windows in a few dozen instructions: counting its work like the
  // scalar loop's would wake a second thread for layers that one finishes in microseconds.
  const int64_t work = wide ? window_work(s) / 16 : avx2_wide ? window_work(s) / 8 : window_work(s);
#pragma omp parallel for num_threads(threads_for(work)) schedule(static)
  for (int64_t plane = 0; plane < s.planes; ++plane) {
    const T* x = inp + plane * s.H * s.W;
    T* y = out + plane * s.OH * s.OW;
    int64_t* idx = indices + plane * s.OH * s.OW;
#ifdef EMBER_HAVE_AVX512_PATH
    if constexpr (std::is_same_v<T, float>) {
      if (wide) {
        avx512::max_pool2x2_plane(y, idx, x, s.W, s.OH, s.OW);
        continue;
      }
    }
#endif
#ifdef EMBER_HAVE_AVX2_PATH
    if constexpr (std::is_same_v<T, float>) {
      if (avx2_wide) {
        avx2::max_pool2x2_plane(y, idx, x, s.W, s.OH, s.OW);
        continue;
      }
    }
#endif
    if (tile == 2)
      max_pool_plane_tiled<2>(y, idx, x, s.W, s.OH, s.OW);
    else if (tile == 3)
      max_pool_plane_tiled<3>(y, idx, x, s.W, s.OH, s.OW);
    else
      max_pool_plane(y, idx, x, s);
  }
}

template <typename T>
int64_t max_pool2d_backward(T* dinp, const T* dout, const int64_t* indices, int64_t planes,
                            int64_t in_plane, int64_t out_plane) {
  int64_t out_of_range = 0;
#pragma omp parallel for num_threads(threads_for(planes * (in_plane + out_plane))) \
    schedule(static) reduction(+ : out_of_range)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* dx = dinp + plane * in_plane;
    const T* dy = dout + plane * out_plane;
    const int64_t* idx = indices + plane * out_plane;
    std::fill(dx, dx + in_plane, T(0));
    for (int64_t k = 0; k < out_plane; ++k) {
      if (idx[k] < 0 || idx[k] >= in_plane) {
        ++out_of_range;
        continue;
      }
      dx[idx[k]] += dy[k];
    }
  }
  return out_of_range;
}

template <typename T>
void avg_pool2d_forward(T* out, const T* inp, const Pool2dShape& s, bool count_include_pad) {
#pragma omp parallel for num_threads(threads_for(window_work(s))) schedule(static)
  for (int64_t plane = 0; plane < s.planes; ++plane) {
    const T* x = inp + plane * s.H * s.W;
    T* y = out + plane * s.OH * s.OW;
    for (int64_t i = 0; i < s.OH; ++i) {
      for (int64_t j = 0; j < s.OW; ++j) {
        const Window win(i, j, s);
        double sum = 0;
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += x[ih * s.W + iw];
        y[i * s.OW + j] = static_cast<T>(sum / static_cast<double>(win.divisor(count_include_pad)));
      }
    }
  }
}

template <typename T>
void avg_pool2d_backward(T* dinp, const T* dout, const Pool2dShape& s, bool count_include_pad) {
#pragma omp parallel for num_threads(threads_for(window_work(s))) schedule(static)
  for (int64_t plane = 0; plane < s.planes; ++plane) {
    T* dx = dinp + plane * s.H * s.W;
    const T* dy = dout + plane * s.OH * s.OW;
    std::fill(dx, dx + s.H * s.W, T(0));
    for (int64_t i = 0; i < s.OH; ++i) {
      for (int64_t j = 0; j < s.OW; ++j) {
        const Window win(i, j, s);
        const T g = dy[i * s.OW + j] / static_cast<T>(win.divisor(count_include_pad));
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) dx[ih * s.W + iw] += g;
      }
    }
  }
}

#define EMBER_INSTANTIATE(T)                                                                    \
  template void max_pool2d_forward<T>(T*, int64_t*, const T*, const Pool2dShape&);              \
  template int64_t max_pool2d_backward<T>(T*, const T*, const int64_t*, int64_t, int64_t,       \
                                          int64_t);                                             \
  template void avg_pool2d_forward<T>(T*, const T*, const Pool2dShape&, bool);                  \
  template void avg_pool2d_backward<T>(T*, const T*, const Pool2dShape&, bool);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
