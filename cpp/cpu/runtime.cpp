#include "cpu/runtime.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember {
namespace {

SimdPath probe_cpu() {
#if defined(EMBER_HAVE_AVX2_PATH) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return SimdPath::Generic;
#if defined(EMBER_HAVE_AVX512_PATH)
  if (__builtin_cpu_supports("avx512f")) return SimdPath::Avx512;
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
  return best;
}

SimdPath g_active = initial_path();

int initial_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();  // honours OMP_NUM_THREADS
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
    case SimdPath::Avx512: return "avx512f+avx2+fma";  // AVX-512 GEMM, AVX2 elsewhere
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
  } else {
    throw std::invalid_argument("set_simd: expected 'auto', 'generic', 'avx2' or 'avx512', got '" +
                                name + "'");
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
