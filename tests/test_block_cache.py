"""Kernel outputs from 32 MiB: their blocks are kept after the arrays die and handed to the next
output of about their size, already mapped (no page faults). Kernels must therefore write every
element of an output they allocate: a reused block holds whatever the last array left there,
where a fresh mapping would read as zeros."""

import gc
import sys

import numpy as np
import pytest

from ember import _C

STATS = _C.block_cache_stats()
FROM = STATS["from_bytes"]
LIMIT = STATS["limit_bytes"]
MIB = 1 << 20


def address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def cached_output(nbytes: int) -> np.ndarray:
    """A kernel output of nbytes (float32) from the block cache."""
    return _C.relu_forward(np.zeros(nbytes // 4, np.float32))


def poison_cache(nbytes: int) -> int:
    """Leaves a NaN-filled block of nbytes as the newest cached one; returns its address."""
    y = cached_output(nbytes)
    y.fill(np.nan)
    poisoned = address(y)
    del y
    return poisoned


def test_a_freed_output_block_is_reused_for_the_next_output_of_its_size():
    x = np.linspace(-1, 1, FROM // 4 + 1000, dtype=np.float32)
    y = _C.relu_forward(x)
    assert y.flags.c_contiguous and y.flags.writeable and y.dtype == np.float32
    first = address(y)
    live = _C.block_cache_stats()["live_blocks"]
    other = _C.relu_forward(x)
    assert address(other) != first  # a live block is never handed out twice
    assert _C.block_cache_stats()["live_blocks"] == live + 1
    del y
    again = _C.relu_forward(-x)
    assert address(again) == first
    np.testing.assert_array_equal(again, np.maximum(-x, 0))
    np.testing.assert_array_equal(other, np.maximum(x, 0))


def test_small_outputs_stay_with_malloc():
    before = _C.block_cache_stats()["live_blocks"]
    y = _C.relu_forward(np.zeros(FROM // 4 - 1, np.float32))
    assert _C.block_cache_stats()["live_blocks"] == before
    del y


def test_a_much_larger_block_is_not_handed_to_a_small_request():
    big = cached_output(4 * FROM)
    big_address = address(big)
    del big
    small = cached_output(FROM)
    assert address(small) != big_address


def test_the_cache_keeps_at_most_its_limit_and_gives_back_the_oldest():
    size = 36 * MIB
    outputs = [cached_output(size) for _ in range(LIMIT // size + 2)]
    addresses = [address(o) for o in outputs]
    while outputs:  # freed first to last
        del outputs[0]
    stats = _C.block_cache_stats()
    assert 0 < stats["cached_bytes"] <= LIMIT
    assert stats["cached_blocks"] == LIMIT // size
    # The newest freed blocks are the ones kept: the next requests get them, never the oldest.
    reused = [cached_output(size) for _ in range(stats["cached_blocks"])]
    assert {address(r) for r in reused} <= set(addresses[-stats["cached_blocks"] :])


def test_memory_error_for_an_output_too_large_to_map():
    a = np.zeros((1, 1 << 23), np.float32)
    with pytest.raises(MemoryError):
        _C.gemm(a, a, trans_a=True)  # 2^46 floats, 256 TiB


# Kernels whose outputs start from a block of old data: each result must match one computed into
# fresh memory. Every case's output is one of the sizes poisoned just before.
def _maxpool_backward(rng):
    x = rng.standard_normal((64, 32, 64, 64), dtype=np.float32)  # 32 MiB
    y, idx = _C.max_pool2d_forward(x, (2, 2), (2, 2))
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    return lambda: _C.max_pool2d_backward(dy, idx, x.shape), x.nbytes


def _avgpool_backward(rng):
    x = rng.standard_normal((64, 32, 64, 64), dtype=np.float32)
    dy = rng.standard_normal((64, 32, 32, 32), dtype=np.float32)
    return lambda: _C.avg_pool2d_backward(dy, x.shape, (2, 2), (2, 2)), x.nbytes


def _conv_backward_dx(rng):
    x = rng.standard_normal((64, 2, 256, 256), dtype=np.float32)  # 32 MiB
    w = rng.standard_normal((2, 2, 3, 3), dtype=np.float32)
    dy = rng.standard_normal((64, 2, 254, 254), dtype=np.float32)
    return lambda: _C.conv2d_backward(dy, x, w, need_dweight=False, need_dbias=False)[0], x.nbytes


def _cross_entropy_backward(rng):
    logits = rng.standard_normal((8192, 1025), dtype=np.float32)
    target = rng.integers(0, 1025, 8192)
    dout = np.ones((), np.float32)
    return lambda: _C.cross_entropy_backward(dout, logits, target), logits.nbytes


def _gemm_beta_zero(rng):
    a = rng.standard_normal((4096, 16), dtype=np.float32)
    b = rng.standard_normal((16, 2049), dtype=np.float32)
    return lambda: _C.gemm(a, b), 4096 * 2049 * 4


@pytest.mark.parametrize(
    "case", [_maxpool_backward, _avgpool_backward, _conv_backward_dx, _cross_entropy_backward,
             _gemm_beta_zero],
    ids=lambda c: c.__name__.lstrip("_"),
)  # fmt: skip
def test_kernels_write_every_element_of_a_reused_block(case):
    run, nbytes = case(np.random.default_rng(0))
    assert nbytes >= FROM
    fresh = run().copy()
    gc.collect()
    poisoned = poison_cache(nbytes)
    reused = run()
    assert address(reused) == poisoned
    assert np.array_equal(reused, fresh)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_empty_cache_gives_cached_blocks_back_and_keeps_live_ones():
    import ember

    x = np.linspace(-1, 1, 2 * FROM // 4, dtype=np.float32)
    kept = _C.relu_forward(x)
    dropped = _C.relu_forward(-x)
    del dropped
    gc.collect()
    cached = ember.cpu.memory_cached()
    assert cached >= 2 * FROM
    live = _C.block_cache_stats()["live_blocks"]
    rss = rss_bytes()
    assert ember.cpu.empty_cache() == cached
    assert ember.cpu.memory_cached() == 0
    assert _C.block_cache_stats()["live_blocks"] == live
    # The freed block was resident (written by the kernel): its pages leave the process.
    assert rss - rss_bytes() >= 2 * FROM - 4 * MIB
    np.testing.assert_array_equal(kept, np.maximum(x, 0))
    again = _C.relu_forward(-x)  # and the cache still serves new outputs
    np.testing.assert_array_equal(again, np.maximum(-x, 0))
