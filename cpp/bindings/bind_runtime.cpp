#include <pybind11/stl.h>

#include "bindings/registry.h"
#include "cpu/block_cache.h"
#include "cpu/fma_peak.h"
#include "cpu/malloc_policy.h"
#include "cpu/runtime.h"
#ifdef EMBER_WITH_CUDA
#include "cuda/api.h"
#endif

namespace ember::bind {

namespace py = pybind11;

void bind_runtime(py::module_& m) {
  apply_malloc_policy();
  m.def("build_info", [] {
    py::dict d;
    d["version"] = EMBER_VERSION;
    d["compiler"] = EMBER_COMPILER;
    d["build_type"] = EMBER_BUILD_TYPE;
    d["openmp"] = openmp_enabled();
    d["max_threads"] = get_num_threads();
    d["simd_detected"] = simd_name(detected_simd());
    d["simd"] = simd_name(active_simd());
    d["malloc"] = apply_malloc_policy();
    d["output_cache"] = "outputs from 32 MiB reuse up to 256 MiB of freed blocks";
#ifdef EMBER_WITH_CUDA
    d["cuda"] = true;
    d["cuda_version"] = EMBER_CUDA_VERSION;  // the toolkit ember was compiled with
    d["cuda_gemm"] = cuda::use_cublas() ? "cuBLAS" : "ember";
#else
    d["cuda"] = false;
#endif
    return d;
  });
  m.def(
      "block_cache_stats",
      [] {
        const BlockCacheStats s = block_cache_stats();
        py::dict d;
        d["cached_bytes"] = s.cached_bytes;
        d["cached_blocks"] = s.cached_blocks;
        d["live_blocks"] = s.live_blocks;
        d["from_bytes"] = kBlockCacheFrom;
        d["limit_bytes"] = kBlockCacheLimit;
        return d;
      },
      "Kernel outputs of from_bytes or more: blocks alive in arrays, and freed ones kept for "
      "reuse (at most limit_bytes in all).");
  m.def(
      "empty_cache",
      [] {
        size_t bytes;
        {
          py::gil_scoped_release nogil;
          bytes = empty_block_cache();
          trim_freed_memory();
        }
        return bytes;
      },
      "Free the cached kernel-output blocks and hand the allocator's kept heap back to the OS; "
      "returns the cached bytes freed.");
  m.def("get_num_threads", &get_num_threads);
  m.def("_physical_cores", &physical_cores, py::arg("sysfs_cpu_dir"), py::arg("cpus"),
        "Distinct (package, core) pairs among cpus in a sysfs tree; 0 if unreadable.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("set_simd", &set_simd, py::arg("name"),
        "Force the SIMD path: 'auto', 'generic' (portable fallback), 'avx2', 'avx512' or 'amx'\n"
        "(AVX-512 with the float32 GEMM on AMX tiles).");
  m.def("get_simd", [] { return std::string(simd_name(active_simd())); });
  m.def(
      "fma_peak",
      [](int threads, double seconds) {
        if (threads < 1) throw py::value_error("[fma_peak] threads: expected >= 1");
        if (!(seconds > 0 && seconds <= 60))
          throw py::value_error("[fma_peak] seconds: expected in (0, 60]");
        py::gil_scoped_release nogil;
        return cpu::fma_peak_gflops(threads, seconds);
      },
      py::arg("threads") = 1, py::arg("seconds") = 0.2,
      "Measured float32 FMA throughput (GFLOP/s) of the active SIMD path on `threads` threads.");
}

}  // namespace ember::bind
