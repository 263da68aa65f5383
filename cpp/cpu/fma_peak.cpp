#include "cpu/fma_peak.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "cpu/runtime.h"

namespace ember::cpu {

namespace {

// Portable fallback: scalar chains, what the generic kernels can reach at best.
int64_t fma_chains_scalar(int64_t iterations, volatile float* sink) {
  constexpr int kChains = 8;
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = static_cast<float>(i);
  for (int64_t it = 0; it < iterations; ++it)
    for (float& a : acc) a = a * 0.999f + 0.001f;
  float sum = 0;
  for (float a : acc) sum += a;
  *sink = sum;
  return iterations * kChains * 2;
}

int64_t run_chains(int64_t iterations, volatile float* sink) {
#ifdef EMBER_HAVE_AVX512_PATH
  if (use_avx512()) return fma_detail::fma_chains_avx512(iterations, sink);
#endif
#ifdef EMBER_HAVE_AVX2_PATH
  if (use_avx2()) return fma_detail::fma_chains_avx2(iterations, sink);
#endif
  return fma_chains_scalar(iterations, sink);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

double fma_peak_gflops(int threads, double seconds) {
  threads = std::max(1, threads);
  // Calibrate on one thread, so every thread then runs the same fixed amount of work.
  float sink = 0;
  int64_t iterations = 1 << 14;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    run_chains(iterations, &sink);
    if (seconds_since(start) > seconds / 8) break;
    iterations *= 2;
  }
  iterations *= 8;
  std::vector<double> rates(threads);
  std::vector<float> sinks(threads);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int t = 0; t < threads; ++t) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t flops = run_chains(iterations, &sinks[t]);
    rates[t] = flops / seconds_since(start) * 1e-9;
  }
  double total = 0;
  for (double r : rates) total += r;
  return total;
}

}  // namespace ember::cpu
