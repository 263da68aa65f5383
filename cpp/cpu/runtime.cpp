#include "cpu/runtime.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>
#include <utility>

#ifdef __linux__
#include <sched.h>
#endif
#if defined(EMBER_HAVE_AMX_PATH) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember {

int physical_cores(const std::string& sysfs_cpu_dir, const std::vector<int>& cpus) {
  std::set<std::pair<long, long>> cores;  // (package, core)
  for (const int cpu : cpus) {
    const std::string topology = sysfs_cpu_dir + "/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream core_file(topology + "core_id"), package_file(topology + "physical_package_id");
    long core = 0, package = 0;
    if (!(core_file >> core) || !(package_file >> package)) return 0;
    cores.emplace(package, core);
  }
  return static_cast<int>(cores.size());
}

namespace {

// AMX-TILE, AMX-BF16, AVX512BW and AVX512-BF16 in CPUID, and Linux (5.16 on) granting this
// process the 8 KiB tile state, which it hands out only on request. Asked once.
[[maybe_unused]] bool amx_supported() {
#if defined(EMBER_HAVE_AMX_PATH) && defined(__linux__)
  static const bool supported = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool tiles = (d >> 24 & 1) && (d >> 22 & 1);
    const bool avx512bw = b >> 30 & 1;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    const bool avx512_bf16 = a >> 5 & 1;
    if (!(tiles && avx512bw && avx512_bf16)) return false;
    constexpr long kRequestPermission = 0x1023, kTileData = 18;  // ARCH_REQ_XCOMP_PERM
    return syscall(SYS_arch_prctl, kRequestPermission, kTileData) == 0;
  }();
  return supported;
#else
  return false;
#endif
}

SimdPath probe_cpu() {
#if defined(EMBER_HAVE_AVX2_PATH) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return SimdPath::Generic;
#if defined(EMBER_HAVE_AVX512_PATH)
  if (__builtin_cpu_supports("avx512f")) return amx_supported() ? SimdPath::Amx : SimdPath::Avx512;
#endif
  return SimdPath::Avx2;
#else
  return SimdPath::Generic;
#endif
}

SimdPath initial_path() {
  const char* env = std::getenv("EMBER_SIMD");
  const SimdPath best = probe_cpu();
  if (env && std::string(env) == "generic") return SimdPath::Generic;
  if (env && std::string(env) == "avx2") return std::min(best, SimdPath::Avx2);
  if (env && std::string(env) == "avx512") return std::min(best, SimdPath::Avx512);
  return best;
}

SimdPath g_active = initial_path();

// The CPUs this process may run on (its affinity mask, as set by taskset or a cgroup cpuset).
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
#endif
  return cpus;
}

// OMP_NUM_THREADS when set; otherwise one thread per physical core among the allowed CPUs, as
// PyTorch does. A core's SMT siblings share its FMA units and caches: compute-bound kernels gain
// nothing from the second sibling, and every parallel region's barrier then waits on the slower
// of two threads sharing a core.
int initial_threads() {
#ifdef _OPENMP
  const int openmp = omp_get_max_threads();  // honours OMP_NUM_THREADS and the affinity mask
  if (std::getenv("OMP_NUM_THREADS")) return openmp;
  const int cores = physical_cores("/sys/devices/system/cpu", allowed_cpus());
  return cores > 0 ? std::min(openmp, cores) : openmp;
#else
  return 1;
#endif
}

int g_num_threads = initial_threads();

}  // namespace

SimdPath detected_simd() { return probe_cpu(); }
SimdPath active_simd() { return g_active; }

const char* simd_name(SimdPath path) {
  switch (path) {
    case SimdPath::Amx: return "amx+avx512f+avx2+fma";  // AMX float32 GEMM, AVX-512 elsewhere
    case SimdPath::Avx512: return "avx512f+avx2+fma";
    case SimdPath::Avx2: return "avx2+fma";
    default: return "generic";
  }
}

void set_simd(const std::string& name) {
  if (name == "auto") {
    g_active = probe_cpu();
  } else if (name == "generic") {
    g_active = SimdPath::Generic;
  } else if (name == "avx2") {
    if (probe_cpu() < SimdPath::Avx2)
      throw std::invalid_argument("set_simd: this CPU or build has no AVX2+FMA path");
    g_active = SimdPath::Avx2;
  } else if (name == "avx512") {
    if (probe_cpu() < SimdPath::Avx512)
      throw std::invalid_argument("set_simd: this CPU or build has no AVX-512F path");
    g_active = SimdPath::Avx512;
  } else if (name == "amx") {
    if (probe_cpu() < SimdPath::Amx)
      throw std::invalid_argument("set_simd: this CPU, OS or build has no AMX path");
    g_active = SimdPath::Amx;
  } else {
    throw std::invalid_argument(
        "set_simd: expected 'auto', 'generic', 'avx2', 'avx512' or 'amx', got '" + name + "'");
  }
}

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int get_num_threads() { return g_num_threads; }

void set_num_threads(int n) {
  if (n < 1)
    throw std::invalid_argument("set_num_threads: n must be >= 1, got " + std::to_string(n));
#ifdef _OPENMP
  g_num_threads = n;
#endif
}

int threads_for(int64_t work) { return work >= kMinParallelWork ? g_num_threads : 1; }

}  // namespace ember
