// Process-wide run-time state shared by every kernel: the thread count and the SIMD path.
//
// The SIMD path is picked once from CPUID (AVX2 and FMA -> Avx2; AVX-512F too -> Avx512; AMX-BF16
// and AVX512-BF16 too, with Linux granting the tile state -> Amx) and can be forced down, so
// tests can run every op on every path from one build. The environment variable
// EMBER_SIMD=generic, avx2 or avx512 caps the path from the start. Paths are ordered: a kernel
// with only an AVX2 version uses it whenever use_avx2() holds, on AVX-512 CPUs too, and only the
// float32 GEMM has an AMX version (gemm_amx.h): on Amx every other kernel runs its AVX-512 one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember {

enum class SimdPath { Generic, Avx2, Avx512, Amx };

// The best path this CPU and this build support.
SimdPath detected_simd();
// The path kernels use now: detected_simd(), unless forced down.
SimdPath active_simd();
// True when the AVX2+FMA kernels may run: the active path is Avx2 or above.
inline bool use_avx2() { return active_simd() >= SimdPath::Avx2; }
// True when the AVX-512F kernels may run: the active path is Avx512 or Amx.
inline bool use_avx512() { return active_simd() >= SimdPath::Avx512; }
// "auto" -> detected path, "generic" -> portable fallback, "avx2" -> AVX2, "avx512" -> AVX-512F,
// "amx" -> AMX GEMM (error if this CPU or build lacks the path).
void set_simd(const std::string& name);
// "generic", "avx2+fma", "avx512f+avx2+fma" or "amx+avx512f+avx2+fma".
const char* simd_name(SimdPath path);

bool openmp_enabled();
// The default is OMP_NUM_THREADS when set, else one thread per physical core this process may use.
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

// Distinct (package, core) pairs among `cpus`, read from Linux's sysfs topology files under
// `sysfs_cpu_dir` (/sys/devices/system/cpu); 0 when any is missing or unreadable.
int physical_cores(const std::string& sysfs_cpu_dir, const std::vector<int>& cpus);

}  // namespace ember
