// General matrix multiply: the reference, the blocked multi-threaded driver, the portable
// microkernel and the run-time choice of SIMD path.
//
// Design (Goto / BLIS / OpenBLAS):
//  * Five loops around a register-blocked microkernel:
//      jc: NC columns of C
//        pc: KC of the inner dimension      -> pack op(B)[pc:pc+KC, jc:jc+NC] into NR-column panels
//          ic: MC rows of C                 -> pack op(A)[ic:ic+MC, pc:pc+KC] into MR-row panels
//            jr: NR columns, ir: MR rows    -> microkernel on one MR x NR tile of C
//    The B micro-panel (KC x NR) stays in L1 while the ir loop streams A micro-panels through it;
//    the packed A block (MC x KC) stays in L2 for the whole jr loop; the packed B block sits in L3.
//  * Packing (gemm_pack.h) stores, for each k, the MR values of op(A) (or the NR values of op(B))
//    side by side, zero-padded to a full panel. Transposes are absorbed there, so one microkernel
//    serves all four (trans_a, trans_b) cases. The AVX2 path packs the transposing direction with
//    8x8 in-register transposes.
//  * Microkernels (contract in gemm_microkernel.h) keep the tile in registers across the KC loop.
//    AVX2+FMA (gemm_avx2.cpp): float 6x16 and double 6x8, 12 ymm accumulators. AVX-512F
//    (gemm_avx512.cpp): float 12x32 and double 12x16, 24 zmm accumulators; with N <= 16 its
//    tile would be mostly padding, so such products keep the AVX2 kernel. Portable (below):
//    plain loops over a 4x8 / 4x4 tile that compilers vectorise for SSE2 or NEON. A kernel
//    computes only the rows it is asked for, so partial row tiles write C directly; a partial
//    column panel is computed into a local tile and copied.
//  * Memory: the C tile the next kernel call updates is prefetched, every line of each row (rows
//    need not be line-aligned), while the current call runs its k loop; operands whose rows lie a
//    page or more apart are packed row by row so the reads stream; packing buffers from 1 MiB
//    sit on huge pages where Linux allows, sparing the TLB the A block's ~120 pages.
//  * Small and skinny shapes, where packing would cost as much as the multiply:
//    - an operand panel that at most kMaxInPlaceReuse tiles read is read in place through the
//      microkernel's strides instead of being packed (e.g. B when M <= 24);
//    - C = A B^T with M <= kDotMaxRows (a Linear layer on a few samples) runs as dot products of
//      rows of A and B, both contiguous along K (AVX2 path);
//    - C = A B^T with up to 2 NR rows and B at least 4x taller (1.5x, or under half a tile
//      wide, when A's rows fill whole NR-wide panels; a Linear layer on a small batch), on one
//      thread, with beta = 0 or alpha = beta = 1, runs as C^T = B A^T: B is then read in place
//      instead of transposed into packed panels, and only the small A and the result are
//      transposed; every element is computed exactly as on the direct path.
//  * Block sizes target Zen 3 (32 KiB L1d, 512 KiB L2 per core). float: KC = 256 (a B micro-panel
//    is 16 KiB, half of L1), MC = 144 (A block 144 KiB), NC = 3072 (B block 3 MiB). double: KC =
//    256, MC = 72, NC = 1536 (same byte sizes). The AVX-512 path targets recent Xeons (48 KiB L1d,
//    2 MiB L2): float KC = 256 (a 32 KiB B micro-panel, leaving L1 room for the A micro-panel
//    streaming past it), MC = 480 (A block 480 KiB); double KC = 384, MC = 120. Against KC = 384
//    (a B micro-panel filling all of L1) float 2048^3 gained ~5%, other sizes within noise.
//    Blocks are balanced: K = 784 runs as 4 x 196, not 3 x 256 + 16, whose thin last block
//    would cost a full extra C read/write pass.
//  * Threads: C is cut into a tm x tn grid of MR/NR-aligned blocks, one per thread; each thread
//    runs the sequential algorithm above on its block with its own (thread-local, reused) packing
//    buffers. The grid minimises the largest per-thread cost (padded FMAs + packed elements).
//    No two threads write the same element of C, and since tile boundaries, the K split and the
//    path taken depend only on (M, N, K), the result is bitwise identical for every thread count.
//    A Plan says how a team of a given size splits one product, so that two independent products
//    (gemm_pair: a Linear layer's dx and dweight) can share one team, each on part of it.
//  * Problems below threads_for's minimum work run on the calling thread, without a team.
//  * On CPUs with AMX (SimdPath::Amx), large enough float32 products with alpha = 1 and beta in
//    {0, 1} run on the tile units instead, to float32 accuracy (gemm_amx.h; see runs_on_amx for
//    which); threads split C the same way, in 16 x 64 blocks.
#include "cpu/gemm.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu/gemm_microkernel.h"
#include "cpu/gemm_pack.h"
#include "cpu/runtime.h"
#ifdef EMBER_HAVE_AMX_PATH
#include "cpu/gemm_amx.h"
#endif

namespace ember::cpu {

template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < K; ++p) {
        const T a = trans_a ? A[p * lda + i] : A[i * lda + p];
        const T b = trans_b ? B[j * ldb + p] : B[p * ldb + j];
        acc += a * b;
      }
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
    }
  }
}

namespace {

using gemm_detail::a_pack_buffer;
using gemm_detail::b_pack_buffer;
using gemm_detail::Operand;
using gemm_detail::PanelView;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// The block size that splits `len` into the fewest blocks of at most `max_block` (a multiple of
// `quantum`) with near-equal sizes.
int64_t balanced_block(int64_t len, int64_t max_block, int64_t quantum) {
  const int64_t blocks = ceil_div(len, max_block);
  return round_up(ceil_div(len, blocks), quantum);
}

template <typename T>
using Problem = GemmProblem<T>;

// One SIMD path's microkernel, its tile, its optional transposing packers and its block sizes.
template <typename T>
struct KernelSet {
  gemm_detail::MicroKernel<T> micro;
  gemm_detail::PanelPacker<T> pack_a_rows, pack_b_cols;  // null: the portable loop
  gemm_detail::DotKernel<T> dot;                          // null: always the blocked path
  int64_t kc, mc, nc;
};

// Asks for the C tile the next microkernel call will update, one call (a few thousand cycles)
// ahead: on large C its rows sit in L3 or DRAM, and a miss at the tile's update would stall it.
// Every cache line of each row: C's rows need not be line-aligned (numpy aligns to 16 bytes), so
// a 128-byte row segment can span three lines.
template <typename T>
inline void prefetch_tile(const T* c, int64_t ldc, int rows, int cols) {
#if defined(__GNUC__) || defined(__clang__)
  constexpr int kLine = 64 / sizeof(T);
  for (int r = 0; r < rows; ++r) {
    for (int j = 0; j < cols; j += kLine) __builtin_prefetch(c + r * ldc + j, 1);
    __builtin_prefetch(c + r * ldc + cols - 1, 1);
  }
#else
  (void)c, (void)ldc, (void)rows, (void)cols;
#endif
}

template <typename T, int R, int NR>
void microkernel_portable_rows(int64_t kc, const T* a, int64_t a_rs, int64_t a_cs, const T* b,
                               int64_t b_ld, T* c, int64_t ldc, T alpha, T beta) {
  T acc[R][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += a_cs, b += b_ld) {
    T ak[R];
    for (int r = 0; r < R; ++r) ak[r] = a[r * a_rs];
    for (int r = 0; r < R; ++r) {
      // Vectorise across the tile's columns. Left alone, GCC vectorises the k loop instead,
      // gathering B element by element, an order of magnitude slower.
#pragma omp simd
      for (int j = 0; j < NR; ++j) acc[r][j] += ak[r] * b[j];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NR; ++j)
      c[r * ldc + j] =
          beta == T(0) ? alpha * acc[r][j] : alpha * acc[r][j] + beta * c[r * ldc + j];
}

// The portable microkernel for MR = 4 (contract in gemm_microkernel.h).
template <typename T, int NR>
void microkernel_portable(int64_t kc, int rows, const T* a, int64_t a_rs, int64_t a_cs,
                          const T* b, int64_t b_ld, T* c, int64_t ldc, T alpha, T beta) {
  auto kernel = rows == 1   ? microkernel_portable_rows<T, 1, NR>
                : rows == 2 ? microkernel_portable_rows<T, 2, NR>
                : rows == 3 ? microkernel_portable_rows<T, 3, NR>
                            : microkernel_portable_rows<T, 4, NR>;
  kernel(kc, a, a_rs, a_cs, b, b_ld, c, ldc, alpha, beta);
}

// Packing copies each element once to save re-reading it from its strided home many times; a
// panel that few tiles read costs more to pack than to read in place. A's block is read once per
// NR-column panel, a B panel once per MR-row tile.
constexpr int64_t kMaxInPlaceReuse = 4;

// The sequential blocked algorithm on C[m0:m1, n0:n1] (m0 a multiple of MR, n0 of NR).
template <typename T, int MR, int NR>
void gemm_block(const Problem<T>& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                const KernelSet<T>& ks) {
  const int64_t kc_max = balanced_block(p.K, ks.kc, 1);
  const int64_t mc_max = balanced_block(m1 - m0, ks.mc, MR);
  const int64_t nc_max = balanced_block(n1 - n0, ks.nc, NR);
  const bool a_in_place = ceil_div(n1 - n0, NR) <= kMaxInPlaceReuse;
  // In place B must have its NR columns contiguous: op(B) = B.
  const bool b_in_place = !p.trans_b && ceil_div(m1 - m0, MR) <= kMaxInPlaceReuse;
  Operand<T, MR> a_op(p.A, p.lda, p.trans_a, a_in_place, true,
                      a_pack_buffer<T>(static_cast<size_t>(mc_max * kc_max)), ks.pack_a_rows);
  // op(B)^T is N x K: stored B^T when not transposed.
  Operand<T, NR> b_op(p.B, p.ldb, !p.trans_b, b_in_place, false,
                      b_pack_buffer<T>(static_cast<size_t>(nc_max * kc_max)), ks.pack_b_cols);

  for (int64_t jc = n0; jc < n1; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, p.K - pc);
      const T beta = pc == 0 ? p.beta : T(1);  // later K blocks accumulate onto the first
      b_op.load(jc, nc, pc, kc);
      for (int64_t ic = m0; ic < m1; ic += mc_max) {
        const int64_t mc = std::min(mc_max, m1 - ic);
        a_op.load(ic, mc, pc, kc);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          const PanelView<T> b = b_op.panel(jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            const PanelView<T> a = a_op.panel(ir);
            T* c = p.C + (ic + ir) * p.ldc + jc + jr;
            prefetch_tile(ir + MR < mc ? c + MR * p.ldc : c + NR - ir * p.ldc, p.ldc, MR, NR);
            if (cols == NR) {
              ks.micro(kc, rows, a.ptr, a.lane_stride, a.k_stride, b.ptr, b.k_stride, c, p.ldc,
                       p.alpha, beta);
              continue;
            }
            // A partial column panel: the kernel writes a full-width tile aside.
            alignas(64) T tile[MR * NR];
            ks.micro(kc, rows, a.ptr, a.lane_stride, a.k_stride, b.ptr, b.k_stride, tile, NR,
                     T(1), T(0));
            for (int r = 0; r < rows; ++r)
              for (int j = 0; j < cols; ++j) {
                T& cij = c[r * p.ldc + j];
                const T t = p.alpha * tile[r * NR + j];
                cij = beta == T(0) ? t : t + beta * cij;
              }
          }
        }
      }
    }
  }
}

struct Grid {
  int64_t tm, tn;
};

// Each thread packs its rows of op(A) and its columns of op(B) (cost ~ (rows + cols) * K) and
// runs rows * cols * K FMAs on padded tiles. A packed element costs roughly what 16 scalar FMAs
// do (one cycle of stride-gathering copy vs two 8-wide FMAs per cycle).
Grid choose_grid(int threads, int64_t M, int64_t N, int64_t MR, int64_t NR) {
  constexpr double kPackWeight = 16.0;
  const int64_t tiles_m = ceil_div(M, MR), tiles_n = ceil_div(N, NR);
  Grid best{1, 1};
  double best_cost = std::numeric_limits<double>::infinity();
  for (int64_t tm = 1; tm <= threads && tm <= tiles_m; ++tm) {
    for (int64_t tn = 1; tm * tn <= threads && tn <= tiles_n; ++tn) {
      const double rows = static_cast<double>(ceil_div(tiles_m, tm) * MR);
      const double cols = static_cast<double>(ceil_div(tiles_n, tn) * NR);
      const double cost = rows * cols + kPackWeight * (rows + cols);
      if (cost < best_cost) {
        best_cost = cost;
        best = {tm, tn};
      }
    }
  }
  return best;
}

// Rows [m0, m1) and columns [n0, n1) of C that block `task` of the tm x tn grid covers, in whole
// MR x NR tiles; empty when the grid has more blocks than tiles.
struct GridBlock {
  int64_t m0, m1, n0, n1;
  bool empty() const { return m0 >= m1 || n0 >= n1; }
};

GridBlock grid_block(const Grid& g, int64_t task, int64_t M, int64_t N, int64_t MR, int64_t NR) {
  const int64_t tiles_m = ceil_div(M, MR), tiles_n = ceil_div(N, NR);
  const int64_t a = task / g.tn, b = task % g.tn;
  return {a * tiles_m / g.tm * MR, std::min(M, (a + 1) * tiles_m / g.tm * MR),
          b * tiles_n / g.tn * NR, std::min(N, (b + 1) * tiles_n / g.tn * NR)};
}

// Block `task` of the tm x tn grid of C's blocks.
template <typename T, int MR, int NR>
void gemm_grid_task(const Problem<T>& p, const Grid& g, int64_t task, const KernelSet<T>& ks) {
  const GridBlock b = grid_block(g, task, p.M, p.N, MR, NR);
  if (!b.empty()) gemm_block<T, MR, NR>(p, b.m0, b.m1, b.n0, b.n1, ks);
}

// Up to this many rows, C = A B^T runs as dot products of rows read in place (see DotKernel):
// packing B^T would cost as much as the whole product.
constexpr int64_t kDotMaxRows = 8;

// Columns [task * W, ...) of C, for `task` of `tasks`, as dot products.
template <typename T>
void gemm_dot_task(const Problem<T>& p, int64_t tasks, int64_t task,
                   gemm_detail::DotKernel<T> dot) {
  constexpr int64_t R = gemm_detail::kDotRows, W = gemm_detail::kDotCols;
  const int64_t blocks = ceil_div(p.N, W);
  const int64_t j1 = std::min(p.N, (task + 1) * blocks / tasks * W);
  for (int64_t j = task * blocks / tasks * W; j < j1; j += W) {
    const int cols = static_cast<int>(std::min(W, j1 - j));
    for (int64_t i = 0; i < p.M; i += R)
      dot(p.K, static_cast<int>(std::min(R, p.M - i)), cols, p.A + i * p.lda, p.lda,
          p.B + j * p.ldb, p.ldb, p.C + i * p.ldc + j, p.ldc, p.alpha, p.beta);
  }
}

// C = A B^T with few rows and B several times taller than A, as in a Linear layer's forward on a
// small batch (x, batch x in, times W^T, W out x in): packing op(B) = W^T would transpose all of
// W. C^T = B A^T reads W in place instead (as the A operand, whose panels then serve at most two
// tiles each) and transposes only the smaller A and the M x N result. Measured with 1 thread on
// AVX-512 (C = A B^T, M x N x K): 64x256x784 -9%, 64x1024x1024 -21%, 32x512x784 -25%; with more
// rows it loses (128x512x256 +30%), hence M <= 2 NR. With a team, every thread would pack all of
// A and the transpose of the result runs alone: on 2 threads it measured level or slower, so it
// is used on one thread only. When A's rows fill the swapped tile's NR-wide columns (at most 1/8
// padding) it pays from 1.5x taller: 64x200x512 -20%, 64x120x400 (LeNet's first dense layer)
// -10%, 32x64x256 -8%; with 48 or 16 rows (33% and 100% padding) or B only as tall as A it lost
// 10-130%. It also pays for an output layer narrower than half a tile (N < NR / 2), whose direct
// tile is mostly padding: on AVX-512 such products move to the wide kernel, swapped, instead of
// the AVX2 one: 64x10x128 3.8 -> 2.9 us, 64x10x784 18.4 -> 12.8 us, 64x8x512 11.7 -> 8.3 us.
constexpr int64_t kSwapMinRatio = 4;

// Every element takes the same operations in the same order as on the direct path (the same K
// blocks, the old C entering with the first one), so the two agree bitwise and results stay
// independent of the thread count. That holds for beta = 0 and for alpha = beta = 1 (a Linear
// layer's bias, copied into C first); other scalings stay direct, since the direct path's edge
// tiles round alpha * acc + beta * c their own way.
// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: by 8 x 8 in-register transposes on
// AVX2, else in square tiles that stay in L1 (element by element, every store or load along a
// long row would touch a new cache line).
template <typename T>
void transpose(T* dst, int64_t ldd, const T* src, int64_t lds, int64_t rows, int64_t cols) {
#ifdef EMBER_HAVE_AVX2_PATH
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2()) {
      gemm_detail::transpose_avx2_f32(dst, ldd, src, lds, rows, cols);
      return;
    }
  }
#endif
  constexpr int64_t kTile = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += kTile)
    for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
      const int64_t i1 = std::min(rows, i0 + kTile), j1 = std::min(cols, j0 + kTile);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) dst[j * ldd + i] = src[i * lds + j];
    }
}

// On the calling thread alone (runs_swapped asks for one).
template <typename T, int MR, int NR>
void gemm_swapped(const Problem<T>& p, const KernelSet<T>& ks) {
  thread_local std::vector<T> result;  // C^T, N x M
  result.resize(static_cast<size_t>(p.N * p.M));
  T* ct = result.data();
  if (p.beta != T(0)) transpose(ct, p.M, p.C, p.ldc, p.M, p.N);
  const Problem<T> swapped{false, true, p.N, p.M,    p.K, p.alpha, p.B,
                           p.ldb, p.A,  p.lda, p.beta, ct,  p.M};
  gemm_block<T, MR, NR>(swapped, 0, swapped.M, 0, swapped.N, ks);
  transpose(p.C, p.ldc, ct, p.M, p.N, p.M);
  constexpr size_t kKeptElements = size_t(1) << 20;  // a big one-off result is not kept around
  if (result.size() > kKeptElements) std::vector<T>().swap(result);
}

// Whether C = A B^T runs as C^T = B A^T (see above) on a tile of MR x NR.
template <typename T>
bool runs_swapped(const Problem<T>& p, int threads, int64_t MR, int64_t NR) {
  const bool nt = p.trans_b && !p.trans_a;
  if (!nt || threads != 1 || !(p.beta == T(0) || (p.alpha == T(1) && p.beta == T(1))) ||
      p.M < MR || p.M > 2 * NR)
    return false;
  if (p.N >= kSwapMinRatio * p.M) return true;
  const int64_t padding = ceil_div(p.M, NR) * NR - p.M;
  if (8 * padding > p.M) return false;
  // B 1.5x taller than A, or an output layer so narrow that the direct tile is mostly padding.
  return 2 * p.N >= 3 * p.M || (2 * p.N < NR && p.M >= NR);
}

// How a team of `team` threads computes C = alpha op(A) op(B) + beta C with one SIMD path: as
// `tasks` disjoint parts, part i on thread i (threads past `tasks` have nothing to do).
template <typename T, int MR, int NR>
struct Plan {
  enum class Path { Dot, Swapped, Grid } path;
  Grid grid;
  int64_t tasks;

  Plan(const Problem<T>& p, int team, const KernelSet<T>& ks) : path(Path::Grid), grid{1, 1} {
    const bool nt = p.trans_b && !p.trans_a;
    if (ks.dot && nt && p.M <= kDotMaxRows) {
      path = Path::Dot;
      tasks = std::min<int64_t>(team, ceil_div(p.N, gemm_detail::kDotCols));
    } else if (runs_swapped(p, team, MR, NR)) {
      path = Path::Swapped;
      tasks = 1;
    } else {
      grid = choose_grid(team, p.M, p.N, MR, NR);
      tasks = grid.tm * grid.tn;
    }
  }

  void run(const Problem<T>& p, int64_t task, const KernelSet<T>& ks) const {
    if (task >= tasks) return;
    switch (path) {
      case Path::Dot: gemm_dot_task(p, tasks, task, ks.dot); return;
      case Path::Swapped: gemm_swapped<T, MR, NR>(p, ks); return;
      case Path::Grid: gemm_grid_task<T, MR, NR>(p, grid, task, ks); return;
    }
  }
};

template <typename T, int MR, int NR>
void gemm_run(const Problem<T>& p, int threads, const KernelSet<T>& ks) {
  const Plan<T, MR, NR> plan(p, threads, ks);
  if (plan.tasks == 1) {
    plan.run(p, 0, ks);
    return;
  }
#pragma omp parallel for num_threads(static_cast<int>(plan.tasks)) schedule(static)
  for (int64_t task = 0; task < plan.tasks; ++task) plan.run(p, task, ks);
}

// Part `rank` of the plan for a team of `team`, from inside a parallel region that runs the rank.
template <typename T, int MR, int NR>
void gemm_run_part(const Problem<T>& p, int team, int rank, const KernelSet<T>& ks) {
  Plan<T, MR, NR>(p, team, ks).run(p, rank, ks);
}

// Up to this many columns of C, the AVX2 tile (two 8-lane vectors wide) pads less than the
// AVX-512 tile (two 16-lane vectors) saves: a 10-column output layer runs faster on AVX2, unless
// it runs swapped (runs_swapped), where its rows become the wide side.
constexpr int64_t kAvx512MinCols = 17;

// The tile of a SIMD path, for passing MR and NR through a generic lambda.
template <int R, int C>
struct Tile {
  static constexpr int MR = R, NR = C;
};

// Calls run(Tile<MR, NR>{}, kernels) with the SIMD path's kernels for this product on a team of
// `threads`.
template <typename F>
void with_kernels([[maybe_unused]] const Problem<float>& p, int threads, F&& run) {
  namespace d = gemm_detail;
#ifdef EMBER_HAVE_AVX512_PATH
  if (use_avx512() &&
      (p.N >= kAvx512MinCols || runs_swapped(p, threads, d::kAvx512MrF32, d::kAvx512NrF32))) {
    run(Tile<d::kAvx512MrF32, d::kAvx512NrF32>{},
        KernelSet<float>{d::microkernel_avx512_f32, d::pack_rows_avx512_f32,
                         d::pack_cols_avx512_f32, d::dot_kernel_avx2_f32, 256, 480, 3072});
    return;
  }
#endif
#ifdef EMBER_HAVE_AVX2_PATH
  if (use_avx2()) {
    run(Tile<d::kAvx2MrF32, d::kAvx2NrF32>{},
        KernelSet<float>{d::microkernel_avx2_f32, d::pack_rows_avx2_f32, d::pack_cols_avx2_f32,
                         d::dot_kernel_avx2_f32, 256, 144, 3072});
    return;
  }
#endif
  (void)threads;
  run(Tile<4, 8>{},
      KernelSet<float>{microkernel_portable<float, 8>, nullptr, nullptr, nullptr, 256, 128, 3072});
}

template <typename F>
void with_kernels([[maybe_unused]] const Problem<double>& p, int threads, F&& run) {
  namespace d = gemm_detail;
  (void)threads;
#ifdef EMBER_HAVE_AVX512_PATH
  if (use_avx512() && p.N >= kAvx512MinCols) {
    run(Tile<d::kAvx512MrF64, d::kAvx512NrF64>{},
        KernelSet<double>{d::microkernel_avx512_f64, nullptr, nullptr, d::dot_kernel_avx2_f64,
                          384, 120, 1536});
    return;
  }
#endif
#ifdef EMBER_HAVE_AVX2_PATH
  if (use_avx2()) {
    run(Tile<d::kAvx2MrF64, d::kAvx2NrF64>{},
        KernelSet<double>{d::microkernel_avx2_f64, d::pack_rows_avx2_f64, d::pack_cols_avx2_f64,
                          d::dot_kernel_avx2_f64, 256, 72, 1536});
    return;
  }
#endif
  run(Tile<4, 4>{}, KernelSet<double>{microkernel_portable<double, 4>, nullptr, nullptr, nullptr,
                                      256, 64, 1536});
}

// The AMX path (gemm_amx.h) takes float32 products with alpha = 1 and beta = 0 or 1 (plain
// products and a Linear layer's bias) whose operands split into bfloat16 pieces exactly, from
// kAmxMinSide rows and columns and kAmxMinDepth deep. Smaller ones lose to the FMA path: its
// packed values cost 4 bytes, not 6, and it reads small operands in place. Measured against the
// AVX-512 path (1 / 2 threads):
// 256x784x64 (a Linear layer's weight gradient) 1.50x / 1.44x, 128x256x64 1.39x / 1.19x,
// 256x512x512 1.42x / 1.30x; but 64x256x784 0.90x / 0.86x, 16x1024x1024 0.6x and, at depth 16,
// 1024x1024x16 0.67x / 0.66x. The choice depends on the problem alone, not on the thread count,
// so results stay independent of it.
constexpr int64_t kAmxMinSide = 128, kAmxMinDepth = 64;

#ifdef EMBER_HAVE_AMX_PATH
// gemm_amx::operands_in_range over row bands on the team (for beta != 0; see runs_on_amx): a
// 1024 x 1024 operand from memory takes ~0.14 ms on one thread, 2-4% of the product.
inline bool in_range_on_threads(const float* X, int64_t rows, int64_t cols, int64_t ld) {
  const int threads = threads_for(rows * cols / 16);
  if (threads == 1) return gemm_amx::operands_in_range(X, rows, cols, ld);
  bool in_range = true;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(&& : in_range)
  for (int t = 0; t < threads; ++t) {
    const int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
    in_range = gemm_amx::operands_in_range(X + r0 * ld, r1 - r0, cols, ld);
  }
  return in_range;
}
#endif

// Whether p goes to the AMX path. Its operands' range is checked as they are split, and a
// product meeting a value out of range is redone on the FMA path (amx_run returns false); with
// beta != 0 that would find C already changed, so such operands are checked here first.
template <typename T>
bool runs_on_amx([[maybe_unused]] const Problem<T>& p) {
#ifdef EMBER_HAVE_AMX_PATH
  if constexpr (std::is_same_v<T, float>) {
    if (active_simd() != SimdPath::Amx || p.alpha != 1.0f || !(p.beta == 0.0f || p.beta == 1.0f) ||
        std::min(p.M, p.N) < kAmxMinSide || p.K < kAmxMinDepth)
      return false;
    return p.beta == 0.0f ||
           (in_range_on_threads(p.A, p.trans_a ? p.K : p.M, p.trans_a ? p.M : p.K, p.lda) &&
            in_range_on_threads(p.B, p.trans_b ? p.N : p.K, p.trans_b ? p.K : p.N, p.ldb));
  }
#endif
  return false;
}

// Part `rank` of `team` threads' work on p on the AMX path: one block of a grid of tiles.
// False when an operand value it split was out of the split's range.
template <typename T>
bool amx_part([[maybe_unused]] const Problem<T>& p, [[maybe_unused]] int team,
              [[maybe_unused]] int rank) {
#ifdef EMBER_HAVE_AMX_PATH
  if constexpr (std::is_same_v<T, float>) {
    constexpr int64_t MR = gemm_amx::kRows, NR = gemm_amx::kCols;
    const gemm_amx::Oriented o = gemm_amx::orient(p);
    const Grid g = choose_grid(team, o.p.M, o.p.N, MR, NR);
    if (rank >= g.tm * g.tn) return true;
    const GridBlock b = grid_block(g, rank, o.p.M, o.p.N, MR, NR);
    return b.empty() || gemm_amx::gemm_block(o, b.m0, b.m1, b.n0, b.n1);
  }
#endif
  return true;
}

// p on the AMX path with a team of `threads`; false when an operand value was out of range.
template <typename T>
bool amx_run([[maybe_unused]] const Problem<T>& p, [[maybe_unused]] int threads) {
  bool in_range = true;
#ifdef EMBER_HAVE_AMX_PATH
  if constexpr (std::is_same_v<T, float>) {
    const gemm_amx::Oriented o = gemm_amx::orient(p);
    const Grid g = choose_grid(threads, o.p.M, o.p.N, gemm_amx::kRows, gemm_amx::kCols);
    const int tasks = static_cast<int>(g.tm * g.tn);
    if (tasks == 1) return amx_part(p, 1, 0);
#pragma omp parallel for num_threads(tasks) schedule(static) reduction(&& : in_range)
    for (int task = 0; task < tasks; ++task) in_range = amx_part(p, tasks, task) && in_range;
  }
#endif
  return in_range;
}

// p on the FMA path (with_kernels' microkernels) with a team of `threads`.
template <typename T>
void fma_run(const Problem<T>& p, int threads) {
  with_kernels(p, threads, [&](auto tile, const KernelSet<T>& ks) {
    gemm_run<T, decltype(tile)::MR, decltype(tile)::NR>(p, threads, ks);
  });
}

// C = beta * C, the whole GEMM when K == 0 or alpha == 0 (A and B are then not read, as in BLAS).
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

template <typename T>
void gemm_with_threads(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                       const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
                       int64_t ldc, int threads) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc, M * N >= kMinParallelWork ? threads : 1);
    return;
  }
  const Problem<T> p{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  if (runs_on_amx(p) && amx_run(p, threads)) return;
  fma_run(p, threads);
}

// Part `rank` of the work of a team of `team` threads on p (see Plan), for a parallel region
// that runs every rank; `amx` is runs_on_amx(p), asked once before the region. False when the
// AMX path met an operand value out of its range (then p must be redone, see amx_run).
template <typename T>
bool gemm_part(const Problem<T>& p, int team, int rank, bool amx) {
  if (p.M <= 0 || p.N <= 0) return true;
  if (p.K <= 0 || p.alpha == T(0)) {
    if (rank == 0) scale_c(p.M, p.N, p.beta, p.C, p.ldc, 1);
    return true;
  }
  if (amx) return amx_part(p, team, rank);
  with_kernels(p, team, [&](auto tile, const KernelSet<T>& ks) {
    gemm_run_part<T, decltype(tile)::MR, decltype(tile)::NR>(p, team, rank, ks);
  });
  return true;
}

}  // namespace

// threads_for counts scalar operations of an element-wise loop; one FMA instruction does 16 flops
// of GEMM, so a problem is worth a thread team only from ~16x more flops (~0.5 MFLOP, a few
// microseconds). Below that, waking the team costs more than it saves, and on a busy machine a
// team can wait a whole scheduler slice for a descheduled worker.
static int64_t gemm_work(int64_t M, int64_t N, int64_t K) { return 2 * M * N * K / 16; }

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  gemm_with_threads(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                    threads_for(gemm_work(M, N, K)));
}

template <typename T>
void gemm(const GemmProblem<T>& p) {
  gemm(p.trans_a, p.trans_b, p.M, p.N, p.K, p.alpha, p.A, p.lda, p.B, p.ldb, p.beta, p.C, p.ldc);
}

template <typename T>
void gemm_pair(const GemmProblem<T>& first, const GemmProblem<T>& second) {
  const int64_t work1 = gemm_work(first.M, first.N, first.K);
  const int64_t work2 = gemm_work(second.M, second.N, second.K);
  const int threads = threads_for(work1 + work2);
  if (threads < 2) {  // then each alone is below a team's minimum work too
    gemm(first);
    gemm(second);
    return;
  }
  // Shares by flops, at least one thread each. A worksharing loop, not a bare parallel region:
  // every rank runs even if OpenMP grants fewer threads than asked.
  const int64_t total = std::max<int64_t>(work1 + work2, 1);
  const int first_team =
      static_cast<int>(std::clamp<int64_t>((threads * work1 + total / 2) / total, 1, threads - 1));
  const bool amx1 = runs_on_amx(first), amx2 = runs_on_amx(second);
  bool done1 = true, done2 = true;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(&& : done1, done2)
  for (int rank = 0; rank < threads; ++rank) {
    if (rank < first_team)
      done1 = gemm_part(first, first_team, rank, amx1) && done1;
    else
      done2 = gemm_part(second, threads - first_team, rank - first_team, amx2) && done2;
  }
  if (!done1) fma_run(first, threads);
  if (!done2) fma_run(second, threads);
}

template <typename T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  T alpha, const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                  int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c) {
  const int threads = threads_for(batch * gemm_work(M, N, K));
  const int per_matrix = threads_for(gemm_work(M, N, K));
  // Whole matrices per thread when they are too small to split or divide evenly among threads;
  // otherwise one after another, each split across all threads. Either way the results are the
  // same, as each matrix's result does not depend on its thread count.
  if (threads > 1 && (per_matrix == 1 || batch % threads == 0)) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < batch; ++i)
      gemm_with_threads(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b,
                        ldb, beta, C + i * stride_c, ldc, 1);
    return;
  }
  for (int64_t i = 0; i < batch; ++i)
    gemm_with_threads(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b,
                      ldb, beta, C + i * stride_c, ldc, per_matrix);
}

#define EMBER_INSTANTIATE(T)                                                                   \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, \
                        int64_t, T, T*, int64_t);                                              \
  template void gemm_reference<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,  \
                                  const T*, int64_t, T, T*, int64_t);                          \
  template void gemm<T>(const GemmProblem<T>&);                                                \
  template void gemm_pair<T>(const GemmProblem<T>&, const GemmProblem<T>&);                    \
  template void gemm_batched<T>(bool, bool, int64_t, int64_t, int64_t, int64_t, T, const T*,    \
                                int64_t, int64_t, const T*, int64_t, int64_t, T, T*, int64_t,   \
                                int64_t);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember::cpu
