// Matrix products: cuBLAS when the build found it (and it is switched on), else ember's own
// tiled GEMM, which covers every shape, transpose flag and batch stride.
//
// ember's kernel, one block per BM x BN tile of C (grid-stride over tiles and batch):
//   for each BK-wide slice of K:
//     the block stages op(A)[tile rows, slice] in As[BK][BM] and op(B)[slice, tile cols] in
//     Bs[BK][BN] (zero-filled past the edges, so no bounds checks in the inner loop);
//     each thread accumulates a TM x TN register block: rows ty + r * (BM / TM) and columns
//     tx + c * (BN / TN), strided so that a warp reads consecutive shared-memory words and
//     writes consecutive columns of C.
// op(A)[m, k] = A[m * a_sm + k * a_sk]: (a_sm, a_sk) = (lda, 1), or (1, lda) when transposed;
// likewise op(B)[k, n] = B[k * b_sk + n * b_sn]. Tiles are loaded with the thread index running
// along whichever of the two dims is contiguous in memory, so global loads coalesce either way.
// The +1 column of padding keeps the staging stores free of bank conflicts.
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/common.cuh"

#ifdef EMBER_WITH_CUBLAS
#include <cublas_v2.h>

#include <mutex>
#include <vector>
#endif

namespace ember::cuda {

namespace {

template <typename T>
struct GemmArgs {
  int64_t M, N, K, batch;
  const T* A;
  int64_t a_sm, a_sk, stride_a;
  const T* B;
  int64_t b_sk, b_sn, stride_b;
  T* C;
  int64_t ldc, stride_c;
  T alpha, beta;
};

template <typename T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) gemm_kernel(GemmArgs<T> g) {
  constexpr int kRows = BM / TM;  // threads along m
  constexpr int kCols = BN / TN;  // threads along n
  constexpr int kBlock = kRows * kCols;
  __shared__ T As[BK][BM + 1];
  __shared__ T Bs[BK][BN + 1];
  const int tid = threadIdx.x;
  const int tx = tid % kCols, ty = tid / kCols;
  const int64_t tiles_m = (g.M + BM - 1) / BM, tiles_n = (g.N + BN - 1) / BN;
  for (int64_t b = blockIdx.z; b < g.batch; b += gridDim.z) {
    const T* A = g.A + b * g.stride_a;
    const T* B = g.B + b * g.stride_b;
    T* C = g.C + b * g.stride_c;
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      for (int64_t tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
        const int64_t m0 = tm * BM, n0 = tn * BN;
        T acc[TM][TN];
#pragma unroll
        for (int r = 0; r < TM; ++r)
#pragma unroll
          for (int c = 0; c < TN; ++c) acc[r][c] = T(0);
        for (int64_t k0 = 0; k0 < g.K; k0 += BK) {
          for (int e = tid; e < BM * BK; e += kBlock) {
            const bool k_fast = g.a_sk == 1;
            const int kk = k_fast ? e % BK : e / BM;
            const int mm = k_fast ? e / BK : e % BM;
            const int64_t m = m0 + mm, k = k0 + kk;
            As[kk][mm] = (m < g.M && k < g.K) ? A[m * g.a_sm + k * g.a_sk] : T(0);
          }
          for (int e = tid; e < BK * BN; e += kBlock) {
            const bool n_fast = g.b_sn == 1;
            const int nn = n_fast ? e % BN : e / BK;
            const int kk = n_fast ? e / BN : e % BK;
            const int64_t k = k0 + kk, n = n0 + nn;
            Bs[kk][nn] = (k < g.K && n < g.N) ? B[k * g.b_sk + n * g.b_sn] : T(0);
          }
          __syncthreads();
#pragma unroll
          for (int kk = 0; kk < BK; ++kk) {
            T a[TM], bv[TN];
#pragma unroll
            for (int r = 0; r < TM; ++r) a[r] = As[kk][ty + r * kRows];
#pragma unroll
            for (int c = 0; c < TN; ++c) bv[c] = Bs[kk][tx + c * kCols];
#pragma unroll
            for (int r = 0; r < TM; ++r)
#pragma unroll
              for (int c = 0; c < TN; ++c) acc[r][c] += a[r] * bv[c];
          }
          __syncthreads();
        }
#pragma unroll
        for (int r = 0; r < TM; ++r) {
          const int64_t m = m0 + ty + r * kRows;
          if (m >= g.M) continue;
#pragma unroll
          for (int c = 0; c < TN; ++c) {
            const int64_t n = n0 + tx + c * kCols;
            if (n >= g.N) continue;
            T* out = C + m * g.ldc + n;
            // beta == 0: C is write-only (its old contents, even NaN, are ignored), as in BLAS.
            *out = g.beta == T(0) ? g.alpha * acc[r][c] : g.alpha * acc[r][c] + g.beta * *out;
          }
        }
      }
    }
  }
}

int multiprocessors(int device) {
  static int cached[64] = {};
  if (device < 0 || device >= 64) return 1;
  if (cached[device] == 0) {
    int n = 0;
    check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device), "gemm");
    cached[device] = n > 0 ? n : 1;
  }
  return cached[device];
}

template <typename T, int BM, int BN, int BK, int TM, int TN>
void launch_tiles(const GemmArgs<T>& g, int device) {
  const int64_t tiles_m = (g.M + BM - 1) / BM, tiles_n = (g.N + BN - 1) / BN;
  const dim3 grid(static_cast<unsigned>(tiles_n < kMaxBlocks ? tiles_n : kMaxBlocks),
                  grid_yz(tiles_m), grid_yz(g.batch));
  launch("gemm", gemm_kernel<T, BM, BN, BK, TM, TN>, grid, (BM / TM) * (BN / TN), device, g);
}

// The largest tile that still gives every multiprocessor a block: big tiles reuse each staged
// element more, small ones keep small products parallel.
template <typename T>
void own_gemm(const GemmArgs<T>& g, int device) {
  const int64_t sms = multiprocessors(device);
  auto blocks = [&](int64_t bm, int64_t bn) {
    return ((g.M + bm - 1) / bm) * ((g.N + bn - 1) / bn) * g.batch;
  };
  if (std::is_same<T, float>::value && blocks(128, 128) >= sms)
    launch_tiles<T, 128, 128, 8, 8, 8>(g, device);
  else if (blocks(64, 64) >= sms)
    launch_tiles<T, 64, 64, 16, 4, 4>(g, device);
  else
    launch_tiles<T, 32, 32, 16, 2, 2>(g, device);
}

bool cublas_switch = true;

#ifdef EMBER_WITH_CUBLAS
void check_cublas(cublasStatus_t s, const char* op) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("[") + op + "] cuBLAS error: " +
                             cublasGetStatusString(s));
}

cublasHandle_t cublas_handle(int device) {
  static std::mutex mutex;
  static std::vector<cublasHandle_t> handles;
  std::lock_guard<std::mutex> lock(mutex);
  if (handles.size() <= static_cast<size_t>(device)) handles.resize(device + 1, nullptr);
  cudaStream_t stream = stream_for(device);
  if (handles[device] == nullptr) {
    check_cublas(cublasCreate(&handles[device]), "gemm");
    check_cublas(cublasSetStream(handles[device], stream), "gemm");
  }
  return handles[device];
}

bool fits_int(const Gemm& g) {
  const int64_t limit = 2147483647;
  for (int64_t v : {g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.batch})
    if (v > limit) return false;
  return true;
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
template <typename T>
void cublas_gemm(const Gemm& g, T* c, const T* a, const T* b, int device) {
  cublasHandle_t h = cublas_handle(device);
  const cublasOperation_t ta = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const T alpha = static_cast<T>(g.alpha), beta = static_cast<T>(g.beta);
  const int M = static_cast<int>(g.M), N = static_cast<int>(g.N), K = static_cast<int>(g.K);
  const int lda = static_cast<int>(g.lda), ldb = static_cast<int>(g.ldb);
  const int ldc = static_cast<int>(g.ldc), batch = static_cast<int>(g.batch);
  if constexpr (std::is_same<T, float>::value)
    check_cublas(cublasSgemmStridedBatched(h, tb, ta, N, M, K, &alpha, b, ldb, g.stride_b, a, lda,
                                           g.stride_a, &beta, c, ldc, g.stride_c, batch),
                 "gemm");
  else
    check_cublas(cublasDgemmStridedBatched(h, tb, ta, N, M, K, &alpha, b, ldb, g.stride_b, a, lda,
                                           g.stride_a, &beta, c, ldc, g.stride_c, batch),
                 "gemm");
}
#endif

// Largest element offset (plus one) that a batch of (rows x cols) matrices with row stride ld
// touches; checked against the view's capacity so a bad call can never run out of bounds.
int64_t span(int64_t batch, int64_t stride, int64_t rows, int64_t cols, int64_t ld) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return (batch - 1) * stride + (rows - 1) * ld + cols;
}

}  // namespace

bool cublas_built() {
#ifdef EMBER_WITH_CUBLAS
  return true;
#else
  return false;
#endif
}

bool use_cublas() { return cublas_built() && cublas_switch; }
void set_use_cublas(bool on) { cublas_switch = on; }

void gemm(const Gemm& g, const View& c, const View& a, const View& b) {
  const char* op = "gemm";
  if (a.dtype != c.dtype || b.dtype != c.dtype)
    throw_value_error(op, "a, b and out must have one dtype");
  if (g.M < 0 || g.N < 0 || g.K < 0 || g.batch < 0 || g.stride_a < 0 || g.stride_b < 0 ||
      g.stride_c < 0)
    throw_value_error(op, "sizes and strides must be non-negative");
  const int64_t a_rows = g.trans_a ? g.K : g.M, a_cols = g.trans_a ? g.M : g.K;
  const int64_t b_rows = g.trans_b ? g.N : g.K, b_cols = g.trans_b ? g.K : g.N;
  if ((a_cols > 0 && g.lda < a_cols) || (b_cols > 0 && g.ldb < b_cols) ||
      (g.N > 0 && g.ldc < g.N))
    throw_value_error(op, "a leading dimension is smaller than its row length");
  if (span(g.batch, g.stride_a, a_rows, a_cols, g.lda) > a.capacity ||
      span(g.batch, g.stride_b, b_rows, b_cols, g.ldb) > b.capacity ||
      span(g.batch, g.stride_c, g.M, g.N, g.ldc) > c.capacity)
    throw_value_error(op, "the matrices extend past the end of their arrays");
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  dispatch_float(c.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    T* pc = static_cast<T*>(c.data);
    const T* pa = static_cast<const T*>(a.data);
    const T* pb = static_cast<const T*>(b.data);
#ifdef EMBER_WITH_CUBLAS
    if (cublas_switch && fits_int(g)) {
      cublas_gemm<T>(g, pc, pa, pb, c.device);
      return;
    }
#endif
    GemmArgs<T> args{g.M,
                     g.N,
                     g.K,
                     g.batch,
                     pa,
                     g.trans_a ? 1 : g.lda,
                     g.trans_a ? g.lda : 1,
                     g.stride_a,
                     pb,
                     g.trans_b ? 1 : g.ldb,
                     g.trans_b ? g.ldb : 1,
                     g.stride_b,
                     pc,
                     g.ldc,
                     g.stride_c,
                     static_cast<T>(g.alpha),
                     static_cast<T>(g.beta)};
    own_gemm(args, c.device);
  });
}

}  // namespace ember::cuda
