"""The float32 GEMM on AMX tiles (bf16x3 split): as accurate as the FMA path, the same results on
values it cannot split exactly (it falls back), and used where it applies."""

import itertools

import numpy as np
import pytest

import ember
from ember import _C
from ember._runtime import num_threads, simd_path

pytestmark = pytest.mark.skipif(
    not ember.build_info()["simd_detected"].startswith("amx"),
    reason="no AMX path on this CPU, OS or build",
)

TRANSPOSES = list(itertools.product([False, True], repeat=2))


def operands(rng, M, N, K, trans_a, trans_b, scale=1.0):
    a = rng.standard_normal((K, M) if trans_a else (M, K)) * scale
    b = rng.standard_normal((N, K) if trans_b else (K, N)) * scale
    return a.astype(np.float32), b.astype(np.float32)


def exact(a, b, trans_a, trans_b):
    op_a = (a.T if trans_a else a).astype(np.float64)
    op_b = (b.T if trans_b else b).astype(np.float64)
    return op_a @ op_b, np.abs(op_a) @ np.abs(op_b)


def gemm_on(path, a, b, trans_a, trans_b, c=None, beta=0.0):
    out = None if c is None else c.copy()
    with simd_path(path):
        return _C.gemm(a, b, trans_a=trans_a, trans_b=trans_b, beta=beta, out=out)


@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
# Last column blocks of 1 to 4 tiles (of 16) in either orientation: 333 and 129 end with one
# tile's worth, 280 with two, 300 with three.
@pytest.mark.parametrize(
    "M,N,K", [(128, 128, 64), (200, 333, 700), (517, 129, 1100), (300, 280, 96)], ids=str
)
def test_amx_is_as_accurate_as_the_fma_path(M, N, K, trans_a, trans_b):
    """Error against float64, relative to sum |a_ik b_kj| (results can cancel to near zero). The
    split's three dropped piece products are below 2^-26 of each term, so float32 rounding of the
    sums dominates both paths' errors. They round differently, so their worst elements differ by
    chance (AMX/FMA 0.6-1.6 here): the worst is held within 2x, the mean (0.55-0.92) within
    1.25x. A piece lost would cost ~2^-17 per term, over fifty times the FMA path's worst."""
    rng = np.random.default_rng(M + N + K)
    a, b = operands(rng, M, N, K, trans_a, trans_b)
    want, scale = exact(a, b, trans_a, trans_b)
    amx = gemm_on("amx", a, b, trans_a, trans_b)
    fma = gemm_on("avx512", a, b, trans_a, trans_b)
    assert not np.array_equal(amx, fma), "the AMX path did not run"
    amx_error, fma_error = np.abs(amx - want) / scale, np.abs(fma - want) / scale
    assert amx_error.max() <= 2 * fma_error.max(), (amx_error.max(), fma_error.max())
    assert amx_error.mean() <= 1.25 * fma_error.mean(), (amx_error.mean(), fma_error.mean())


def test_amx_accumulates_onto_c_and_keeps_bias():
    rng = np.random.default_rng(3)
    a, b = operands(rng, 150, 260, 530, False, True)
    c = rng.standard_normal((150, 260)).astype(np.float32)
    want, scale = exact(a, b, False, True)
    got = gemm_on("amx", a, b, False, True, c=c, beta=1.0)
    assert np.max(np.abs(got - (want + c)) / (scale + np.abs(c))) <= 2.0**-22


def test_amx_keeps_small_and_large_magnitudes():
    """Pieces of values down to 2^-103 and up to 2^127 stay normal bfloat16: no relative loss."""
    rng = np.random.default_rng(4)
    for scale in (1e-12, 1e12):
        a, b = operands(rng, 160, 200, 96, False, False, scale)
        want, size = exact(a, b, False, False)
        got = gemm_on("amx", a, b, False, False)
        assert np.max(np.abs(got - want) / size) <= 2.0**-22, scale


@pytest.mark.parametrize("beta", [0.0, 1.0])
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize(
    "special", [np.inf, -np.inf, np.nan, 1e-35, -2e-38, 3e38], ids=lambda v: f"{v:g}"
)
@pytest.mark.parametrize("where", ["a", "b"])
def test_values_the_split_cannot_hold_fall_back_to_the_fma_path(
    special, where, trans_a, trans_b, beta
):
    """An infinity would meet zero pieces (inf * 0 = NaN where float32 gives inf), values below
    2^-103 would lose pieces to AMX's flush of subnormals, and ones from 2^127 would round to
    infinity: such products run on the FMA path, bit for bit. With beta = 0 the values are found
    as the operands are split and the product redone; with beta = 1 (C is updated in place) they
    are looked for first."""
    rng = np.random.default_rng(5)
    a, b = operands(rng, 140, 180, 80, trans_a, trans_b)
    c = rng.standard_normal((140, 180)).astype(np.float32)
    (a if where == "a" else b)[7, 11] = special
    amx = gemm_on("amx", a, b, trans_a, trans_b, c=c, beta=beta)
    fma = gemm_on("avx512", a, b, trans_a, trans_b, c=c, beta=beta)
    np.testing.assert_array_equal(amx, fma)
    if np.isinf(special):
        if where == "a":
            row_or_column = amx[11 if trans_a else 7]
        else:
            row_or_column = amx[:, 7 if trans_b else 11]
        assert np.isinf(row_or_column).all()


@pytest.mark.parametrize("beta", [0.0, 1.0])
@pytest.mark.parametrize("row", [3, 700, 1023])
def test_the_range_check_on_a_team_sees_every_band(row, beta):
    """On a team each thread splits (beta = 0), or checks first (beta = 1), only its own part of
    the operands: a value in any part sends the whole product to the FMA path."""
    rng = np.random.default_rng(7)
    a, b = operands(rng, 1024, 256, 1024, False, False)
    c = rng.standard_normal((1024, 256)).astype(np.float32)
    a[row, 5] = np.inf
    with num_threads(2):
        amx = gemm_on("amx", a, b, False, False, c=c, beta=beta)
        fma = gemm_on("avx512", a, b, False, False, c=c, beta=beta)
    np.testing.assert_array_equal(amx, fma)
    assert np.isinf(amx[row]).all()


@pytest.mark.parametrize("where", ["x", "dout"])
def test_a_linear_backward_meeting_an_infinity_redoes_its_product(where):
    """A Linear layer's backward runs dx and dweight side by side on a team (gemm_pair), both on
    AMX here. The products that meet the infinity while splitting (dweight for x; dx and dweight
    for dout) are redone on the FMA path, bit for bit; dx = dout W stays on AMX for x."""
    rng = np.random.default_rng(8)
    dout = rng.standard_normal((128, 256)).astype(np.float32)
    x = rng.standard_normal((128, 300)).astype(np.float32)
    weight = rng.standard_normal((256, 300)).astype(np.float32)
    (x if where == "x" else dout)[100, 40] = np.inf
    results = {}
    with num_threads(2):
        for path in ("amx", "avx512"):
            with simd_path(path):
                results[path] = _C.linear_backward(dout, x, weight)
    (dx, dweight, dbias), (fma_dx, fma_dweight, fma_dbias) = results["amx"], results["avx512"]
    np.testing.assert_array_equal(dweight, fma_dweight)
    np.testing.assert_array_equal(dbias, fma_dbias)
    if where == "dout":
        np.testing.assert_array_equal(dx, fma_dx)
    else:
        assert not np.array_equal(dx, fma_dx), "dx did not run on AMX"
        np.testing.assert_allclose(dx, fma_dx, rtol=1e-4, atol=1e-4)


def test_small_or_scaled_products_stay_on_the_fma_path():
    """alpha != 1, beta outside {0, 1} and shapes below 128 x 128 x 64 run on the FMA path."""
    rng = np.random.default_rng(6)
    a, b = operands(rng, 160, 160, 96, False, False)
    c = rng.standard_normal((160, 160)).astype(np.float32)
    for kwargs in ({"alpha": 0.5}, {"beta": 0.5, "out": c.copy()}):
        results = []
        for path in ("amx", "avx512"):
            with simd_path(path):
                results.append(_C.gemm(a, b, **{**kwargs, "out": kwargs.get("out", c).copy()}))
        np.testing.assert_array_equal(*results)
    small_a, small_b = a[:100], b[:, :100]
    np.testing.assert_array_equal(
        gemm_on("amx", small_a, small_b, False, False),
        gemm_on("avx512", small_a, small_b, False, False),
    )
