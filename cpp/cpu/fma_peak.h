// The machine's measured float32 FMA throughput, the ceiling that "% of peak" in the benchmarks
// is taken against. Nominal figures (clock x units x lanes) are unreliable on VMs and laptops:
// the reported clock is the base clock, turbo and AVX-512 frequency licences move the real one.
//
// Each thread runs independent chains of vector FMAs (more chains than the FMA latency x the
// number of FMA units, so the units never wait) for about `seconds`, on the widest path the GEMM
// uses (active_simd()); the result is flops per second summed over the threads, in GFLOP/s.
#pragma once

#include <cstdint>

namespace ember::cpu {

double fma_peak_gflops(int threads, double seconds);

namespace fma_detail {
// `iterations` rounds of the chains on one thread; returns the flops done. The sum of the chains
// is stored to the volatile `sink` so that the compiler cannot drop the loop, even where it
// inlines the call (a plain float that nobody read let GCC delete the portable loop, and the
// calibration then doubled its count forever).
int64_t fma_chains_avx2(int64_t iterations, volatile float* sink);
int64_t fma_chains_avx512(int64_t iterations, volatile float* sink);
}  // namespace fma_detail

}  // namespace ember::cpu
