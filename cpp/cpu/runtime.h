// Process-wide run-time state shared by every kernel: the thread count and the SIMD path.
//
// The SIMD path is picked once from CPUID (AVX2 and FMA both present -> Avx2) and can be forced
// down to Generic, so tests can run every op on both paths from one build. The environment
// variable EMBER_SIMD=generic forces the fallback from the start.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

enum class SimdPath { Generic, Avx2 };

// The best path this CPU and this build support.
SimdPath detected_simd();
// The path kernels use now: detected_simd(), unless forced down.
SimdPath active_simd();
// "auto" -> detected path, "generic" -> portable fallback, "avx2" -> AVX2 (error if unsupported).
void set_simd(const std::string& name);
const char* simd_name(SimdPath path);

bool openmp_enabled();
int get_num_threads();
void set_num_threads(int n);

// Below this many scalar operations a kernel runs on one thread: waking a team costs a few
// microseconds, more than a tiny layer's whole work.
constexpr int64_t kMinParallelWork = 1 << 15;

// Threads for a parallel region doing `work` scalar operations. Use it as
//   #pragma omp parallel for num_threads(ember::threads_for(work)) schedule(static)
// Static schedules with a fixed thread count give a fixed partition, so results are bitwise
// reproducible run to run. The count is process-wide (not OpenMP's per-thread ICV), so kernels
// called from a data-loading thread use the same setting as the main thread.
int threads_for(int64_t work);

}  // namespace ember
