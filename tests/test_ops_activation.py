import numpy as np
import pytest
from op_harness import OpCase, assert_close, check_case, check_thread_consistency
from reference import activation as ref

from ember import _C

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

SHAPES = [(1,), (7,), (13, 33), (2, 3, 5), (64, 1000)]
SMALL_SHAPES = [(1,), (7,), (13, 33), (2, 3, 5)]
# The softmax family also needs rows of length 1 and a batch of one row.
ROW_SHAPES = [(1,), (7,), (5, 1), (1, 9), (13, 33), (2, 3, 5), (64, 1000)]


def away_from_kinks(rng, shape):
    """Values with |x| >= 0.05, so finite differences never straddle ReLU's kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.05, 0.05 * np.sign(x) + 0.05 * (x == 0), x)


def normal(scale):
    return lambda shape: lambda rng: {"x": scale * rng.standard_normal(shape)}


def wide(lo, hi, n):
    """Evenly spaced values, reaching the saturated tails of sigmoid/tanh/GELU."""
    return lambda rng: {"x": np.linspace(lo, hi, n)}


def relu_case(shape):
    return OpCase(
        name=f"relu{shape}",
        make_inputs=lambda rng: {"x": away_from_kinks(rng, shape)},
        native_forward=lambda a: _C.relu_forward(a["x"]),
        reference_forward=lambda a: ref.relu(a["x"]),
        wrt=("x",),
        native_backward=lambda d, a: {"x": _C.relu_backward(d, a["x"])},
        reference_backward=lambda d, a: {"x": ref.relu_backward(d, a["x"])},
        torch_forward=lambda t: torch.relu(t["x"]),
    )


def leaky_relu_case(shape, slope=None):
    kw = {} if slope is None else {"negative_slope": slope}
    s = 0.01 if slope is None else slope
    return OpCase(
        name=f"leaky_relu{shape}" + ("" if slope is None else f"[slope={slope}]"),
        make_inputs=lambda rng: {"x": away_from_kinks(rng, shape)},
        native_forward=lambda a: _C.leaky_relu_forward(a["x"], **kw),
        reference_forward=lambda a: ref.leaky_relu(a["x"], s),
        wrt=("x",),
        native_backward=lambda d, a: {"x": _C.leaky_relu_backward(d, a["x"], **kw)},
        reference_backward=lambda d, a: {"x": ref.leaky_relu_backward(d, a["x"], s)},
        torch_forward=lambda t: F.leaky_relu(t["x"], s),
    )


def sigmoid_case(label, make_inputs):
    return OpCase(
        name=f"sigmoid{label}",
        make_inputs=make_inputs,
        native_forward=lambda a: _C.sigmoid_forward(a["x"]),
        reference_forward=lambda a: ref.sigmoid(a["x"]),
        wrt=("x",),
        native_backward=lambda d, a: {"x": _C.sigmoid_backward(d, _C.sigmoid_forward(a["x"]))},
        reference_backward=lambda d, a: {"x": ref.sigmoid_backward(d, a["x"])},
        torch_forward=lambda t: torch.sigmoid(t["x"]),
    )


def tanh_case(label, make_inputs):
    return OpCase(
        name=f"tanh{label}",
        make_inputs=make_inputs,
        native_forward=lambda a: _C.tanh_forward(a["x"]),
        reference_forward=lambda a: ref.tanh(a["x"]),
        wrt=("x",),
        native_backward=lambda d, a: {"x": _C.tanh_backward(d, _C.tanh_forward(a["x"]))},
        reference_backward=lambda d, a: {"x": ref.tanh_backward(d, a["x"])},
        torch_forward=lambda t: torch.tanh(t["x"]),
    )


def gelu_case(label, make_inputs, approximate):
    form = "tanh" if approximate else "none"
    return OpCase(
        name=f"gelu[{form}]{label}",
        make_inputs=make_inputs,
        native_forward=lambda a: _C.gelu_forward(a["x"], approximate=approximate),
        reference_forward=lambda a: ref.gelu(a["x"], approximate),
        wrt=("x",),
        native_backward=lambda d, a: {"x": _C.gelu_backward(d, a["x"], approximate=approximate)},
        reference_backward=lambda d, a: {"x": ref.gelu_backward(d, a["x"], approximate)},
        torch_forward=lambda t: F.gelu(t["x"], approximate=form),
    )


def softmax_case(label, make_inputs, log=False, nonzero_grads=True, fd_eps=1e-6):
    fwd, bwd = (
        (_C.log_softmax_forward, _C.log_softmax_backward)
        if log
        else (_C.softmax_forward, _C.softmax_backward)
    )
    ref_fwd, ref_bwd = (
        (ref.log_softmax, ref.log_softmax_backward) if log else (ref.softmax, ref.softmax_backward)
    )
    return OpCase(
        name=("log_softmax" if log else "softmax") + label,
        make_inputs=make_inputs,
        native_forward=lambda a: fwd(a["x"]),
        reference_forward=lambda a: ref_fwd(a["x"]),
        wrt=("x",),
        native_backward=lambda d, a: {"x": bwd(d, fwd(a["x"]))},
        reference_backward=lambda d, a: {"x": ref_bwd(d, a["x"])},
        torch_forward=lambda t: (torch.log_softmax if log else torch.softmax)(t["x"], -1),
        nonzero_grads=nonzero_grads,
        fd_eps=fd_eps,
    )


def large_offset(shape, offset):
    """offset + k/16: exactly representable in float32 near 1e6, so both dtypes see the same
    logits and a kernel that forgot to subtract the row max would overflow exp."""
    return lambda rng: {"x": offset + np.round(16 * rng.standard_normal(shape)) / 16}


def softmax_cases(log):
    cases = [
        # A row of length 1 is constant (softmax 1, log_softmax 0): its gradient is zero.
        softmax_case(str(s), normal(2.0)(s), log, nonzero_grads=s[-1] > 1)
        for s in ROW_SHAPES
    ]
    cases += [
        # 2^-20 is a float64 step exactly representable next to 1e6.
        softmax_case("[1e6 offset](13, 33)", large_offset((13, 33), 1e6), log, fd_eps=2.0**-20),
        softmax_case("[-1e4 offset](7, 5)", large_offset((7, 5), -1e4), log, fd_eps=2.0**-20),
        # Saturated rows: softmax is one-hot (zero gradient), log_softmax piecewise linear.
        softmax_case(
            "[1e4 spread](7, 9)", normal(1e4)((7, 9)), log, nonzero_grads=log, fd_eps=1e-2
        ),
    ]
    return cases


CASES = (
    [relu_case(s) for s in SHAPES]
    + [leaky_relu_case(s) for s in SHAPES]
    + [leaky_relu_case((13, 33), 0.2), leaky_relu_case((7,), -0.5)]
    + [sigmoid_case(str(s), normal(3.0)(s)) for s in SHAPES]
    + [sigmoid_case("[-50..50]", wide(-50, 50, 101))]
    + [tanh_case(str(s), normal(2.0)(s)) for s in SHAPES]
    + [tanh_case("[-50..50]", wide(-50, 50, 101))]
    + [gelu_case(str(s), normal(2.0)(s), approx) for s in SMALL_SHAPES for approx in (False, True)]
    + [gelu_case("[-12..12]", wide(-12, 12, 97), approx) for approx in (False, True)]
    + softmax_cases(log=False)
    + softmax_cases(log=True)
)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_activation(case, dtype, simd):
    check_case(case, dtype)


THREAD_CASES = [
    relu_case((64, 1000)),
    sigmoid_case("(512, 1000)", normal(3.0)((512, 1000))),
    gelu_case("(256, 1000)", normal(2.0)((256, 1000)), approximate=False),
    gelu_case("(256, 1000)", normal(2.0)((256, 1000)), approximate=True),
    softmax_case("(512, 1000)", normal(2.0)((512, 1000)), log=False),
    softmax_case("(512, 1000)", normal(2.0)((512, 1000)), log=True),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=str)
def test_activation_threads(case):
    check_thread_consistency(case)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_softmax_with_minus_inf(dtype, simd):
    """-inf logits (masked positions) get probability 0 and no gradient; a row that is entirely
    -inf has no distribution and gives NaN, as PyTorch does."""
    inf = np.inf
    x = np.array([[0.5, -inf, 1.5, -inf], [-inf, -inf, -inf, 2.0], [-inf] * 4], dtype=dtype)
    dout = np.array([[1.0, 2.0, -1.0, 0.5], [0.3, -0.2, 0.1, 0.7], [1.0] * 4], dtype=dtype)
    finite = np.where(np.isinf(x), -1e300, x[...].astype(np.float64))[:2]
    y = _C.softmax_forward(x)
    ly = _C.log_softmax_forward(x)
    assert_close(y[:2], ref.softmax(finite), 1e-6, 1e-7, "softmax with -inf")
    assert np.all(y[:2][np.isinf(x[:2])] == 0)
    assert_close(
        ly[:2][~np.isinf(x[:2])],
        ref.log_softmax(finite)[~np.isinf(x[:2])],
        1e-6,
        1e-7,
        "log_softmax with -inf",
    )
    assert np.all(ly[:2][np.isinf(x[:2])] == -inf)
    assert np.all(np.isnan(y[2])) and np.all(np.isnan(ly[2]))

    dx = _C.softmax_backward(dout, y)
    dlx = _C.log_softmax_backward(dout, ly)
    assert_close(
        dx[:2],
        ref.softmax_backward(dout[:2].astype(np.float64), finite),
        1e-6,
        1e-7,
        "softmax_backward with -inf",
    )
    assert_close(
        dlx[:2],
        ref.log_softmax_backward(dout[:2].astype(np.float64), finite),
        1e-6,
        1e-7,
        "log_softmax_backward with -inf",
    )
    assert np.all(dx[:2][np.isinf(x[:2])] == 0)

    if torch is not None:
        for native, fn in ((y, torch.softmax), (ly, torch.log_softmax)):
            t = torch.tensor(x, requires_grad=True)
            out = fn(t, -1)
            np.testing.assert_allclose(native, out.detach().numpy(), rtol=1e-6, atol=1e-7)
            out.backward(torch.tensor(dout))
            mine = dx if fn is torch.softmax else dlx
            np.testing.assert_allclose(mine[:2], t.grad.numpy()[:2], rtol=1e-6, atol=1e-7)


def test_sigmoid_tanh_saturate_cleanly(simd):
    """Far tails: exact 0/1/±1 and tiny (not NaN, not wrongly zero) gradients, in both dtypes."""
    for dtype in (np.float32, np.float64):
        x = np.array([-1e4, -800.0, -50.0, 50.0, 800.0, 1e4], dtype=dtype)
        s = _C.sigmoid_forward(x)
        assert np.all(np.isfinite(s)) and s[0] == 0 and s[-1] == 1
        assert np.array_equal(_C.tanh_forward(x), np.sign(x))
        ds = _C.sigmoid_backward(np.ones_like(x), s)
        expected = ref.sigmoid_backward(np.ones(x.shape), x.astype(np.float64))
        # From y alone, 1 - y resolves only to y's spacing near 1 (PyTorch's convention too): the
        # positive tail is exact up to eps; the negative tail keeps its relative accuracy.
        neg = x < 0
        assert_close(ds[neg], expected[neg], 1e-6, 0.0, "sigmoid' negative tail")
        assert_close(ds[~neg], expected[~neg], 0.0, np.finfo(dtype).eps, "sigmoid' positive tail")


def test_activation_rejects_bad_input():
    with pytest.raises(TypeError, match=r"\[relu\].*int32"):
        _C.relu_forward(np.zeros(3, dtype=np.int32))
    with pytest.raises(ValueError, match=r"\[relu\].*contiguous"):
        _C.relu_forward(np.zeros((3, 4))[:, ::2])
    with pytest.raises(ValueError, match=r"\[relu_backward\].*shape"):
        _C.relu_backward(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match=r"\[gelu\] x: expected float32 or float64, got int64"):
        _C.gelu_forward(np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match=r"\[leaky_relu_backward\] dout and x must share a dtype"):
        _C.leaky_relu_backward(np.zeros(3, dtype=np.float32), np.zeros(3))
    with pytest.raises(ValueError, match=r"\[sigmoid_backward\] dout: expected shape \(2, 3\)"):
        _C.sigmoid_backward(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[tanh\].*contiguous"):
        _C.tanh_forward(np.zeros((4, 4)).T)
    with pytest.raises(ValueError, match=r"\[softmax\] x: expected an array with ndim >= 1"):
        _C.softmax_forward(np.array(1.0))
    with pytest.raises(ValueError, match=r"\[log_softmax_backward\] dout: expected shape"):
        _C.log_softmax_backward(np.zeros((2, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[softmax_backward\] y:.*contiguous"):
        _C.softmax_backward(np.zeros((3, 2)), np.zeros((2, 3)).T)


def max_ulps(got, expected64):
    """Largest error in units of float32 spacing at the expected value (subnormals included)."""
    spacing = np.spacing(np.abs(expected64.astype(np.float32))).astype(np.float64)
    spacing = np.maximum(spacing, np.spacing(np.float32(0)))
    return np.max(np.abs(got.astype(np.float64) - expected64) / spacing)


def test_float32_transcendentals_within_a_few_ulp(simd):
    """A dense float32 sweep through saturation, the subnormal range of exp and the small-|x|
    range of tanh: the vector and the libm paths both stay within 4 ulp of float64 (sigmoid
    where its value is a normal float)."""
    x = np.concatenate(
        [
            np.linspace(-110, 90, 200_001),
            np.linspace(-1, 1, 100_001),
            np.linspace(-1e-3, 1e-3, 2001),
        ]
    ).astype(np.float32)
    x64 = x.astype(np.float64)
    tiny = np.finfo(np.float32).tiny
    normal = ref.sigmoid(x64) >= tiny  # below the smallest normal float it may flush to 0
    sig = _C.sigmoid_forward(x)
    assert max_ulps(sig[normal], ref.sigmoid(x64[normal])) <= 4
    assert np.all((sig[~normal] >= 0) & (sig[~normal] <= tiny))
    assert max_ulps(_C.tanh_forward(x), ref.tanh(x64)) <= 4
    pairs = np.stack([np.zeros_like(x), x], axis=1)  # softmax([0, x]) = (1, e^x) / (1 + e^x)
    assert max_ulps(_C.softmax_forward(pairs), ref.softmax(pairs.astype(np.float64))) <= 4


def test_float32_exact_gelu_accuracy(simd):
    """Exact GELU in float32 on both paths. Rounding x / sqrt(2) alone costs up to x^2 ulp of
    Phi(x) (its condition number), and 1 + erf(z) cancels near z = -1; within |x| <= 3 both
    paths stay within 16 ulp of float64 (the gradient within 8 ulp of its larger term)."""
    x = np.linspace(-3, 3, 100_001).astype(np.float32)
    x64 = x.astype(np.float64)
    cdf = ref.gelu(x64) / np.where(x64 == 0, 1.0, x64)
    pdf = np.exp(-0.5 * x64 * x64) / np.sqrt(2 * np.pi)
    assert max_ulps(_C.gelu_forward(x), ref.gelu(x64)) <= 16
    grad_error = np.abs(_C.gelu_backward(np.ones_like(x), x) - ref.gelu_backward(1.0, x64))
    term = np.maximum(np.abs(cdf), np.abs(x64 * pdf)).astype(np.float32)
    assert np.max(grad_error / np.spacing(term)) <= 8


def test_nan_propagates(simd):
    for dtype in (np.float32, np.float64):
        x = np.array([[1.0, np.nan, -2.0, 0.5, 3.0, -1.0, 2.0, 0.0, 1.5]], dtype=dtype)
        for fwd in (_C.softmax_forward, _C.log_softmax_forward):
            assert np.all(np.isnan(fwd(x)))
        for fwd in (_C.sigmoid_forward, _C.tanh_forward, _C.gelu_forward):
            y = fwd(x)
            assert np.isnan(y[0, 1]) and np.all(np.isfinite(np.delete(y, 1)))


def test_relu_keeps_nan_and_negative_zero_as_torch(simd):
    """ReLU must not turn a NaN into 0 (a diverging model would hide its NaNs behind the next
    ReLU), and its gradient passes where the input is NaN, as torch's threshold_backward."""
    for dtype in (np.float32, np.float64):
        # 37 elements: the specials land in vector bodies and in the scalar tail.
        x = np.tile(np.array([np.nan, -0.0, 0.0, -1.5, 2.0, np.inf, -np.inf], dtype), 6)[:37]
        dout = np.arange(1, 38, dtype=dtype)
        y = _C.relu_forward(x)
        expected = ref.relu(x).astype(dtype)
        assert y.tobytes() == expected.tobytes()  # NaN where x is NaN, -0 where x is -0
        assert np.isnan(y[0]) and np.signbit(y[1]) and y[3] == 0 and y[5] == np.inf
        dx = _C.relu_backward(dout, x)
        np.testing.assert_array_equal(dx, ref.relu_backward(dout, x).astype(dtype))
        assert dx[0] == dout[0] and dx[1] == 0 and dx[2] == 0 and dx[4] == dout[4]
        if torch is not None:
            t = torch.from_numpy(x.copy()).requires_grad_()
            torch.relu(t).backward(torch.from_numpy(dout))
            assert torch.relu(t).detach().numpy().tobytes() == y.tobytes()
            np.testing.assert_array_equal(t.grad.numpy(), dx)


def test_float32_long_rows_sum_accurately(simd):
    """100_003 columns on every path: the row sums (accumulated in double) keep a float32 softmax
    within a few ulp of float64 on long rows too."""
    x = np.random.default_rng(5).uniform(-2.0, 2.0, (2, 100_003)).astype(np.float32)
    x64 = x.astype(np.float64)
    assert max_ulps(_C.softmax_forward(x), ref.softmax(x64)) <= 4
    expected = ref.log_softmax(x64)
    got = _C.log_softmax_forward(x).astype(np.float64)
    # log-probabilities near -11.5: the float32 rounding of log(sum) and of x - max, a few ulp
    assert np.max(np.abs(got - expected)) <= 4 * np.spacing(np.float32(12.0))


def test_float32_row_sum_keeps_small_terms(simd):
    """A row whose float32 running sum loses its small terms: 16 leading zeros put exp = 1 in
    every lane of the first vector, then 100_000 logits near -25 ln 2 add exp ~ 2^-25 each,
    below half an ulp of 1. Summed in float lane by lane, they would vanish (the sum short by
    2e-4 relative, thousands of ulp in every probability); the row must stay within a few ulp."""
    x = np.full((1, 100_016), np.float32(-25 * np.log(2.0)), dtype=np.float32)
    x[0, :16] = 0.0
    x64 = x.astype(np.float64)
    assert max_ulps(_C.softmax_forward(x), ref.softmax(x64)) <= 4
    got = _C.log_softmax_forward(x).astype(np.float64)
    assert np.max(np.abs(got - ref.log_softmax(x64))) <= 4 * np.spacing(np.float32(17.5))
