// How the process's allocator treats the activation buffers that training frees and allocates
// again every step.
//
// glibc serves blocks above a (dynamic) threshold with mmap and gives the top of its heap back to
// the OS as soon as more than 128 KiB..64 MiB of it are free. A training step frees its
// activations (a few MB for LeNet at batch 64) and allocates the same sizes again, so every step
// page-faults them back in, zero-filled by the kernel: ~10% of a LeNet-5 step on one core.
// At import ember asks glibc to keep up to 256 MiB of freed heap and to mmap only blocks of
// 32 MiB and more (glibc's own upper bound for its dynamic threshold). A user who set
// MALLOC_TRIM_THRESHOLD_ or MALLOC_MMAP_THRESHOLD_ keeps their setting; other C libraries are
// left alone.
#pragma once

namespace ember {

// Applies the policy once; returns what is in force, for build_info().
const char* apply_malloc_policy();

// Hands the allocator's freed-but-kept memory back to the OS now (glibc's malloc_trim); a no-op
// with other C libraries.
void trim_freed_memory() noexcept;

}  // namespace ember
