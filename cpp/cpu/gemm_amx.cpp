// float32 GEMM on AMX tiles by the bf16x3 split (what and why: gemm_amx.h). Compiled with
// -mamx-tile -mamx-bf16 -mavx512bf16 -mavx512bw; called only when active_simd() is Amx, which
// runtime.cpp grants after checking CPUID and asking Linux for the tile state.
//
// Design:
//  * Register blocking: of AMX's eight 1 KiB tile registers, four hold a 16 x 64 block of C
//    (four 16 x 16 float32 tiles), three the pieces (hi, mid, lo) of 16 rows x 32 k of A, and one
//    a piece of 32 k x 16 columns of B in turn. Per 32 k that is 3 + 12 tile loads for 24 tile
//    products: 0.6 KiB loaded per product, against 1 KiB for the 2 x 2 blocking of a plain bf16
//    GEMM with the pieces laid out along k. On one core of this VM a product takes 15 cycles
//    (the unit's peak) with its operands in L1, ~17-20 streaming B from L2.
//  * Cache blocking: B is packed KC x NC (512 x 384 at 6 bytes per element: 1.2 MiB, in L2);
//    A one 16-row panel at a time (16 x 512: 48 KiB). C stays in tiles for a whole K block; long
//    K blocks load and store C, and pack A, fewer times: against KC = 256 / NC = 768, 1024^3 ran
//    8% faster and 2048^3 15%. (Storing the four C tiles after as few as 48 products costs ~1%.)
//  * Packing: a 16 x 32 block of op(A) or 32 x 16 of op(B) is split with integer rounding (no
//    shuffles: the vector ports are the packing's bottleneck) and stored as tiles want it: A rows
//    along k, B as pairs of k (VNNI) along n. Operands stored the other way round go through
//    16 x 16 in-register transposes first; orient() computes C^T = op(B)^T op(A)^T instead when
//    that transposes fewer values.
//  * Range: the split is exact only for values in range (gemm_amx.h); each value is checked as
//    it is split, in the same registers, rather than in a pass of its own over the operands
//    (which cost 2-6% of a product, up to ~0.14 ms for a 1024 x 1024 operand from memory).
//    gemm_block reports what it saw and the driver redoes an out-of-range product elsewhere.
//  * Edges: A rows and B columns past the matrix, and k past K, are packed as zeros; C tiles that
//    overhang M or N (or all of a transposed C) go through a local block, and a last block
//    narrower than 64 columns runs only the column tiles it needs (N = 784 ends with 16).
#include "cpu/gemm_amx.h"

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace ember::cpu::gemm_amx {

namespace {

constexpr int kChunk = 32;                        // k per tile row: 32 bf16, 64 bytes
constexpr int kTileWords = 16 * kChunk;           // bf16 values in one tile
constexpr int kPanelChunkWords = 3 * kTileWords;  // one 32-k chunk of an A panel: 3 pieces
constexpr int kColumnTiles = kCols / 16;
constexpr int kBChunkWords = kColumnTiles * 3 * kTileWords;  // one chunk of a 64-column B panel
constexpr int64_t kKc = 512, kNc = 384, kMc = 256;
constexpr int64_t kBBlockBytes = int64_t(5) << 18;  // 1.25 MiB of L2's 2

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// The tile configuration: palette 1, eight tiles of 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// Configures the tiles for this thread's block and hands the tile state back after it: a thread
// holding tile state makes every context switch save and restore 8 KiB more.
class TileScope {
 public:
  TileScope() {
    TileConfig config;
    for (int t = 0; t < 8; ++t) {
      config.bytes_per_row[t] = 64;
      config.rows[t] = 16;
    }
    _tile_loadconfig(&config);
  }
  ~TileScope() { _tile_release(); }
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;
};

// Per-thread packing buffers that only grow.
class Buffer {
 public:
  uint16_t* get(size_t words) {
    if (words > size_) {
      data_.reset(static_cast<uint16_t*>(::operator new(words * 2, std::align_val_t(64))));
      size_ = words;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(uint16_t* p) const { ::operator delete(p, std::align_val_t(64)); }
  };
  std::unique_ptr<uint16_t, Free> data_;
  size_t size_ = 0;
};

// x rounded to its 8 leading significant bits (half away from zero), as a float: a bfloat16 value.
// Its low 16 bits are zero, so the conversion to bfloat16 below is exact.
inline __m512 lead8(__m512 x) {
  const __m512i bits = _mm512_add_epi32(_mm512_castps_si512(x), _mm512_set1_epi32(0x8000));
  return _mm512_castsi512_ps(_mm512_and_si512(bits, _mm512_set1_epi32(-65536)));
}

// x = hi + mid + lo exactly, each with at most 8 significant bits: hi is within half an ulp of x
// at 8 bits, so x - hi is exact (and has at most 16 bits), and likewise for mid.
struct Pieces {
  __m512 hi, mid, lo;
};
inline Pieces split(__m512 x) {
  const __m512 hi = lead8(x);
  const __m512 r = _mm512_sub_ps(x, hi);
  const __m512 mid = lead8(r);
  return {hi, mid, _mm512_sub_ps(r, mid)};
}

// Whether every value seen is 0 or has magnitude in [2^-103, 2^127), where the split is exact:
// a biased exponent in 24 .. 253, so on the bits of |x| at least kLow = 24 << 23 and below
// kHigh = 254 << 23. The smallest |x| - 1 (zero wraps to the largest, and passes) and the
// largest |x| are kept: min and max, not compares into masks, which all queue on one port.
class Range {
 public:
  void add(__m512 x) {
    const __m512i a = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF));
    low_ = _mm512_min_epu32(low_, _mm512_sub_epi32(a, _mm512_set1_epi32(1)));
    high_ = _mm512_max_epu32(high_, a);
  }
  bool exact() const {
    constexpr uint32_t kLow = 24u << 23, kHigh = 254u << 23;
    return _mm512_reduce_min_epu32(low_) >= kLow - 1 && _mm512_reduce_max_epu32(high_) < kHigh;
  }

 private:
  __m512i low_ = _mm512_set1_epi32(-1), high_ = _mm512_setzero_si512();
};

// 32 bfloat16 from two vectors of bfloat16-exact floats: low's 16, then high's.
inline __m512i bf16_words(__m512 low, __m512 high) {
  return (__m512i)_mm512_cvtne2ps_pbh(high, low);
}

// Pairs (even[c], odd[c]) of bfloat16-exact floats as 32-bit lanes, even in the low half.
inline __m512i bf16_pairs(__m512 even, __m512 odd) {
  const __m512i low = _mm512_srli_epi32(_mm512_castps_si512(even), 16);
  return _mm512_or_si512(low, _mm512_castps_si512(odd));  // odd's low 16 bits are zero
}

inline __mmask16 first(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << std::max<int64_t>(n, 0)) - 1);
}

// The 16 lanes of `x` for lanes < n, zero for the rest (and for n <= 0).
inline __m512 load_first(const float* x, int64_t n) {
  return n > 0 ? _mm512_maskz_loadu_ps(first(n), x) : _mm512_setzero_ps();
}

// r[i][j] <- r[j][i] for a 16 x 16 block of floats.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m512 u[16];  // u[4g + j], 128-bit lane L: rows 4g..4g+3 of column 4L + j
  for (int g = 0; g < 4; ++g) {
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 x0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x44);
    const __m512 x1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xEE);
    const __m512 y0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x44);
    const __m512 y1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xEE);
    r[j] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    r[4 + j] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
    r[8 + j] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
  }
}

// Row r of a chunk's hi, mid and lo tiles from two vectors of values, which go into `range`
// first. `join` lays them out as the tiles want: bf16_words for an A row (32 values along k),
// bf16_pairs for a B row (the values at k = 2r and 2r + 1 of 16 columns).
template <__m512i (*join)(__m512, __m512)>
inline void store_row(uint16_t* dst, int r, __m512 first, __m512 second, Range& range) {
  range.add(first);
  range.add(second);
  const Pieces x = split(first), y = split(second);
  _mm512_store_si512(dst + r * kChunk, join(x.hi, y.hi));
  _mm512_store_si512(dst + kTileWords + r * kChunk, join(x.mid, y.mid));
  _mm512_store_si512(dst + 2 * kTileWords + r * kChunk, join(x.lo, y.lo));
}

// 32 x 16 values src[j * ld + i] (j < 32 rows, i < 16 columns; zero past `rows` and `cols`)
// transposed: k_low[i] and k_high[i] hold column i's first 16 and last 16 values.
inline void load_transposed_32x16(const float* src, int64_t ld, int64_t rows, int64_t cols,
                                  __m512 k_low[16], __m512 k_high[16]) {
  for (int j = 0; j < 16; ++j) {
    k_low[j] = j < rows ? load_first(src + j * ld, cols) : _mm512_setzero_ps();
    k_high[j] = j + 16 < rows ? load_first(src + (j + 16) * ld, cols) : _mm512_setzero_ps();
  }
  transpose16(k_low);
  transpose16(k_high);
}

// One 32-k chunk of a 16-row A panel: op(A)[i0 + r, k0 + k] for r < rows, k < ks (zeros past
// them), as the hi, mid and lo tiles, each row 32 consecutive k; the values go into `range`.
void pack_a_chunk(uint16_t* dst, const GemmProblem<float>& p, int64_t i0, int64_t rows,
                  int64_t k0, int64_t ks, Range& range) {
  if (!p.trans_a) {
    for (int r = 0; r < 16; ++r) {
      const float* row = p.A + (i0 + r) * p.lda + k0;
      const bool in = r < rows;
      const __m512 k_low = in ? load_first(row, ks) : _mm512_setzero_ps();
      const __m512 k_high = in ? load_first(row + 16, ks - 16) : _mm512_setzero_ps();
      store_row<bf16_words>(dst, r, k_low, k_high, range);
    }
    return;
  }
  // op(A)(i, k) = A[k * lda + i]: 32 rows of A along k, 16 columns along i, transposed.
  __m512 k_low[16], k_high[16];
  load_transposed_32x16(p.A + k0 * p.lda + i0, p.lda, ks, rows, k_low, k_high);
  for (int r = 0; r < 16; ++r) store_row<bf16_words>(dst, r, k_low[r], k_high[r], range);
}

// One 32-k chunk of 16 columns of op(B): op(B)[k0 + k, j0 + c] for k < ks, c < cols (zeros past
// them), as the hi, mid and lo tiles, each row the pairs (k, k + 1) of the 16 columns; the
// values go into `range`.
void pack_b_chunk(uint16_t* dst, const GemmProblem<float>& p, int64_t k0, int64_t ks, int64_t j0,
                  int64_t cols, Range& range) {
  if (!p.trans_b) {
    for (int r = 0; r < 16; ++r) {
      const float* even = p.B + (k0 + 2 * r) * p.ldb + j0;
      const __m512 k_even = 2 * r < ks ? load_first(even, cols) : _mm512_setzero_ps();
      const __m512 k_odd = 2 * r + 1 < ks ? load_first(even + p.ldb, cols) : _mm512_setzero_ps();
      store_row<bf16_pairs>(dst, r, k_even, k_odd, range);
    }
    return;
  }
  // op(B)(k, j) = B[j * ldb + k]: 16 rows of B along j, 32 columns along k, transposed; the
  // transpose's row i then holds k = i (low) and k = 16 + i (high).
  __m512 k_low[16], k_high[16];
  for (int c = 0; c < 16; ++c) {
    const float* col = p.B + (j0 + c) * p.ldb + k0;
    const bool in = c < cols;
    k_low[c] = in ? load_first(col, ks) : _mm512_setzero_ps();
    k_high[c] = in ? load_first(col + 16, ks - 16) : _mm512_setzero_ps();
  }
  transpose16(k_low);
  transpose16(k_high);
  for (int r = 0; r < 8; ++r) {
    store_row<bf16_pairs>(dst, r, k_low[2 * r], k_low[2 * r + 1], range);
    store_row<bf16_pairs>(dst, 8 + r, k_high[2 * r], k_high[2 * r + 1], range);
  }
}

// The 16-row panels of op(A) rows i0 .. i1 over k0 .. k0 + kc, each panel_words long. Chunk by
// chunk across the panels, so that a transposed A (stored K x M) is read along its rows, a few
// hundred bytes of each at a time, not 64 bytes from each of kc rows a page apart per panel.
void pack_a(uint16_t* dst, const GemmProblem<float>& p, int64_t i0, int64_t i1, int64_t k0,
            int64_t kc, int64_t panel_words, Range& range) {
  for (int64_t k = 0; k < kc; k += kChunk, dst += kPanelChunkWords)
    for (int64_t i = i0; i < i1; i += kRows)
      pack_a_chunk(dst + (i - i0) / kRows * panel_words, p, i, std::min<int64_t>(kRows, i1 - i),
                   k0 + k, std::min<int64_t>(kChunk, kc - k), range);
}

// One 64-column panel of op(B) over k0 .. k0 + kc: per chunk, per 16 columns.
void pack_b(uint16_t* dst, const GemmProblem<float>& p, int64_t k0, int64_t kc, int64_t j0,
            int64_t cols, Range& range) {
  for (int64_t k = 0; k < kc; k += kChunk, dst += kBChunkWords)
    for (int t = 0; t < kColumnTiles && 16 * t < cols; ++t)  // the kernel skips tiles past C
      pack_b_chunk(dst + t * 3 * kTileWords, p, k0 + k, std::min<int64_t>(kChunk, kc - k),
                   j0 + 16 * t, cols - 16 * t, range);
}

// Tiles 0-3: C; 4, 5, 6: A's hi, mid, lo; 7: one piece of B. Six products per column tile.
#define EMBER_AMX_COLUMN(c)                 \
  if constexpr (c < kTiles) {               \
    _tile_loadd(7, b, 64);                  \
    _tile_dpbf16ps(c, 4, 7);                \
    _tile_dpbf16ps(c, 5, 7);                \
    _tile_dpbf16ps(c, 6, 7);                \
    _tile_loadd(7, b + kTileWords, 64);     \
    _tile_dpbf16ps(c, 4, 7);                \
    _tile_dpbf16ps(c, 5, 7);                \
    _tile_loadd(7, b + 2 * kTileWords, 64); \
    _tile_dpbf16ps(c, 4, 7);                \
    b += 3 * kTileWords;                    \
  }
#define EMBER_AMX_C_TILES(op)                                \
  op(0, c);                                                  \
  if constexpr (kTiles > 1) op(1, c + 16);                   \
  if constexpr (kTiles > 2) op(2, c + 32);                   \
  if constexpr (kTiles > 3) op(3, c + 48);
#define EMBER_AMX_LOAD_C(t, at) _tile_loadd(t, at, ldc_bytes)
#define EMBER_AMX_ZERO_C(t, at) _tile_zero(t)
#define EMBER_AMX_STORE_C(t, at) _tile_stored(t, at, ldc_bytes)

// C[16 x 16 kTiles] (+)= A panel x the first kTiles column tiles of a B panel, over `chunks`
// chunks of 32 k.
template <int kTiles>
void kernel_tiles(int64_t chunks, const uint16_t* a, const uint16_t* b_panel, float* c,
                  int64_t ldc_bytes, bool accumulate) {
  if (accumulate) {
    EMBER_AMX_C_TILES(EMBER_AMX_LOAD_C)
  } else {
    EMBER_AMX_C_TILES(EMBER_AMX_ZERO_C)
  }
  for (int64_t q = 0; q < chunks; ++q, a += kPanelChunkWords) {
    const uint16_t* b = b_panel + q * kBChunkWords;
    _tile_loadd(4, a, 64);
    _tile_loadd(5, a + kTileWords, 64);
    _tile_loadd(6, a + 2 * kTileWords, 64);
    EMBER_AMX_COLUMN(0)
    EMBER_AMX_COLUMN(1)
    EMBER_AMX_COLUMN(2)
    EMBER_AMX_COLUMN(3)
  }
  EMBER_AMX_C_TILES(EMBER_AMX_STORE_C)
}
#undef EMBER_AMX_COLUMN
#undef EMBER_AMX_C_TILES
#undef EMBER_AMX_LOAD_C
#undef EMBER_AMX_ZERO_C
#undef EMBER_AMX_STORE_C

// C[16 x cols] (+)= A panel x B panel: only the column tiles that hold columns of C run, so a
// last block of 16 columns (as of N = 784) costs a quarter of a full one.
void kernel(int64_t cols, int64_t chunks, const uint16_t* a, const uint16_t* b, float* c,
            int64_t ldc_bytes, bool accumulate) {
  switch (ceil_div(cols, 16)) {
    case 1: return kernel_tiles<1>(chunks, a, b, c, ldc_bytes, accumulate);
    case 2: return kernel_tiles<2>(chunks, a, b, c, ldc_bytes, accumulate);
    case 3: return kernel_tiles<3>(chunks, a, b, c, ldc_bytes, accumulate);
    default: return kernel_tiles<4>(chunks, a, b, c, ldc_bytes, accumulate);
  }
}

}  // namespace

bool operands_in_range(const float* X, int64_t rows, int64_t cols, int64_t ld) {
  Range range;
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = X + i * ld;
    int64_t j = 0;
    for (; j + 16 <= cols; j += 16) range.add(_mm512_loadu_ps(row + j));
    if (j < cols) range.add(load_first(row + j, cols - j));
  }
  return range.exact();
}

Oriented orient(const GemmProblem<float>& p) {
  // Values packed against their storage order cost ~3x those packed along it (a transpose per
  // 16 x 16 block); a transposed C costs ~2 per element (in and out of its tiles).
  const auto cost = [](bool along, int64_t n) { return (along ? 1 : 3) * n; };
  const int64_t direct = cost(!p.trans_a, p.M * p.K) + cost(!p.trans_b, p.K * p.N);
  const int64_t swapped = cost(p.trans_b, p.N * p.K) + cost(p.trans_a, p.M * p.K) + 2 * p.M * p.N;
  if (direct <= swapped) return {p, false};
  // C^T = op(B)^T op(A)^T: op(B)^T is B as stored when trans_b, and likewise for A.
  return {{!p.trans_b, !p.trans_a, p.N, p.M, p.K, p.alpha, p.B, p.ldb, p.A, p.lda, p.beta, p.C,
           p.ldc},
          true};
}

namespace {

// tile[r * 64 + c] = c_t[c * ldc + r] for r < rows, c < cols: a block of C^T out of C.
void load_transposed(float* tile, const float* c_t, int64_t ldc, int64_t rows, int64_t cols) {
  for (int g = 0; g * 16 < cols; ++g) {
    __m512 v[16];
    for (int c = 0; c < 16; ++c)
      v[c] = 16 * g + c < cols ? load_first(c_t + (16 * g + c) * ldc, rows) : _mm512_setzero_ps();
    transpose16(v);
    for (int r = 0; r < 16; ++r) _mm512_store_ps(tile + r * kCols + 16 * g, v[r]);
  }
}

// c_t[c * ldc + r] = tile[r * 64 + c] for r < rows, c < cols.
void store_transposed(float* c_t, int64_t ldc, const float* tile, int64_t rows, int64_t cols) {
  for (int g = 0; g * 16 < cols; ++g) {
    __m512 v[16];
    for (int r = 0; r < 16; ++r) v[r] = _mm512_load_ps(tile + r * kCols + 16 * g);
    transpose16(v);
    for (int c = 0; c < 16 && 16 * g + c < cols; ++c)
      _mm512_mask_storeu_ps(c_t + (16 * g + c) * ldc, first(rows), v[c]);
  }
}

}  // namespace

bool gemm_block(const Oriented& o, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const GemmProblem<float>& p = o.p;
  // The packed B block (6 bytes per element) fills up to kBBlockBytes of L2: wider than kNc when
  // K is short (then A is packed fewer times), deeper than kKc when N is narrow (then C's tiles
  // are loaded and stored fewer times). Block edges fall on whole
  // tiles and 32-k chunks, and the sums run chunk after chunk either way, so results do not
  // depend on the block sizes.
  const int64_t kc_floor = std::min(round_up(p.K, kChunk), kKc);
  const int64_t nc_limit = std::max(kNc, kBBlockBytes / (6 * kc_floor));
  const int64_t nc_max = round_up(ceil_div(n1 - n0, ceil_div(n1 - n0, nc_limit)), kCols);
  const int64_t kc_limit = std::clamp<int64_t>(kBBlockBytes / (6 * nc_max), kKc, 2 * kKc);
  const int64_t kc_max = round_up(ceil_div(p.K, ceil_div(p.K, kc_limit)), kChunk);
  const int64_t chunks_max = kc_max / kChunk;
  // A transposed is packed kMc rows at a time (see pack_a); as stored, one panel at a time, just
  // before the kernel reads it from L1.
  const int64_t mc_max =
      p.trans_a ? round_up(ceil_div(m1 - m0, ceil_div(m1 - m0, kMc)), kRows) : kRows;
  thread_local Buffer a_buffer, b_buffer;
  uint16_t* a_block =
      a_buffer.get(static_cast<size_t>(mc_max / kRows * chunks_max * kPanelChunkWords));
  uint16_t* b_block =
      b_buffer.get(static_cast<size_t>(nc_max / kCols * chunks_max * kBChunkWords));
  const int64_t ldc_bytes = p.ldc * static_cast<int64_t>(sizeof(float));
  Range range;  // of every value split: all of the block's operands
  TileScope tiles;
  for (int64_t jc = n0; jc < n1; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, p.K - pc);
      const int64_t chunks = ceil_div(kc, kChunk);
      const int64_t panel_words = chunks * kBChunkWords;
      for (int64_t jr = 0; jr < nc; jr += kCols)
        pack_b(b_block + jr / kCols * panel_words, p, pc, kc, jc + jr,
               std::min<int64_t>(kCols, nc - jr), range);
      const bool accumulate = pc > 0 || p.beta != 0.0f;
      const int64_t a_words = chunks * kPanelChunkWords;
      for (int64_t ir = m0; ir < m1; ir += kRows) {
        if ((ir - m0) % mc_max == 0)
          pack_a(a_block, p, ir, std::min(m1, ir + mc_max), pc, kc, a_words, range);
        const uint16_t* a_panel = a_block + (ir - m0) % mc_max / kRows * a_words;
        const int64_t rows = std::min<int64_t>(kRows, m1 - ir);
        for (int64_t jr = 0; jr < nc; jr += kCols) {
          const int64_t cols = std::min<int64_t>(kCols, nc - jr);
          const uint16_t* b_panel = b_block + jr / kCols * panel_words;
          if (o.transposed) {
            float* c_t = p.C + (jc + jr) * p.ldc + ir;
            alignas(64) float tile[kRows * kCols];
            if (accumulate) load_transposed(tile, c_t, p.ldc, rows, cols);
            kernel(cols, chunks, a_panel, b_panel, tile, kCols * 4, accumulate);
            store_transposed(c_t, p.ldc, tile, rows, cols);
            continue;
          }
          float* c = p.C + ir * p.ldc + jc + jr;
          if (rows == kRows && cols == kCols) {
            kernel(cols, chunks, a_panel, b_panel, c, ldc_bytes, accumulate);
            continue;
          }
          alignas(64) float tile[kRows * kCols];
          if (accumulate)
            for (int64_t r = 0; r < rows; ++r)
              std::memcpy(tile + r * kCols, c + r * p.ldc, static_cast<size_t>(cols) * 4);
          kernel(cols, chunks, a_panel, b_panel, tile, kCols * 4, accumulate);
          for (int64_t r = 0; r < rows; ++r)
            std::memcpy(c + r * p.ldc, tile + r * kCols, static_cast<size_t>(cols) * 4);
        }
      }
    }
  }
  return range.exact();
}

}  // namespace ember::cpu::gemm_amx
