#include "cpu/malloc_policy.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ember {

const char* apply_malloc_policy() {
#if defined(__GLIBC__)
  static const char* const policy = [] {
    if (std::getenv("MALLOC_TRIM_THRESHOLD_") || std::getenv("MALLOC_MMAP_THRESHOLD_"))
      return "glibc, as set by MALLOC_*_ environment variables";
    constexpr int kKeepFreed = 256 << 20, kMmapFrom = 32 << 20;
    if (mallopt(M_TRIM_THRESHOLD, kKeepFreed) != 1 || mallopt(M_MMAP_THRESHOLD, kMmapFrom) != 1)
      return "glibc defaults (mallopt refused)";
    return "glibc, keeps up to 256 MiB freed, mmap from 32 MiB";
  }();
  return policy;
#else
  return "system default";
#endif
}

void trim_freed_memory() noexcept {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace ember
