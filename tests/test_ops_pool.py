import numpy as np
import pytest
from op_harness import OpCase, check_case, check_thread_consistency
from reference import pool as ref

from ember import _C

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None


def distinct_values(rng, shape):
    """A scaled random permutation: no ties, and neighbours at least 4/size apart, so the max of
    every window is unique and finite differences (eps 1e-6) never change which element wins."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * (4.0 / n) - 2.0).astype(np.float64)


def pool_params(kernel, stride, padding):
    return {
        "kernel_size": ref.pair(kernel),
        "stride": ref.pair(stride),
        "padding": ref.pair(padding),
    }


def max_case(shape, kernel, stride, padding=0):
    p = pool_params(kernel, stride, padding)
    r = (p["kernel_size"], p["stride"], p["padding"])

    def native_backward(dout, a):
        _, indices = _C.max_pool2d_forward(a["x"], **p)
        return {"x": _C.max_pool2d_backward(dout, indices, a["x"].shape)}

    def reference_backward(dout, a):
        _, indices = ref.max_pool2d(a["x"], *r)
        return {"x": ref.max_pool2d_backward(dout, indices, a["x"].shape)}

    return OpCase(
        name=f"max{shape}k{kernel}s{stride}p{padding}",
        make_inputs=lambda rng: {"x": distinct_values(rng, shape)},
        native_forward=lambda a: _C.max_pool2d_forward(a["x"], **p)[0],
        reference_forward=lambda a: ref.max_pool2d(a["x"], *r)[0],
        wrt=("x",),
        native_backward=native_backward,
        reference_backward=reference_backward,
        torch_forward=lambda t: F.max_pool2d(t["x"], *r),
        fd_points=16,
    )


def avg_case(shape, kernel, stride, padding=0, count_include_pad=True):
    p = pool_params(kernel, stride, padding)
    r = (p["kernel_size"], p["stride"], p["padding"])
    return OpCase(
        name=f"avg{shape}k{kernel}s{stride}p{padding}{'' if count_include_pad else '_exclude_pad'}",
        make_inputs=lambda rng: {"x": rng.standard_normal(shape)},
        native_forward=lambda a: _C.avg_pool2d_forward(
            a["x"], **p, count_include_pad=count_include_pad
        ),
        reference_forward=lambda a: ref.avg_pool2d(a["x"], *r, count_include_pad),
        wrt=("x",),
        native_backward=lambda d, a: {
            "x": _C.avg_pool2d_backward(d, a["x"].shape, **p, count_include_pad=count_include_pad)
        },
        reference_backward=lambda d, a: {
            "x": ref.avg_pool2d_backward(d, a["x"].shape, *r, count_include_pad)
        },
        torch_forward=lambda t: F.avg_pool2d(t["x"], *r, count_include_pad=count_include_pad),
        fd_points=16,
    )


WINDOWS = [  # (shape, kernel, stride, padding)
    ((2, 3, 8, 8), 2, 2, 0),
    ((1, 1, 13, 13), 3, 2, 1),  # overlapping windows, padding, batch 1, one channel
    ((2, 2, 7, 13), (3, 2), (2, 3), (1, 0)),  # strides that do not divide the sizes
    ((1, 2, 5, 5), 5, 1, 2),  # windows mostly padding
    ((2, 1, 9, 6), 3, 1, 1),
    ((3, 2, 7, 7), 1, 2, 0),
    # Tiling windows (kernel == stride, no padding) take the unrolled and SIMD paths: widths that
    # leave a partial SIMD step (OW = 3, 16, 17, 13, 7, 1, 11; 8 lanes on AVX2, 16 on AVX-512),
    # odd sizes whose last row and column the floor output size drops, one plane.
    ((1, 1, 7, 7), 2, 2, 0),
    ((1, 2, 6, 27), 2, 2, 0),
    ((2, 1, 4, 14), 2, 2, 0),
    ((1, 1, 3, 3), 2, 2, 0),
    ((2, 3, 13, 33), 2, 2, 0),
    ((1, 2, 6, 64), 2, 2, 0),
    ((2, 1, 5, 34), 2, 2, 0),
    ((1, 2, 10, 35), 3, 3, 0),
]

CASES = (
    [max_case(*w) for w in WINDOWS]
    + [avg_case(*w) for w in WINDOWS]
    + [avg_case(*w, count_include_pad=False) for w in WINDOWS if w[3] != 0]
)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_pool2d(case, dtype, simd):
    check_case(case, dtype)


@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_max_pool2d_indices(window, dtype):
    shape, kernel, stride, padding = window
    x = distinct_values(np.random.default_rng(1), shape)
    _, expected = ref.max_pool2d(x, kernel, stride, padding)
    _, indices = _C.max_pool2d_forward(x.astype(dtype), kernel, stride, padding)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, expected)
    if torch is not None:
        _, torch_indices = F.max_pool2d(
            torch.tensor(x), kernel, stride, padding, return_indices=True
        )
        np.testing.assert_array_equal(indices, torch_indices.numpy())


def test_max_pool2d_follows_torch_on_ties_inf_and_nan():
    x = np.array([[[[1.0, 1.0, -np.inf], [np.nan, 2.0, 2.0], [-np.inf, -np.inf, 0.0]]]])
    y, indices = _C.max_pool2d_forward(x, 2, 1, 0)
    # first max in row-major window order; a NaN wins; a window of -inf points at its first pixel
    np.testing.assert_array_equal(indices, [[[[3, 4], [3, 4]]]])
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == 2.0
    y, indices = _C.max_pool2d_forward(np.full((1, 1, 2, 2), -np.inf), 2, 2, 0)
    assert y[0, 0, 0, 0] == -np.inf and indices[0, 0, 0, 0] == 0


TIED_SHAPES = [
    (2, 3, 13, 33),
    (1, 1, 7, 7),
    (3, 2, 9, 70),
    (1, 1, 4, 38),
    (2, 2, 6, 26),
    (1, 3, 5, 12),
]


@pytest.mark.parametrize("kernel", [2, 3])
@pytest.mark.parametrize("shape", TIED_SHAPES, ids=str)
def test_max_pool2d_ties_and_nans_on_every_path(shape, kernel, dtype, simd):
    """Few distinct values, so most windows hold equal maxima, -inf, or one or several NaNs."""
    rng = np.random.default_rng(7)
    x = rng.choice(
        [-np.inf, -1.0, 0.0, 0.5, 2.0, np.nan], size=shape, p=[0.1, 0.2, 0.2, 0.2, 0.2, 0.1]
    )
    expected_y, expected = ref.max_pool2d(x, kernel, kernel)
    y, indices = _C.max_pool2d_forward(x.astype(dtype), kernel, kernel)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(y, expected_y.astype(dtype))  # NaN positions must match too
    if torch is not None:
        torch_y, torch_indices = F.max_pool2d(torch.tensor(x), kernel, return_indices=True)
        np.testing.assert_array_equal(indices, torch_indices.numpy())


def test_max_pool2d_last_nan_wins_as_in_torch():
    x = np.array([[[[np.nan, 1.0], [np.nan, 2.0]], [[1.0, np.nan], [np.nan, np.nan]]]])
    _, indices = _C.max_pool2d_forward(x.reshape(1, 2, 2, 2), 2, 2)
    np.testing.assert_array_equal(indices.ravel(), [2, 3])


THREAD_CASES = [
    max_case((4, 8, 32, 32), 3, 2, 1),
    avg_case((4, 8, 32, 32), 3, 2, 1),
    max_case((4, 16, 66, 131), 2, 2),  # large enough for the SIMD path to use 2 threads
    max_case((4, 8, 33, 30), 3, 3),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=str)
def test_pool2d_threads(case):
    check_thread_consistency(case)


X = np.zeros((2, 3, 8, 8))


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize(
    "args, error, pattern",
    [
        ((np.zeros((3, 8, 8)), 2, 2), ValueError, r"x: expected 4-D \(N, C, H, W\), got shape"),
        ((X.astype(np.int64), 2, 2), TypeError, r"x: expected float32 or float64, got int64"),
        ((np.zeros((2, 3, 8, 16))[..., ::2], 2, 2), ValueError, r"x: expected a C-contiguous"),
        (
            (X, 3, 1, 2),
            ValueError,
            r"padding: expected at most half the kernel size \(3, 3\), i\.e\. \(1, 1\), got \(2, 2\)",
        ),
        ((X, (9, 2), 1), ValueError, r"kernel_size: \(9, 2\) is larger than the padded input"),
        ((X, 0, 1), ValueError, r"kernel_size: expected values >= 1"),
        ((X, 2, (1, 0)), ValueError, r"stride: expected values >= 1"),
        ((X, 2, 2, -1), ValueError, r"padding: expected values >= 0"),
        ((X, 2.0, 2), TypeError, r"kernel_size: expected an int or a pair of ints"),
    ],
)
def test_pool2d_rejects_bad_input(op, args, error, pattern):
    with pytest.raises(error, match=rf"\[{op}\] {pattern}"):
        getattr(_C, f"{op}_forward")(*args)


def test_max_pool2d_backward_rejects_bad_input():
    y, indices = _C.max_pool2d_forward(X, 2, 2)
    op = r"\[max_pool2d_backward\]"
    with pytest.raises(TypeError, match=rf"{op} indices: expected int64"):
        _C.max_pool2d_backward(y, indices.astype(np.int32), X.shape)
    with pytest.raises(ValueError, match=rf"{op} indices: expected shape \(2, 3, 4, 4\)"):
        _C.max_pool2d_backward(y, indices[:, :, :3].copy(), X.shape)
    with pytest.raises(ValueError, match=rf"{op} input_shape: expected 4 sizes"):
        _C.max_pool2d_backward(y, indices, (2, 3, 8))
    with pytest.raises(ValueError, match=rf"{op} input_shape: expected \(N, C\) = \(2, 3\)"):
        _C.max_pool2d_backward(y, indices, (2, 4, 8, 8))
    with pytest.raises(
        ValueError, match=rf"{op} indices: 1 entries outside \[0, H\*W\) = \[0, 64\)"
    ):
        bad = indices.copy()
        bad[1, 2, 3, 3] = 64
        _C.max_pool2d_backward(y, bad, X.shape)
    with pytest.raises(ValueError, match=rf"{op} indices: 2 entries outside"):
        bad = indices.copy()
        bad[0, 0, 0, :2] = -1
        _C.max_pool2d_backward(y, bad, X.shape)


def test_avg_pool2d_backward_rejects_bad_input():
    op = r"\[avg_pool2d_backward\]"
    with pytest.raises(ValueError, match=rf"{op} dout: expected shape \(2, 3, 4, 4\), got"):
        _C.avg_pool2d_backward(np.zeros((2, 3, 4, 3)), X.shape, 2, 2)
    with pytest.raises(ValueError, match=rf"{op} input_shape entries must be >= 0"):
        _C.avg_pool2d_backward(np.zeros((2, 3, 4, 4)), (2, 3, -8, 8), 2, 2)
    with pytest.raises(TypeError, match=rf"{op} input_shape: expected a tuple"):
        _C.avg_pool2d_backward(np.zeros((2, 3, 4, 4)), 8, 2, 2)
