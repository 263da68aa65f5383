import itertools

import numpy as np
import pytest
from op_harness import OpCase, assert_close, check_case, check_thread_consistency
from reference import gemm as ref

import ember
from ember import _C

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

TRANSPOSES = list(itertools.product([False, True], repeat=2))


def reduction_scale(*lengths):
    """Tolerance scale for float32 sums of many products: each of the K additions rounds by up to
    u * |partial sum|, partial sums of random terms grow like sqrt(k), and the rounding errors add
    up like a random walk to about u * K / sqrt(2): linear in K, and not relative to the result,
    which may be near zero. The harness's base tolerances hold up to 128 terms; the scale is the
    longest reduction (K forward, N and M in the backward) over 128."""
    return max(1.0, max(lengths) / 128)


def op_shape(rows, cols, trans):
    return (cols, rows) if trans else (rows, cols)


def gemm_case(M, N, K, trans_a, trans_b, alpha=1.0, beta=0.0):
    flags = {"trans_a": trans_a, "trans_b": trans_b}
    wrt = ("a", "b")  # d c = beta * dout needs no kernel

    def make_inputs(rng):
        inputs = {
            "a": rng.standard_normal(op_shape(M, K, trans_a)),
            "b": rng.standard_normal(op_shape(K, N, trans_b)),
        }
        if beta != 0.0:
            inputs["c"] = rng.standard_normal((M, N))
        return inputs

    def native_forward(a):
        out = a["c"].copy() if beta != 0.0 else None
        return _C.gemm(a["a"], a["b"], **flags, alpha=alpha, beta=beta, out=out)

    def native_backward(dout, a):
        # The gradients are GEMMs themselves, with the flags autograd would use; each one runs
        # the kernel on another transpose combination.
        if trans_a:
            da = _C.gemm(a["b"], dout, trans_a=trans_b, trans_b=True, alpha=alpha)
        else:
            da = _C.gemm(dout, a["b"], trans_b=not trans_b, alpha=alpha)
        if trans_b:
            db = _C.gemm(dout, a["a"], trans_a=True, trans_b=trans_a, alpha=alpha)
        else:
            db = _C.gemm(a["a"], dout, trans_a=not trans_a, alpha=alpha)
        return {"a": da, "b": db}

    def torch_forward(t):
        op_a = t["a"].T if trans_a else t["a"]
        op_b = t["b"].T if trans_b else t["b"]
        out = alpha * (op_a @ op_b)
        return out + beta * t["c"] if beta != 0.0 else out

    return OpCase(
        name=f"gemm{M}x{N}x{K}_{'T' if trans_a else 'N'}{'T' if trans_b else 'N'}"
        f"_alpha{alpha}_beta{beta}",
        make_inputs=make_inputs,
        native_forward=native_forward,
        reference_forward=lambda a: ref.gemm(
            a["a"], a["b"], **flags, alpha=alpha, beta=beta, c=a.get("c")
        ),
        wrt=wrt,
        native_backward=native_backward,
        reference_backward=lambda d, a: {
            k: v
            for k, v in ref.gemm_backward(
                d, a["a"], a["b"], **flags, alpha=alpha, beta=beta
            ).items()
            if k in wrt
        },
        torch_forward=torch_forward,
        fd_points=12,
        tolerance_scale=reduction_scale(M, N, K),
    )


# (M, N, K, alpha, beta). The AVX2 tiles are 6x16 (float) and 6x8 (double), the portable ones 4x8
# and 4x4; KC = 256; MC = 144 (float) / 72 (double); NC = 3072 / 1536. The AVX-512 tiles are
# 12x32 and 12x16 (used from N = 17); KC = 256 / 384; MC = 480 / 120. Operands are packed, or
# read in place when few tiles share them (M <= 24 for B, N <= 4 NR for A), and a @ b.T with
# M <= 8 runs as dot products (AVX2): the shapes below reach every combination.
GEMM_SHAPES = [
    (1, 1, 1, 1.0, 0.0),
    (7, 13, 33, 0.5, -1.5),
    (7, 15, 259, 1.0, 0.0),  # MR + 1, NR - 1, KC + 3 (AVX2 float)
    (5, 9, 257, -2.0, 1.0),  # MR + 1 (portable), NR + 1 (AVX2 double, portable float)
    (13, 17, 513, 1.0, 0.5),  # three K blocks
    (31, 70, 300, 1.0, 0.0),  # both operands packed; partial tiles both ways; two K blocks
    (145, 33, 20, 1.0, 0.0),  # MC + 1 rows (float): two row blocks
    (73, 90, 31, 0.25, 2.0),  # MC + 1 rows (double)
    (26, 10, 31, 1.0, 0.0),  # N below every NR
    (3, 3073, 4, 1.0, 0.0),  # NC + 1 columns: several column blocks
    (13, 33, 387, 1.0, 0.0),  # MR + 1, NR + 1, KC + 3 (AVX-512 float)
    (241, 161, 21, 0.5, 1.0),  # both packed, K not a multiple of 8
    (481, 33, 9, 1.0, 0.0),  # MC + 1 rows (AVX-512 float)
    (121, 48, 9, 1.0, 0.0),  # MC + 1 rows (AVX-512 double)
    # The AMX path (float, alpha = 1, beta 0 or 1, from 128 x 128 x 64): 16 x 64 tiles of C,
    # k in chunks of 32, KC = 512, NC = 384, MC = 256 (A transposed).
    (129, 130, 65, 1.0, 0.0),  # partial tiles both ways, a partial k chunk
    (144, 200, 600, 1.0, 1.0),  # two K blocks onto the old C
    (130, 780, 100, 1.0, 0.0),  # three column blocks, the last partial
    (300, 140, 70, 1.0, 1.0),  # A transposed is packed 256 rows at a time: two blocks
]
GEMM_CASES = [
    gemm_case(M, N, K, ta, tb, alpha, beta)
    for (M, N, K, alpha, beta) in GEMM_SHAPES
    for ta, tb in TRANSPOSES
]


@pytest.mark.parametrize("case", GEMM_CASES, ids=str)
def test_gemm(case, dtype, simd):
    check_case(case, dtype)


def linear_case(N, n_in, n_out, bias=True):
    wrt = ("x", "weight", "bias") if bias else ("x", "weight")

    def make_inputs(rng):
        inputs = {
            "x": rng.standard_normal((N, n_in)),
            "weight": rng.standard_normal((n_out, n_in)) / np.sqrt(n_in),
        }
        if bias:
            inputs["bias"] = rng.standard_normal(n_out)
        return inputs

    def native_backward(dout, a):
        dx, dw, db = _C.linear_backward(dout, a["x"], a["weight"], need_dbias=bias)
        assert (db is None) == (not bias)
        return {"x": dx, "weight": dw, "bias": db}

    return OpCase(
        name=f"linear_N{N}_in{n_in}_out{n_out}{'' if bias else '_nobias'}",
        make_inputs=make_inputs,
        native_forward=lambda a: _C.linear_forward(a["x"], a["weight"], a.get("bias")),
        reference_forward=lambda a: ref.linear(a["x"], a["weight"], a.get("bias")),
        wrt=wrt,
        native_backward=native_backward,
        reference_backward=lambda d, a: {
            k: v for k, v in ref.linear_backward(d, a["x"], a["weight"]).items() if k in wrt
        },
        torch_forward=lambda t: F.linear(t["x"], t["weight"], t.get("bias")),
        fd_points=12,
        tolerance_scale=reduction_scale(N, n_in, n_out),
    )


LINEAR_CASES = [
    linear_case(1, 1, 1),
    linear_case(1, 7, 13),  # batch 1
    linear_case(13, 33, 7, bias=False),
    linear_case(7, 17, 300),  # bias sums span several column blocks
    linear_case(64, 784, 10),  # the MLP's output layer on MNIST
]


@pytest.mark.parametrize("case", LINEAR_CASES, ids=str)
def test_linear(case, dtype, simd):
    check_case(case, dtype)


def bmm_case(batch, M, N, K, trans_a, trans_b):
    return OpCase(
        name=f"bmm{batch}x{M}x{N}x{K}_{'T' if trans_a else 'N'}{'T' if trans_b else 'N'}",
        make_inputs=lambda rng: {
            "a": rng.standard_normal((batch, *op_shape(M, K, trans_a))),
            "b": rng.standard_normal((batch, *op_shape(K, N, trans_b))),
        },
        native_forward=lambda a: _C.bmm(a["a"], a["b"], trans_a=trans_a, trans_b=trans_b),
        reference_forward=lambda a: ref.bmm(a["a"], a["b"], trans_a, trans_b),
        tolerance_scale=reduction_scale(K),
    )


BMM_CASES = [
    bmm_case(1, 7, 13, 33, False, False),
    bmm_case(3, 5, 17, 9, True, False),
    bmm_case(4, 13, 6, 7, False, True),
    bmm_case(5, 7, 9, 260, True, True),
]


@pytest.mark.parametrize("case", BMM_CASES, ids=str)
def test_bmm(case, dtype, simd):
    check_case(case, dtype)


THREAD_CASES = [
    gemm_case(150, 200, 300, False, True),
    gemm_case(97, 131, 65, True, False, 0.5, 1.0),
    linear_case(128, 784, 256),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=str)
def test_gemm_threads(case):
    check_thread_consistency(case)


@pytest.mark.parametrize(
    "M,N,K,trans_b",
    [
        (150, 200, 300, False),
        (7, 3073, 40, False),
        (290, 17, 64, False),
        (5, 1500, 70, True),
        (64, 300, 700, True),  # on one thread computed as C^T = B A^T
        (13, 61, 100, True),  # the same, neither side a multiple of the 8 x 8 transposes
        (64, 120, 400, True),  # swapped from 1.5x taller when A's rows fill whole panels
        (60, 100, 90, True),  # the same with a partial panel and a partial row tile
        (48, 100, 64, True),  # direct: 48 rows would pad a third of the swapped panels
        (64, 10, 128, True),  # an output layer: swapped onto the wide tile on one thread
        (60, 7, 300, True),  # the same with partial tiles both ways
        (45, 190, 33, True),
        (200, 700, 600, True),  # AMX, computed as C^T: fewer values packed across their rows
        (300, 130, 520, False),  # AMX with two K blocks
    ],
    ids=str,
)
def test_gemm_independent_of_thread_count(M, N, K, trans_b, simd):
    """Tiles, K blocks and the path taken depend only on the shape, so each element sums in the
    same order on any number of threads: results are bitwise equal, not merely close."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32)
    c = rng.standard_normal((M, N)).astype(np.float32)
    scalings = [(1.0, 0.0), (1.0, 1.0), (0.5, 1.5)]  # (alpha, beta): (1, 1) is a Linear's bias
    for alpha, beta in scalings:
        results = []
        for threads in (1, 2):
            with ember._runtime.num_threads(threads):
                out = c.copy()
                results.append(_C.gemm(a, b, trans_b=trans_b, alpha=alpha, beta=beta, out=out))
        assert np.array_equal(results[0], results[1]), (alpha, beta)
        op_b = (b.T if trans_b else b).astype(np.float64)
        expected = alpha * (a.astype(np.float64) @ op_b) + beta * c
        np.testing.assert_allclose(results[0], expected, rtol=1e-4, atol=1e-3)


def test_large_products_are_written_to_cache_line_aligned_outputs():
    """From 64 KiB, GEMM-family outputs start on a 64-byte line (the AMX path writes C a 64-byte
    tile row at a time); their memory is freed with the array."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 784)).astype(np.float32)
    w = rng.standard_normal((256, 784)).astype(np.float32)
    dout = rng.standard_normal((64, 256)).astype(np.float32)
    outputs = [
        _C.gemm(x, w, trans_b=True),
        _C.bmm(x[None], w[None], trans_b=True)[0],
        _C.linear_forward(x, w, None),
        *_C.linear_backward(dout, x, w, need_dbias=False)[:2],
    ]
    for out in outputs:
        assert out.nbytes >= 1 << 16 and out.ctypes.data % 64 == 0
    np.testing.assert_allclose(outputs[0], x.astype(np.float64) @ w.T, rtol=1e-4, atol=1e-3)


def test_bmm_matches_gemm_per_matrix(simd):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((6, 40, 30)).astype(np.float32)
    b = rng.standard_normal((6, 50, 30)).astype(np.float32)
    out = _C.bmm(a, b, trans_b=True)
    for i in range(len(a)):
        assert np.array_equal(out[i], _C.gemm(a[i], b[i], trans_b=True))


@pytest.mark.parametrize("M,N,K", [(5, 19, 37), (9, 19, 37), (40, 70, 37)], ids=str)
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("pad", [5, 1100], ids=["narrow", "rows_a_page_apart"])
def test_gemm_row_strided_views(M, N, K, trans_a, trans_b, pad, dtype, simd):
    """Column slices of wider matrices are read and written in place (lda, ldb, ldc > cols):
    the result lands in the slice and the padding around it is untouched. With rows a page or
    more apart, the packers walk the operands row by row instead of panel by panel."""
    rng = np.random.default_rng(3)
    a_rows, a_cols = op_shape(M, K, trans_a)
    b_rows, b_cols = op_shape(K, N, trans_b)
    a_full = rng.standard_normal((a_rows, a_cols + pad)).astype(dtype)
    b_full = rng.standard_normal((b_rows, b_cols + pad)).astype(dtype)
    c_full = rng.standard_normal((M, N + 7)).astype(dtype)
    a, b, c = a_full[:, 3 : 3 + a_cols], b_full[:, 1 : 1 + b_cols], c_full[:, 4 : 4 + N]
    expected = ref.gemm(
        a.astype(np.float64),
        b.astype(np.float64),
        trans_a,
        trans_b,
        1.5,
        -0.5,
        c.astype(np.float64),
    )
    before = c_full.copy()
    got = _C.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=1.5, beta=-0.5, out=c)
    assert got is c
    rtol, atol = (1e-10, 1e-10) if dtype == np.float64 else (2e-4, 2e-5)
    assert_close(c_full[:, 4 : 4 + N], expected, rtol, atol, "gemm into a column slice")
    assert np.array_equal(c_full[:, :4], before[:, :4])
    assert np.array_equal(c_full[:, 4 + N :], before[:, 4 + N :])


def test_gemm_beta_zero_ignores_nan_in_out(dtype, simd):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((13, 300)).astype(dtype)
    b = rng.standard_normal((300, 21)).astype(dtype)
    out = np.full((13, 21), np.nan, dtype=dtype)
    _C.gemm(a, b, out=out)
    assert np.all(np.isfinite(out))
    assert_close(out, a.astype(np.float64) @ b, 2e-4 * 3, 2e-5 * 3, "beta=0 over NaN")


@pytest.mark.parametrize("M,N,K", [(0, 5, 3), (4, 0, 3), (0, 0, 0)])
def test_gemm_empty_result(M, N, K, dtype):
    out = _C.gemm(np.ones((M, K), dtype), np.ones((K, N), dtype))
    assert out.shape == (M, N) and out.dtype == dtype


def test_gemm_zero_inner_dimension(dtype):
    """K == 0: op(a) @ op(b) is all zeros, so out becomes beta * out."""
    a, b = np.ones((4, 0), dtype), np.ones((0, 3), dtype)
    assert np.array_equal(_C.gemm(a, b), np.zeros((4, 3)))
    out = np.full((4, 3), 2.0, dtype)
    _C.gemm(a, b, alpha=3.0, beta=0.5, out=out)
    assert np.array_equal(out, np.full((4, 3), 1.0))


def test_linear_zero_sizes(dtype):
    x, w, bias = np.ones((0, 3), dtype), np.ones((2, 3), dtype), np.arange(2, dtype=dtype)
    assert _C.linear_forward(x, w, bias).shape == (0, 2)
    dx, dw, db = _C.linear_backward(np.ones((0, 2), dtype), x, w)
    assert dx.shape == (0, 3)
    assert np.array_equal(dw, np.zeros((2, 3))) and np.array_equal(db, np.zeros(2))
    y = _C.linear_forward(np.ones((4, 0), dtype), np.ones((2, 0), dtype), bias)
    assert np.array_equal(y, np.tile(bias, (4, 1)))


@pytest.mark.parametrize(
    "batch,inputs,outputs",
    [(64, 256, 128), (64, 784, 256), (37, 50, 29), (3, 5, 2), (512, 33, 1000)],
    ids=str,
)
def test_linear_backward_shares_a_team_between_its_products(batch, inputs, outputs, dtype, simd):
    """dx and dweight run side by side, each on its share of the threads; each must still be the
    product gemm computes alone (bitwise: tiles and K blocks depend only on the shape)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((batch, inputs)).astype(dtype)
    w = rng.standard_normal((outputs, inputs)).astype(dtype)
    dout = rng.standard_normal((batch, outputs)).astype(dtype)
    with ember._runtime.num_threads(1):
        alone = (_C.gemm(dout, w), _C.gemm(dout, x, trans_a=True))
    for threads in (3, 2, 1):
        # The last results' blocks, freed and refilled with NaN, are what malloc hands the next
        # outputs: a part that no thread computes shows, instead of an earlier equal result.
        dx = dw = None
        for like in alone:
            np.full_like(like, np.nan)
        with ember._runtime.num_threads(threads):
            dx, dw, _ = _C.linear_backward(dout, x, w)
        assert np.array_equal(dx, alone[0]), threads
        assert np.array_equal(dw, alone[1]), threads
    rtol, atol = (2e-4, 2e-4) if dtype == np.float32 else (1e-12, 1e-12)
    assert_close(dx, dout.astype(np.float64) @ w, rtol, atol, "dx")
    assert_close(dw, dout.T.astype(np.float64) @ x, rtol, atol, "dweight")


def test_linear_backward_skips_unrequested(dtype):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((2, 4)).astype(dtype)
    dout = rng.standard_normal((3, 2)).astype(dtype)
    dx, dw, db = _C.linear_backward(dout, x, w, need_dx=False, need_dbias=False)
    assert dx is None and db is None
    assert_close(dw, dout.T.astype(np.float64) @ x, 2e-4, 2e-5, "dweight alone")


def test_gemm_rejects_bad_input():
    f32, f64 = np.zeros((3, 4), np.float32), np.zeros((4, 5), np.float64)
    with pytest.raises(
        ValueError,
        match=r"\[gemm\] inner dimensions differ: op\(a\) is \(M, K\) "
        r"= \(3, 4\) but op\(b\) is \(K, N\) = \(5, 4\)",
    ):
        _C.gemm(f64[:3, :4], f64, trans_b=True)
    with pytest.raises(ValueError, match=r"\[gemm\] a: expected 2-D"):
        _C.gemm(np.zeros(3), f64)
    with pytest.raises(TypeError, match=r"\[gemm\] a and b must share a dtype"):
        _C.gemm(f32, f64)
    with pytest.raises(TypeError, match=r"\[gemm\] a: expected float32 or float64, got int64"):
        _C.gemm(np.zeros((3, 4), np.int64), f64)
    with pytest.raises(
        ValueError,
        match=r"\[gemm\] a: expected a matrix with contiguous rows.*"
        r"trans_ flag",
    ):
        _C.gemm(np.zeros((4, 3)).T, f64)
    with pytest.raises(ValueError, match=r"\[gemm\] b: expected a matrix with contiguous rows"):
        _C.gemm(np.zeros((3, 4)), np.zeros((4, 10))[:, ::2])
    with pytest.raises(ValueError, match=r"\[gemm\] beta .* needs out="):
        _C.gemm(f64[:, :4], f64, beta=1.0)
    with pytest.raises(ValueError, match=r"\[gemm\] out: expected shape \(4, 5\), got \(5, 4\)"):
        _C.gemm(f64, np.zeros((5, 5)), out=np.zeros((5, 4)))
    with pytest.raises(TypeError, match=r"\[gemm\] a and out must share a dtype"):
        _C.gemm(f64, np.zeros((5, 5)), out=np.zeros((4, 5), np.float32))
    with pytest.raises(TypeError, match=r"\[gemm\] out: expected a numpy.ndarray"):
        _C.gemm(f64, np.zeros((5, 5)), out=[[0.0] * 5] * 4)
    read_only = np.zeros((4, 5))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"\[gemm\] out: array is read-only"):
        _C.gemm(f64, np.zeros((5, 5)), out=read_only)
    square = np.ones((4, 4))
    with pytest.raises(ValueError, match=r"\[gemm\] out must not share memory with a or b"):
        _C.gemm(square, np.ones((4, 4)), out=square)
    # Interleaved but disjoint column slices of one buffer are fine.
    buf = np.ones((4, 8))
    _C.gemm(buf[:, :4], np.eye(4), out=buf[:, 4:])
    assert np.array_equal(buf, np.ones((4, 8)))


def test_bmm_rejects_bad_input():
    a = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"\[bmm\] a: expected 3-D"):
        _C.bmm(np.zeros((3, 4)), a)
    with pytest.raises(ValueError, match=r"\[bmm\] batch sizes differ"):
        _C.bmm(a, np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match=r"\[bmm\] inner dimensions differ"):
        _C.bmm(a, np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"\[bmm\] b: expected a C-contiguous array"):
        _C.bmm(a, np.zeros((2, 5, 4)).transpose(0, 2, 1))
    with pytest.raises(TypeError, match=r"\[bmm\] a and b must share a dtype"):
        _C.bmm(a, np.zeros((2, 4, 5), np.float32))


def test_linear_rejects_bad_input():
    x, w = np.zeros((3, 4)), np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"\[linear\] weight: expected \(out_features, 4\)"):
        _C.linear_forward(x, np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"\[linear\] x: expected 2-D"):
        _C.linear_forward(np.zeros(4), w)
    with pytest.raises(ValueError, match=r"\[linear\] bias: expected shape \(2,\), got \(3,\)"):
        _C.linear_forward(x, w, np.zeros(3))
    with pytest.raises(TypeError, match=r"\[linear\] x and bias must share a dtype"):
        _C.linear_forward(x, w, np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"\[linear\] x: expected a C-contiguous array"):
        _C.linear_forward(np.zeros((4, 3)).T, w)
    with pytest.raises(ValueError, match=r"\[linear_backward\] dout: expected shape \(3, 2\)"):
        _C.linear_backward(np.zeros((3, 3)), x, w)
    with pytest.raises(TypeError, match=r"\[linear_backward\] dout and x must share a dtype"):
        _C.linear_backward(np.zeros((3, 2), np.float32), x, w)
