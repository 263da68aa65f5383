"""Dropout and its Philox stream: known answers, reproducibility, independence from the thread
count and from how the work is split, keep-rate statistics, exact scaling, and edge cases."""

import math

import numpy as np
import pytest
from op_harness import OpCase, check_case, check_thread_consistency
from reference import dropout as ref

import ember
from ember import _C

try:
    import torch
except ImportError:
    torch = None

# Philox4x32-10 known answers from the Random123 distribution's kat_vectors:
# (counter words, key words) -> output words.
PHILOX_KAT = [
    (
        (0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000000, 0x00000000),
        (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8),
    ),
    (
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        (0xFFFFFFFF, 0xFFFFFFFF),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("counter,key,expected", PHILOX_KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(_C.philox4x32_10(counter, key)) == expected
    assert tuple(int(w) for w in ref.philox4x32_10([counter], key)[0]) == expected


# (shape, p, seed, offset): seeds above 2**32 use both key words, offsets above 2**32 both
# counter words, and offsets that are not multiples of 4 start mid-group.
ROWS = [
    ((1,), 0.1, 7, 0),
    ((7,), 0.5, 123, 3),
    ((13, 33), 0.3, 2**40 + 17, 5),
    ((2, 3, 5), 0.25, 2**64 - 1, 2**33 + 2),
    # the stream wraps to position 0 mid-row; 205 elements end in a partial SIMD step
    ((5, 41), 0.5, 3, 2**64 - 70),
    ((64, 1000), 0.5, 99, 1),
    # whole 64-element vector steps from a group boundary, then a 32-step and a partial one
    ((2, 50), 0.3, 5, 8),
    # the counter's high word changes mid-tensor (group 2**32 at element 6)
    ((7, 19), 0.5, 21, 2**34 - 6),
]


def dropout_case(shape, p, seed, offset):
    return OpCase(
        name=f"dropout{shape} p={p} seed={seed} offset={offset}",
        make_inputs=lambda rng: {"x": rng.standard_normal(shape)},
        native_forward=lambda a: _C.dropout_forward(a["x"], p, seed, offset),
        reference_forward=lambda a: ref.dropout(a["x"], p, seed, offset),
        wrt=("x",),
        native_backward=lambda d, a: {"x": _C.dropout_backward(d, p, seed, offset)},
        reference_backward=lambda d, a: {"x": ref.dropout_backward(d, p, seed, offset)},
    )


CASES = [dropout_case(*row) for row in ROWS]


@pytest.mark.parametrize("case", CASES[:-1], ids=str)
def test_dropout(case, dtype, simd):
    check_case(case, dtype)


@pytest.mark.parametrize("case", CASES[-1:], ids=str)
def test_dropout_threads(case):
    check_thread_consistency(case)


@pytest.mark.parametrize(
    "n,p,seed,offset",
    [(300, 0.5, 0, 0), (301, 0.2, 2**63 + 5, 2**32 - 3), (257, 0.9, 1, 2**64 - 130)],
)
def test_mask_matches_reference(n, p, seed, offset):
    """The last row runs off the end of the stream and wraps around to position 0."""
    expected = ref.keep_mask(n, p, seed, offset)
    for dtype in ("float32", "float64", "bool"):
        mask = _C.dropout_mask(n, p, seed, offset, dtype=dtype)
        assert mask.dtype == np.dtype(dtype) and mask.shape == (n,)
        assert np.array_equal(mask.astype(np.float64), expected), f"mask as {dtype}"


def test_threshold_is_inclusive_on_the_24_bit_grid():
    """u = (word >> 8) * 2**-24 and keep = u >= p: p equal to an element's uniform keeps it, and
    p half a grid step above drops it (a 32-bit or exclusive conversion fails one of the two)."""
    n, seed, offset = 64, 11, 6
    u = ref.uniforms(n, seed, offset)
    for j in (0, 13, 63):
        for p, kept in ((u[j], 1.0), (u[j] + 2.0**-25, 0.0)):
            mask = _C.dropout_mask(n, p, seed, offset, dtype="float64")
            assert mask[j] == kept, f"element {j} at p = u[j] {'+ 2**-25' if not kept else ''}"
            assert np.array_equal(mask, ref.keep_mask(n, p, seed, offset))


def test_mask_is_a_function_of_seed_and_position():
    n, p = 10_001, 0.5
    a = _C.dropout_mask(n, p, 42, 7)
    assert np.array_equal(a, _C.dropout_mask(n, p, 42, 7)), "same (seed, offset), same mask"
    assert not np.array_equal(a, _C.dropout_mask(n, p, 42, 7 + n)), "next offset, new mask"
    assert not np.array_equal(a, _C.dropout_mask(n, p, 43, 7)), "other seed, new mask"
    # Element i depends on offset + i only: shifting the offset shifts the mask.
    assert np.array_equal(a[5:], _C.dropout_mask(n - 5, p, 42, 12))
    # Any split of the range gives the same elements.
    for k in (1, 2, 3, 4, 5, 4096, 9_999):
        parts = [_C.dropout_mask(k, p, 42, 7), _C.dropout_mask(n - k, p, 42, 7 + k)]
        assert np.array_equal(a, np.concatenate(parts)), f"split at {k}"


def test_thread_count_does_not_change_the_mask():
    n, p, seed, offset = 100_003, 0.3, 5, 3
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    results = []
    for threads in (1, 2):
        with ember._runtime.num_threads(threads):
            results.append(
                (
                    _C.dropout_mask(n, p, seed, offset),
                    _C.dropout_forward(x, p, seed, offset),
                    _C.dropout_backward(x, p, seed, offset),
                )
            )
    for one, two in zip(*results):
        assert np.array_equal(one, two)


def within_binomial_bound(count, trials, prob, sigmas=6.0):
    return abs(count - trials * prob) <= sigmas * math.sqrt(trials * prob * (1 - prob))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate(p):
    """Kept counts, per Philox word and for disjoint pairs of elements, within 6 binomial standard
    deviations of the expected value (a false failure has probability ~2e-9 per check)."""
    n = 10**6
    keep = _C.dropout_mask(n, p, 2024, 11, dtype=bool)
    q = 1 - p
    assert within_binomial_bound(keep.sum(), n, q), f"kept {keep.sum()} of {n} at p={p}"
    for first in range(4):  # each residue class mod 4 reads one of the four Philox words
        lane_keep = keep[first::4]
        assert within_binomial_bound(lane_keep.sum(), lane_keep.size, q), f"elements {first}::4"
    for lag in (1, 4):  # neighbours, and the same word of neighbouring Philox calls
        blocks = keep[: n - n % (2 * lag)].reshape(-1, 2, lag)  # disjoint pairs (i, i + lag)
        both = (blocks[:, 0] & blocks[:, 1]).sum()
        assert within_binomial_bound(both, blocks.size // 2, q * q), f"pairs at lag {lag}"


@pytest.mark.parametrize("p", [0.1, 0.5, 0.7])
def test_scaling_is_exact(p, dtype):
    x = np.random.default_rng(1).standard_normal(4099).astype(dtype)
    y = _C.dropout_forward(x, p, 3, 1)
    keep = _C.dropout_mask(x.size, p, 3, 1, dtype=bool)
    assert 0 < keep.sum() < x.size
    assert np.array_equal(y[keep], x[keep] / dtype(1 - p)), "kept elements are x / (1 - p)"
    assert not y[~keep].any(), "dropped elements are zero"
    dout = np.random.default_rng(2).standard_normal(x.size).astype(dtype)
    dx = _C.dropout_backward(dout, p, 3, 1)
    assert np.array_equal(dx, dout * keep.astype(dtype) / dtype(1 - p))


def test_p_zero_is_identity(dtype):
    x = np.array([1.5, -2.0, np.nan, np.inf, 0.0, -0.0, 3.25], dtype=dtype)
    np.testing.assert_array_equal(_C.dropout_forward(x, 0.0, 1, 0), x)
    np.testing.assert_array_equal(_C.dropout_backward(x, 0.0, 1, 0), x)
    assert _C.dropout_mask(1001, 0.0, 1, 0).all()


def test_p_one_drops_everything(dtype):
    x = np.random.default_rng(0).standard_normal(1001).astype(dtype)
    assert not _C.dropout_forward(x, 1.0, 1, 0).any()
    assert not _C.dropout_backward(x, 1.0, 1, 0).any()
    assert not _C.dropout_mask(1001, 1.0, 1, 0).any()
    special = np.array([np.nan, 1.0, -2.0, np.inf], dtype=dtype)
    y = _C.dropout_forward(special, 1.0, 1, 0)
    np.testing.assert_array_equal(y, [np.nan, 0.0, 0.0, np.nan])  # x * 0: NaN, inf give NaN
    if torch is not None:
        t = torch.nn.functional.dropout(torch.tensor(special), p=1.0).numpy()
        np.testing.assert_array_equal(y, t)


def test_empty_input(dtype):
    assert _C.dropout_forward(np.zeros((0, 3), dtype), 0.5, 1, 0).shape == (0, 3)
    assert _C.dropout_mask(0, 0.5, 1, 0).shape == (0,)


def test_dropout_rejects_bad_input():
    x = np.ones(4, np.float32)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"\[dropout\] p must be in \[0, 1\], got"):
            _C.dropout_forward(x, p, 0, 0)
    with pytest.raises(ValueError, match=r"\[dropout_backward\] p must be in \[0, 1\]"):
        _C.dropout_backward(x, 2.0, 0, 0)
    with pytest.raises(ValueError, match=r"\[dropout_mask\] p must be in \[0, 1\]"):
        _C.dropout_mask(4, -1.0, 0, 0)
    with pytest.raises(ValueError, match=r"\[dropout\] seed must be in \[0, 2\*\*64\), got -1"):
        _C.dropout_forward(x, 0.5, -1, 0)
    with pytest.raises(ValueError, match=r"\[dropout\] offset must be in \[0, 2\*\*64\)"):
        _C.dropout_forward(x, 0.5, 0, 2**64)
    with pytest.raises(TypeError, match=r"\[dropout\] seed: expected an int, got float"):
        _C.dropout_forward(x, 0.5, 1.0, 0)
    with pytest.raises(TypeError, match=r"\[dropout\] x: expected float32 or float64"):
        _C.dropout_forward(np.ones(4, np.int64), 0.5, 0, 0)
    with pytest.raises(ValueError, match=r"\[dropout\] x: expected a C-contiguous"):
        _C.dropout_forward(np.ones((4, 4), np.float32)[:, 1], 0.5, 0, 0)
    with pytest.raises(ValueError, match=r"\[dropout_mask\] n must be >= 0, got -3"):
        _C.dropout_mask(-3, 0.5, 0, 0)
    with pytest.raises(TypeError, match=r"\[dropout_mask\] dtype: expected float32, float64"):
        _C.dropout_mask(3, 0.5, 0, 0, dtype="int32")
    # NumPy integers are accepted as seeds and offsets.
    assert np.array_equal(
        _C.dropout_mask(9, 0.5, np.uint64(2**64 - 1), np.int64(3)),
        _C.dropout_mask(9, 0.5, 2**64 - 1, 3),
    )


@pytest.mark.parametrize("offset", [5, 8])
@pytest.mark.parametrize("p", [0.5, 0.75, 0.3])
def test_scaling_is_bitwise_on_special_values(p, offset, dtype, simd):
    """Where 1 - p is a power of two the vector path may multiply by the exact reciprocal instead
    of dividing: the bits must still be those of x * keep / (1 - p) for subnormals, values that
    overflow when scaled, infinities, NaN and signed zeros."""
    info = np.finfo(dtype)
    special = np.array(
        [info.smallest_subnormal, -3 * info.smallest_subnormal, info.tiny / 3, info.max,
         -info.max / 1.5, np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0, -1e-30],
        dtype=dtype,
    )  # fmt: skip
    x = np.tile(special, 40)  # 480 elements: full vectors, a tail, kept and dropped lanes
    keep = _C.dropout_mask(x.size, p, 11, offset, dtype=bool)
    assert 0 < keep.sum() < x.size
    with np.errstate(over="ignore", invalid="ignore"):
        expected = x * keep.astype(dtype) / dtype(1 - p)
    y = _C.dropout_forward(x, p, 11, offset)
    assert np.array_equal(y.view(f"u{y.itemsize}"), expected.view(f"u{y.itemsize}"))
