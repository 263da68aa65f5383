#include "cpu/huge_pages.h"

#include <new>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace ember {

void* allocate_huge(size_t bytes) {
  void* block = ::operator new(bytes, std::align_val_t(kHugePage));
#ifdef __linux__
  madvise(block, bytes, MADV_HUGEPAGE);  // advice only: its failure changes nothing
#endif
  return block;
}

void free_huge(void* block) noexcept { ::operator delete(block, std::align_val_t(kHugePage)); }

}  // namespace ember
