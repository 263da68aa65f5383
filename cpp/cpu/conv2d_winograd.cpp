#include "cpu/conv2d_winograd.h"

#include <algorithm>

#include "cpu/conv2d_batch.h"
#include "cpu/gemm.h"
#include "cpu/runtime.h"

// Transformed tiles are stored as 16 planes, one per element xi = 4*i + j of the 4x4 tile:
//   filters  U[xi][o][c]      inputs  V[xi][c][tile]      products  M[xi][o][tile]
// so that plane xi of the product is the GEMM U[xi] @ V[xi]. The columns of one step hold a band
// of tile rows of one large image, or all the tiles of several small images side by side (image b
// of the step from column b * tiles), row-major over the tiles of each.
//
// The transform matrices of F(2x2, 3x3):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]    G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Backward: dinp is itself a 3x3 convolution (of dout with the filters flipped in space and
// transposed to (C, O)), and since y = A^T [(G g G^T) . V] A is linear in G g G^T, the filter
// gradient is G^T [sum over tiles of (A dy A^T) . V] G: 16 GEMMs dY~[xi] @ V[xi]^T.

namespace ember::cpu {

namespace {

constexpr int64_t kPlanes = 16;
// A step transforms and multiplies this many tiles (GEMM columns) or more: several small images
// together, so that the GEMMs keep a useful size...
constexpr int64_t kMinColumns = 256;
// ...or a band of tile rows of one large image, so that the transformed planes stay in cache and
// the scratch stays small.
constexpr int64_t kMaxColumns = 1024;
constexpr int64_t kPlaneSlack = 16;

// TH x TW tiles of 2x2 outputs per image. Tiles read a zero-padded copy of the image of
// (2*TH + 2) x (2*TW + 2), the image at (ph, pw): it covers H + 2*ph rows, and the last row of
// tiles reads one more zero row when OH is odd (likewise for columns).
struct Tiling {
  int64_t TH, TW, tiles, Hp;
  int64_t band;      // tile rows per step: TH, or fewer for a large image
  int64_t per_step;  // images per step: several when band == TH, else 1
  int64_t ld;        // columns of a transformed plane: per_step * band * TW
};

Tiling tiling_of(const Conv2dShape& s) {
  Tiling g{};
  g.TH = (s.OH + 1) / 2;
  g.TW = (s.OW + 1) / 2;
  g.tiles = g.TH * g.TW;
  g.Hp = 2 * g.TH + 2;
  if (g.tiles > kMaxColumns) {
    g.band = std::max<int64_t>(1, kMaxColumns / g.TW);
    g.per_step = 1;
  } else {
    g.band = g.TH;
    g.per_step = std::max<int64_t>(1, std::min(s.N, (kMinColumns + g.tiles - 1) / g.tiles));
  }
  g.ld = g.per_step * g.band * g.TW;
  return g;
}

// Per-thread scratch of the drivers: the split padded image (see pad_image), 16 planes of
// transformed inputs, 16 planes of products (or of transformed output gradients) and one row of
// tiles. Planes get one cache line of slack: planes a power of two apart would all map to the
// same cache sets, and the transforms write all 16 at once.
struct Workspace {
  int64_t xs, v_plane, m_plane, total;

  Workspace(const Tiling& g, int64_t C, int64_t O)
      : xs(2 * C * g.Hp * (g.TW + 1)),
        v_plane(C * g.ld + kPlaneSlack),
        m_plane(O * g.ld + kPlaneSlack),
        total(xs + kPlanes * (v_plane + m_plane) + 4 * g.TW) {}
};

// The padded image is stored with its even and odd columns apart:
//   xs[c][parity][row][k] = padded pixel (row, 2*k + parity),  k < TW + 1,
// so that the four columns of every tile, 2*tw .. 2*tw + 3, are element tw and tw + 1 of the even
// and odd rows and the transforms below run with unit stride across tiles (and vectorise).
template <typename T>
void pad_image(T* xs, const T* img, const Conv2dShape& s, const Tiling& g) {
  const int64_t half = g.TW + 1;
  for (int64_t c = 0; c < s.C; ++c) {
    for (int64_t i = 0; i < s.H; ++i) {
      const T* src = img + (c * s.H + i) * s.W;
      T* even = xs + (2 * c * g.Hp + s.ph + i) * half;
      T* odd = even + g.Hp * half;
      for (int64_t j = s.pw % 2; j < s.W; j += 2) even[(s.pw + j) / 2] = src[j];
      for (int64_t j = 1 - s.pw % 2; j < s.W; j += 2) odd[(s.pw + j) / 2] = src[j];
    }
  }
}

// V[xi][c][col0 + (th - th0) * TW + tw] = (B^T d B)[xi] for tile rows th0 <= th < th1, d the
// 4x4 input tile of channel c; planes are v_plane apart.
template <typename T>
void transform_input(T* V, int64_t v_plane, const T* xs, int64_t C, int64_t col0, int64_t th0,
                     int64_t th1, const Tiling& g) {
  const int64_t half = g.TW + 1;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t th = th0; th < th1; ++th) {
      const T* even = xs + (2 * c * g.Hp + 2 * th) * half;
      const T* odd = even + g.Hp * half;
      T* v = V + c * g.ld + col0 + (th - th0) * g.TW;
#pragma omp simd
      for (int64_t tw = 0; tw < g.TW; ++tw) {
        T db[4][4];  // d B, row by row
        for (int r = 0; r < 4; ++r) {
          const T d0 = even[r * half + tw], d1 = odd[r * half + tw];
          const T d2 = even[r * half + tw + 1], d3 = odd[r * half + tw + 1];
          db[r][0] = d0 - d2;
          db[r][1] = d1 + d2;
          db[r][2] = d2 - d1;
          db[r][3] = d1 - d3;
        }
        for (int j = 0; j < 4; ++j) {
          v[j * v_plane + tw] = db[0][j] - db[2][j];
          v[(4 + j) * v_plane + tw] = db[1][j] + db[2][j];
          v[(8 + j) * v_plane + tw] = db[2][j] - db[1][j];
          v[(12 + j) * v_plane + tw] = db[1][j] - db[3][j];
        }
      }
    }
  }
}

// U[xi][o][c] = (G g G^T)[xi], g = weight[o, c] (3x3).
template <typename T>
void transform_filters(T* U, const T* weight, int64_t O, int64_t C) {
  const T half = T(0.5);
  const int64_t plane = O * C;
#pragma omp parallel for num_threads(threads_for(O * C * 64)) schedule(static)
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t c = 0; c < C; ++c) {
      const T* w = weight + (o * C + c) * 9;
      T gw[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        gw[0][j] = w[j];
        gw[1][j] = half * (w[j] + w[3 + j] + w[6 + j]);
        gw[2][j] = half * (w[j] - w[3 + j] + w[6 + j]);
        gw[3][j] = w[6 + j];
      }
      T* u = U + o * C + c;
      for (int i = 0; i < 4; ++i) {
        u[(4 * i + 0) * plane] = gw[i][0];
        u[(4 * i + 1) * plane] = half * (gw[i][0] + gw[i][1] + gw[i][2]);
        u[(4 * i + 2) * plane] = half * (gw[i][0] - gw[i][1] + gw[i][2]);
        u[(4 * i + 3) * plane] = gw[i][2];
      }
    }
  }
}

// y[o, 2*th + i, 2*tw + j] = (A^T m A)[i][j] + bias[o], for tile rows th0 <= th < th1 and the
// outputs inside (OH, OW). q (4 * TW) holds one row of tiles as q[(2*i + j) * TW + tw] before it
// is interleaved into y.
template <typename T>
void transform_output(T* y, const T* M, int64_t m_plane, const T* bias, int64_t O, int64_t OH,
                      int64_t OW, int64_t col0, int64_t th0, int64_t th1, const Tiling& g, T* q) {
  const int64_t TW = g.TW;
  for (int64_t o = 0; o < O; ++o) {
    const T b = bias ? bias[o] : T(0);
    for (int64_t th = th0; th < th1; ++th) {
      const T* m = M + o * g.ld + col0 + (th - th0) * TW;
#pragma omp simd
      for (int64_t tw = 0; tw < TW; ++tw) {
        T am[2][4];  // A^T m
        for (int j = 0; j < 4; ++j) {
          const T m0 = m[j * m_plane + tw], m1 = m[(4 + j) * m_plane + tw];
          const T m2 = m[(8 + j) * m_plane + tw], m3 = m[(12 + j) * m_plane + tw];
          am[0][j] = m0 + m1 + m2;
          am[1][j] = m1 - m2 - m3;
        }
        for (int i = 0; i < 2; ++i) {
          q[2 * i * TW + tw] = am[i][0] + am[i][1] + am[i][2] + b;
          q[(2 * i + 1) * TW + tw] = am[i][1] - am[i][2] - am[i][3] + b;
        }
      }
      for (int64_t i = 0; i < 2 && 2 * th + i < OH; ++i) {
        T* row = y + (o * OH + 2 * th + i) * OW;
        const T* even = q + 2 * i * TW;
        const T* odd = even + TW;
        for (int64_t tw = 0; tw < OW / 2; ++tw) {
          row[2 * tw] = even[tw];
          row[2 * tw + 1] = odd[tw];
        }
        if (OW % 2) row[OW - 1] = even[OW / 2];
      }
    }
  }
}

// D[xi][o][col0 + (th - th0) * TW + tw] = (A e A^T)[xi] for tile rows th0 <= th < th1, e the
// 2x2 tile of dy[o] (zero outside (OH, OW)). q (4 * TW) holds one row of tiles as
// q[(2*i + j) * TW + tw] = e of tile tw.
template <typename T>
void transform_dout(T* D, int64_t d_plane, const T* dy, int64_t O, int64_t OH, int64_t OW,
                    int64_t col0, int64_t th0, int64_t th1, const Tiling& g, T* q) {
  const int64_t TW = g.TW;
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t th = th0; th < th1; ++th) {
      for (int64_t i = 0; i < 2; ++i) {
        T* even = q + 2 * i * TW;
        T* odd = even + TW;
        std::fill(even, even + 2 * TW, T(0));
        if (2 * th + i >= OH) continue;
        const T* row = dy + (o * OH + 2 * th + i) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) (ow & 1 ? odd : even)[ow >> 1] = row[ow];
      }
      T* d = D + o * g.ld + col0 + (th - th0) * TW;
#pragma omp simd
      for (int64_t tw = 0; tw < TW; ++tw) {
        const T e00 = q[tw], e01 = q[TW + tw], e10 = q[2 * TW + tw], e11 = q[3 * TW + tw];
        const T ae[4][2] = {
            {e00, e01}, {e00 + e10, e01 + e11}, {e00 - e10, e01 - e11}, {-e10, -e11}};
        for (int i = 0; i < 4; ++i) {
          d[4 * i * d_plane + tw] = ae[i][0];
          d[(4 * i + 1) * d_plane + tw] = ae[i][0] + ae[i][1];
          d[(4 * i + 2) * d_plane + tw] = ae[i][0] - ae[i][1];
          d[(4 * i + 3) * d_plane + tw] = -ae[i][1];
        }
      }
    }
  }
}

// dweight[o, c] = G^T S G, S[xi][o][c] the gradient of the transformed filter.
template <typename T>
void filter_gradient(T* dweight, const T* S, int64_t O, int64_t C) {
  const T half = T(0.5);
  const int64_t plane = O * C;
#pragma omp parallel for num_threads(threads_for(O * C * 64)) schedule(static)
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t c = 0; c < C; ++c) {
      const T* s = S + o * C + c;
      T gs[3][4];  // G^T S
      for (int j = 0; j < 4; ++j) {
        const T s0 = s[j * plane], s1 = s[(4 + j) * plane], s2 = s[(8 + j) * plane],
                s3 = s[(12 + j) * plane];
        gs[0][j] = s0 + half * (s1 + s2);
        gs[1][j] = half * (s1 - s2);
        gs[2][j] = half * (s1 + s2) + s3;
      }
      T* w = dweight + (o * C + c) * 9;
      for (int i = 0; i < 3; ++i) {
        w[3 * i + 0] = gs[i][0] + half * (gs[i][1] + gs[i][2]);
        w[3 * i + 1] = half * (gs[i][1] - gs[i][2]);
        w[3 * i + 2] = half * (gs[i][1] + gs[i][2]) + gs[i][3];
      }
    }
  }
}

}  // namespace

bool winograd_applies(const Conv2dShape& s) {
  return s.KH == 3 && s.KW == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 &&
         s.groups == 1 && s.ph <= 2 && s.pw <= 2 && s.C >= 16 && s.O >= 16;
}

template <typename T>
void winograd_conv2d_forward(T* out, const T* inp, const T* weight, const T* bias,
                             const Conv2dShape& s) {
  if (s.N == 0) return;
  const Tiling g = tiling_of(s);
  const int64_t C = s.C, O = s.O, image = C * s.H * s.W, out_image = O * s.OH * s.OW;
  const auto U = conv_batch::scratch<T>(kPlanes * O * C);
  transform_filters(U.get(), weight, O, C);

  const int nt = conv_batch::threads(s.N, kPlanes * s.N * g.tiles * O * C);
  const Workspace ws(g, C, O);
  const auto buffers = conv_batch::scratch<T>(nt * ws.total);

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) {
    T* xs = buffers.get() + t * ws.total;
    T* V = xs + ws.xs;
    T* M = V + kPlanes * ws.v_plane;
    T* q = M + kPlanes * ws.m_plane;
    std::fill(xs, xs + ws.xs, T(0));
    const int64_t end = conv_batch::chunk_begin(s.N, t + 1, nt);
    for (int64_t n0 = conv_batch::chunk_begin(s.N, t, nt); n0 < end; n0 += g.per_step) {
      const int64_t count = std::min(g.per_step, end - n0);
      for (int64_t th0 = 0; th0 < g.TH; th0 += g.band) {
        const int64_t th1 = std::min(g.TH, th0 + g.band), cols = (th1 - th0) * g.TW;
        for (int64_t b = 0; b < count; ++b) {
          if (th0 == 0) pad_image(xs, inp + (n0 + b) * image, s, g);
          transform_input(V, ws.v_plane, xs, C, b * cols, th0, th1, g);
        }
        for (int64_t xi = 0; xi < kPlanes; ++xi)
          gemm<T>(false, false, O, count * cols, C, T(1), U.get() + xi * O * C, C,
                  V + xi * ws.v_plane, g.ld, T(0), M + xi * ws.m_plane, g.ld);
        for (int64_t b = 0; b < count; ++b)
          transform_output(out + (n0 + b) * out_image, M, ws.m_plane, bias, O, s.OH, s.OW,
                           b * cols, th0, th1, g, q);
      }
    }
  }
}

template <typename T>
void winograd_conv2d_backward_input(T* dinp, const T* dout, const T* weight,
                                    const Conv2dShape& s) {
  // dinp = conv2d(dout, flipped, padding 2 - p), flipped[c, o, kh, kw] = weight[o, c, 2-kh, 2-kw].
  const auto flipped = conv_batch::scratch<T>(s.C * s.O * 9);
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t k = 0; k < 9; ++k)
        flipped[(c * s.O + o) * 9 + 8 - k] = weight[(o * s.C + c) * 9 + k];
  Conv2dShape t = s;
  t.C = s.O;
  t.H = s.OH;
  t.W = s.OW;
  t.O = s.C;
  t.ph = 2 - s.ph;
  t.pw = 2 - s.pw;
  t.OH = s.H;
  t.OW = s.W;
  winograd_conv2d_forward<T>(dinp, dout, flipped.get(), nullptr, t);
}

template <typename T>
void winograd_conv2d_backward_weight(T* dweight, const T* dout, const T* inp,
                                     const Conv2dShape& s) {
  if (s.N == 0) {
    std::fill(dweight, dweight + s.O * s.C * 9, T(0));
    return;
  }
  const Tiling g = tiling_of(s);
  const int64_t C = s.C, O = s.O, image = C * s.H * s.W, out_image = O * s.OH * s.OW;
  const int nt = conv_batch::threads(s.N, kPlanes * s.N * g.tiles * O * C);
  const int64_t s_size = kPlanes * O * C;
  const auto partials = conv_batch::scratch<T>(nt * s_size);
  const Workspace ws(g, C, O);
  const auto buffers = conv_batch::scratch<T>(nt * ws.total);

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) {
    T* xs = buffers.get() + t * ws.total;
    T* V = xs + ws.xs;
    T* D = V + kPlanes * ws.v_plane;
    T* q = D + kPlanes * ws.m_plane;
    T* S = partials.get() + t * s_size;
    std::fill(xs, xs + ws.xs, T(0));
    const int64_t begin = conv_batch::chunk_begin(s.N, t, nt);
    const int64_t end = conv_batch::chunk_begin(s.N, t + 1, nt);
    for (int64_t n0 = begin; n0 < end; n0 += g.per_step) {
      const int64_t count = std::min(g.per_step, end - n0);
      for (int64_t th0 = 0; th0 < g.TH; th0 += g.band) {
        const int64_t th1 = std::min(g.TH, th0 + g.band), cols = (th1 - th0) * g.TW;
        for (int64_t b = 0; b < count; ++b) {
          if (th0 == 0) pad_image(xs, inp + (n0 + b) * image, s, g);
          transform_input(V, ws.v_plane, xs, C, b * cols, th0, th1, g);
          transform_dout(D, ws.m_plane, dout + (n0 + b) * out_image, O, s.OH, s.OW, b * cols,
                         th0, th1, g, q);
        }
        const T beta = n0 == begin && th0 == 0 ? T(0) : T(1);
        for (int64_t xi = 0; xi < kPlanes; ++xi)
          gemm<T>(false, true, O, C, count * cols, T(1), D + xi * ws.m_plane, g.ld,
                  V + xi * ws.v_plane, g.ld, beta, S + xi * O * C, C);
      }
    }
  }
  conv_batch::add_partials(partials.get(), partials.get() + s_size, nt - 1, s_size);
  filter_gradient(dweight, partials.get(), O, C);
}

#define EMBER_INSTANTIATE(T)                                                                  \
  template void winograd_conv2d_forward<T>(T*, const T*, const T*, const T*,                \
                                           const Conv2dShape&);                             \
  template void winograd_conv2d_backward_input<T>(T*, const T*, const T*, const Conv2dShape&); \
  template void winograd_conv2d_backward_weight<T>(T*, const T*, const T*, const Conv2dShape&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
