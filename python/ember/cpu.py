"""ember.cpu: the CPU's memory controls, as ember.cuda has for a GPU.

Training frees and allocates the same buffers every step, so ember keeps freed memory for reuse
instead of handing it back to the OS: kernel outputs of 32 MiB and more in its own block cache
(up to 256 MiB), smaller ones in glibc's heap (also up to 256 MiB, see the README's Memory
notes). A process that is done with big tensors and goes on with something else can give that
memory back with `empty_cache()`.
"""

from __future__ import annotations

from ember import _C


def empty_cache() -> int:
    """Free the kernel-output blocks cached for reuse and trim the allocator's kept heap; returns
    the bytes of cached blocks freed. Tensors still alive are untouched."""
    return int(_C.empty_cache())


def memory_cached() -> int:
    """Bytes of freed kernel-output blocks held for reuse (what empty_cache() would free)."""
    return int(_C.block_cache_stats()["cached_bytes"])


__all__ = ["empty_cache", "memory_cached"]
