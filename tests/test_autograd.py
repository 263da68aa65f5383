"""Autograd: gradients of composite expressions against float64 central finite differences and
against PyTorch, the tape's error cases, grad mode, accumulation, retain_graph, custom Functions,
and that graphs are freed.

Each row of GRAD_CASES is one expression written once for both libraries: `fn(m, *xs)` with m the
module (ember or torch) and xs its tensors, so method and function names must match torch's.
"""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest
from op_harness import assert_close

import ember
from ember.autograd import Function, Node

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


# ---- inputs -----------------------------------------------------------------------------------


def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def away_from(*kinks, shape, margin=0.1):
    """Normal draws pushed at least `margin` away from each kink (relu/abs/clamp corners), so
    central differences never straddle one."""

    def make(rng):
        x = rng.standard_normal(shape)
        for k in kinks:
            near = np.abs(x - k) < margin
            x = np.where(near, k + np.where(x >= k, margin, -margin) * 1.5, x)
        return x

    return make


def positive(*shape):
    return lambda rng: 0.5 + rng.random(shape) * 2.0


# ---- the table --------------------------------------------------------------------------------

GRAD_CASES = [
    # broadcasting arithmetic
    ("broadcast (3,1)*(1,4)", lambda m, a, b: a * b + a - b, [normal(3, 1), normal(1, 4)]),
    ("broadcast div", lambda m, a, b: a / b, [normal(2, 3, 4), positive(3, 1)]),
    ("broadcast to leading dims", lambda m, a, b: (a + b) * b, [normal(2, 3, 4), normal(4)]),
    ("scalar ops", lambda m, a: 2 * a + a / 3 - 1.5 + 5 / a - (1 - a) * 0.5, [positive(3, 4)]),
    ("tensor**scalar", lambda m, a: a**3 + a**0.5 + a**-1 + a**2, [positive(5)]),
    ("scalar**tensor", lambda m, a: 2.0**a + 0.5**a, [normal(2, 3)]),
    ("tensor**tensor", lambda m, a, b: a**b, [positive(3, 4), normal(1, 4)]),
    ("neg and reuse", lambda m, a: -a * a + a.exp() * a, [normal(3, 3)]),
    # unary math and activations
    ("exp log sqrt", lambda m, a: a.exp().log() + a.sqrt() * a.log(), [positive(4, 3)]),
    ("abs relu", lambda m, a: a.abs() + a.relu() * 3, [away_from(0, shape=(4, 5))]),
    ("tanh sigmoid", lambda m, a: m.tanh(a) * m.sigmoid(a * 2), [normal(3, 7)]),
    (
        "clamp",
        lambda m, a: a.clamp(-0.5, 0.5) + a.clamp(min=0.2) + a.clamp(max=-0.3),
        [away_from(-0.5, 0.5, 0.2, -0.3, shape=(6, 4), margin=0.05)],
    ),
    (
        "where",
        lambda m, a, b: m.where(a > 0, a * b, b - a),
        [away_from(0, shape=(3, 4)), normal(4)],
    ),
    (
        "maximum minimum",
        lambda m, a, b: m.maximum(a, b) + m.minimum(a, b * 2),
        [normal(3, 4), normal(3, 4)],
    ),
    # reductions
    (
        "sum over dims",
        lambda m, a: a.sum() + a.sum(1).sum() * 2 + a.sum((0, 2), keepdim=True).sum(),
        [normal(2, 3, 4)],
    ),
    (
        "mean over dims",
        lambda m, a: a.mean(-1).sum() * a.mean((0, 1), keepdim=True).squeeze(),
        [normal(2, 3, 4)],
    ),
    ("max all", lambda m, a: a.max() * 3 - a.min(), [normal(3, 4)]),
    (
        "amax/amin over dims",
        lambda m, a: (
            (a.amax(1) * 2).sum()
            + (a * a.amin(dim=(0, 2), keepdim=True)).sum()
            + m.amax(a) * m.amin(a, -1).sum()
        ),
        [normal(2, 3, 4)],
    ),
    (
        "max/min along dim",
        lambda m, a: a.max(dim=1).values + a.min(-1, keepdim=True)[0].sum(1),
        [normal(2, 3, 4)],
    ),
    (
        "var std",
        lambda m, a: a.var(1) + a.std() + a.var(dim=(0, 2), keepdim=True).sum(),
        [normal(3, 4, 2)],
    ),
    # shape ops
    (
        "reshape permute chain",
        lambda m, a: a.reshape(6, 4).T.reshape(2, 2, 6).permute(2, 0, 1).flatten(1) * 2,
        [normal(2, 3, 4)],
    ),
    (
        "transpose squeeze view",
        lambda m, a: a.unsqueeze(0).transpose(1, 3).squeeze(0).reshape(-1) + a.view(24) * 2,
        [normal(2, 3, 4)],
    ),
    ("expand", lambda m, a: a.expand(3, 2, 4) * a.expand(2, 4).sum(), [normal(2, 1)]),
    ("mT contiguous", lambda m, a: a.mT.contiguous() * 3, [normal(2, 3, 4)]),
    # indexing
    ("index repeated ints", lambda m, a: a[[0, 2, 0, 0]] * 2, [normal(3, 4)]),
    ("index int array per dim", lambda m, a: a[[1, 1, 0], [2, 2, 3]], [normal(2, 4)]),
    (
        "index slices None Ellipsis",
        lambda m, a: a[1:, None, ..., ::2].sum((0, 1)) * a[0, 1:, -1],
        [normal(3, 4, 5)],
    ),
    ("index bool mask", lambda m, a: a[a > 0].sum() * a[:, 0], [away_from(0, shape=(4, 3))]),
    (
        "unbind split chunk",
        lambda m, a: a.unbind(1)[2] + a.split(2, 1)[1][:, 0] + a.chunk(2)[1].sum(),
        [normal(4, 5)],
    ),
    # joining
    ("cat", lambda m, a, b: m.cat([a, b * 2, a], dim=1), [normal(2, 3), normal(2, 1)]),
    ("stack", lambda m, a, b: m.stack([a, b, a * b], dim=-1), [normal(3, 2), normal(3, 2)]),
    # matmul
    ("matmul 2-D", lambda m, a, b: a @ b, [normal(5, 3), normal(3, 4)]),
    (
        "matmul transposed operand",
        lambda m, a, b: a @ b.T + b.T.sum(),
        [normal(5, 3), normal(4, 3)],
    ),
    ("matmul batched", lambda m, a, b: m.matmul(a, b), [normal(2, 3, 4), normal(2, 4, 5)]),
    ("matmul batch broadcast", lambda m, a, b: a @ b, [normal(2, 1, 3, 4), normal(3, 4, 2)]),
    ("matmul shared right matrix", lambda m, a, b: a @ b, [normal(2, 3, 4), normal(4, 5)]),
    ("matmul left 2-D, right batched", lambda m, a, b: a @ b, [normal(3, 4), normal(2, 4, 5)]),
    (
        "matmul 1-D cases",
        lambda m, a, b, c: (a @ b) + (b @ c).sum() + a @ a,
        [normal(4), normal(4, 3), normal(3)],
    ),
    (
        "linear layer",
        lambda m, x, w, b: (x @ w.T + b).tanh(),
        [normal(6, 3), normal(4, 3), normal(4)],
    ),
]

IDS = [c[0] for c in GRAD_CASES]


def _inputs(makers, seed=0):
    rng = np.random.default_rng(seed)
    return [make(rng) for make in makers], rng


def _ember_loss(fn, arrays, weight, requires_grad):
    xs = [ember.tensor(a, dtype=ember.float64, requires_grad=requires_grad) for a in arrays]
    out = fn(ember, *xs)
    return xs, out, (out * ember.tensor(weight)).sum()


@pytest.mark.parametrize("name, fn, makers", GRAD_CASES, ids=IDS)
def test_gradients_match_finite_differences(name, fn, makers):
    arrays, rng = _inputs(makers)
    out_shape = fn(ember, *[ember.tensor(a) for a in arrays]).shape
    weight = rng.standard_normal(out_shape)  # a random upstream gradient, not all ones
    xs, out, loss = _ember_loss(fn, arrays, weight, requires_grad=True)
    assert out.dtype == ember.float64
    loss.backward()

    eps = 1e-6
    for i, x in enumerate(xs):
        assert x.grad is not None, f"{name}: input {i} got no gradient"
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
        estimate = np.empty(arrays[i].size)
        for j in range(arrays[i].size):
            shifted = [a.copy() for a in arrays]
            shifted[i].flat[j] += eps
            plus = _ember_loss(fn, shifted, weight, False)[2].item()
            shifted[i].flat[j] -= 2 * eps
            minus = _ember_loss(fn, shifted, weight, False)[2].item()
            estimate[j] = (plus - minus) / (2 * eps)
        assert_close(x.grad.numpy().ravel(), estimate, 1e-5, 1e-6, f"{name}: d input {i} vs FD")
        assert np.any(x.grad.numpy() != 0), f"{name}: gradient of input {i} is all zero"


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name, fn, makers", GRAD_CASES, ids=IDS)
def test_values_and_gradients_match_torch(name, fn, makers):
    arrays, rng = _inputs(makers)
    xs = [ember.tensor(a, dtype=ember.float64, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, tout = fn(ember, *xs), fn(torch, *ts)
    assert out.shape == tuple(tout.shape), name
    assert_close(out.detach().numpy(), tout.detach().numpy(), 1e-12, 1e-12, f"{name} value")
    g = rng.standard_normal(out.shape)
    out.backward(ember.tensor(g))
    tout.backward(torch.tensor(g))
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert_close(x.grad.numpy(), t.grad.numpy(), 1e-10, 1e-12, f"{name}: d input {i}")


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_gradients_keep_the_input_dtype(dtype):
    a = ember.randn(3, 4, dtype=dtype, requires_grad=True)
    b = ember.randn(4, dtype=ember.float64, requires_grad=True)
    ((a * b).relu() @ ember.ones(4, 2, dtype=dtype)).sum().backward()
    assert a.grad.dtype == dtype and b.grad.dtype == ember.float64


def test_max_gradient_with_ties_follows_torch():
    # Of a whole tensor (and amax/amin): shared evenly by the tied elements; along a dim: to the
    # returned index.
    x = ember.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    (x.amin(1) * ember.tensor([1.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 0], [0, 0, 4]])
    x.grad = None
    x.amax(dim=0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 1], [1, 0, 0]])
    x.grad = None
    values, indices = x.max(dim=1)
    assert indices.dtype == ember.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])


def test_max_gradient_with_nan_follows_torch():
    nan = float("nan")
    rows = [[1.0, nan, 3.0, nan], [2.0, 2.0, 0.0, 1.0]]
    x = ember.tensor(rows, requires_grad=True)
    assert np.isnan(x.max().item()) and np.isnan(x.min().item())
    x.min().backward()  # shared by the NaNs
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0, 0.5], [0, 0, 0, 0]])
    x.grad = None
    x.amax(1).sum().backward()  # a NaN slice has no element equal to its result: NaN
    np.testing.assert_array_equal(x.grad.numpy(), [[nan] * 4, [0.5, 0.5, 0, 0]])
    if torch is not None:
        t = torch.tensor(rows, requires_grad=True)
        t.amax(1).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


# Values where the math is singular: inf or nan, silently (the suite turns warnings into errors),
# and the gradients torch gives there. Each case: (forward on lib = ember or torch, x and y values).
SINGULAR_CASES = [
    ("log", lambda lib, x, y: x.log(), [0.0, -1.0, 2.0], None),
    ("div", lambda lib, x, y: x / y, [1.0, 0.0, -1.0], [0.0, 0.0, 2.0]),
    ("sqrt", lambda lib, x, y: x.sqrt(), [0.0, -1.0, 4.0], None),
    ("pow_scalar", lambda lib, x, y: x**-1.0, [0.0, 2.0, -0.5], None),
    ("pow_zero", lambda lib, x, y: x**0, [0.0, 2.0, -0.5], None),
    ("pow_tensor", lambda lib, x, y: x**y, [0.0, 0.0, 0.0, 2.0], [-1.0, 0.0, 1.5, 0.5]),
    ("exp", lambda lib, x, y: x.exp(), [1000.0, -1000.0, 1.0], None),
    ("abs", lambda lib, x, y: x.abs(), [float("nan"), 0.0, -2.0], None),
    ("maximum", lambda lib, x, y: lib.maximum(x, y), [np.nan, 1.0, 2.0], [0.0, 1.0, np.nan]),
    ("minimum", lambda lib, x, y: lib.minimum(x, y), [np.nan, 1.0, 3.0], [0.0, 1.0, 4.0]),
]
SINGULAR_EXPECTED = {  # (value, x.grad[, y.grad]) where the rule is short to state
    "log": [[-np.inf, np.nan, np.log(2.0)], [np.inf, -1.0, 0.5]],
    "pow_zero": [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
    "pow_tensor": [
        [np.inf, 1.0, 0.0, 2**0.5],
        [-np.inf, 0.0, 0.0, 0.5 * 2**-0.5],
        [-np.inf, 0.0, 0.0, 2**0.5 * np.log(2.0)],
    ],
    "abs": [[np.nan, 0.0, 2.0], [0.0, 0.0, -1.0]],
    "maximum": [[np.nan, 1.0, np.nan], [1.0, 0.5, 1.0], [1.0, 0.5, 1.0]],
}


def _singular(lib, fn, xs, ys):
    x = lib.tensor(xs, requires_grad=True)
    y = None if ys is None else lib.tensor(ys, requires_grad=True)
    fn(lib, x, y).sum().backward()
    grads = [x.grad] + ([] if y is None else [y.grad])
    return [fn(lib, x, y).detach().numpy()] + [g.numpy() for g in grads]


@pytest.mark.parametrize("name, fn, xs, ys", SINGULAR_CASES, ids=[c[0] for c in SINGULAR_CASES])
def test_singular_values_give_inf_and_nan_without_warnings(name, fn, xs, ys):
    results = _singular(ember, fn, xs, ys)  # a RuntimeWarning would fail here
    for got, want in zip(results, SINGULAR_EXPECTED.get(name, [])):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    if torch is not None:
        for got, want in zip(results, _singular(torch, fn, xs, ys)):
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_empty_mean_is_nan_and_float_floor_division_by_zero_is_quiet():
    assert np.isnan(ember.tensor([]).mean().item())
    assert np.isnan(ember.zeros(0, 3).mean(0).numpy()).all()
    np.testing.assert_array_equal((ember.tensor([5.0, -3.0]) // 0.0).numpy(), [np.inf, -np.inf])
    assert np.isnan((ember.tensor([5.0]) % 0.0).item())


def test_integer_division_by_zero_raises_as_torch():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ember.tensor([5, 3]) // ember.tensor([0, 1])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ember.tensor([5, 3]) % 0
    np.testing.assert_array_equal((ember.tensor([5, -3]) // 2).numpy(), [2, -2])


def test_amax_rejects_an_empty_reduction_and_bad_dims():
    with pytest.raises(IndexError, match="amax"):
        ember.zeros(0, 3).amax(0)
    assert ember.zeros(0, 3).amax(1).shape == (0,)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.ones(2, 3).amin(2)
    with pytest.raises(RuntimeError, match="multiple times"):
        ember.ones(2, 3).amax((1, -1))


def test_repeated_integer_indices_accumulate():
    x = ember.arange(4.0, requires_grad=True)
    x[ember.tensor([0, 0, 3, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 0, 1])


def test_setitem_on_a_non_leaf_routes_gradients():
    a = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = ember.tensor(10.0, requires_grad=True)
    y = a * 2
    y[1] = b * 3
    (y * ember.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [2, 30, 6])
    np.testing.assert_array_equal(a.grad.numpy(), [2, 0, 200])
    assert b.grad.item() == 30


# ---- error cases ------------------------------------------------------------------------------


def test_second_backward_through_a_freed_graph_raises():
    x = ember.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(
        RuntimeError, match="backward through the graph a second time.*retain_graph=True"
    ):
        y.backward()


def test_freed_graph_raises_even_without_saved_arrays():
    x = ember.randn(3, requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_and_grads_accumulate():
    x = ember.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad
    y.backward()
    assert x.grad is first, ".grad must be accumulated in place"
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, -8.0])


def test_non_scalar_backward_needs_a_gradient():
    y = ember.randn(2, 3, requires_grad=True) * 2
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        y.backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        y.backward(ember.ones(3, 2))


def test_backward_of_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.ones(3).sum().backward()


def test_an_op_without_backward_raises_when_reached():
    class Forward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    x = ember.randn(3, requires_grad=True)
    y = Forward.apply(x)
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="Forward has no backward"):
        y.sum().backward()
    assert x.grad is None
    z = ember.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="has no backward"):
        (z.floor_divide(2.0) + z).sum().backward()


def test_wrong_number_of_gradients_raises():
    class TwoIn(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    a, b = ember.randn(2, requires_grad=True), ember.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 2, got 1\)"):
        TwoIn.apply(a, b).sum().backward()


def test_gradient_of_the_wrong_shape_raises():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            return g[:1]

    a = ember.randn(3, requires_grad=True)
    with pytest.raises(
        RuntimeError, match=r"gradient of shape \(1,\) reached a leaf of shape \(3,\)"
    ):
        BadShape.apply(a).sum().backward()


def test_inplace_on_a_leaf_that_requires_grad_raises():
    w = ember.randn(3, requires_grad=True)
    for op in (
        lambda: w.add_(1),
        lambda: w.mul_(2),
        lambda: w.zero_(),
        lambda: w.__setitem__(0, 1.0),
    ):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            op()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1
    before = w.detach().numpy().copy()
    with ember.no_grad():
        w -= 1  # what optimizers do
    np.testing.assert_allclose(w.detach().numpy(), before - 1)
    assert w.requires_grad and w.is_leaf


def test_inplace_inside_the_graph_keeps_earlier_gradients_right():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y * y  # saves y's values
    y += 100  # rebinds y; z's saved values are untouched
    (z.sum() + y.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 9 * np.array([1.0, 2.0]) + 3)


@pytest.fixture
def fake_cuda(monkeypatch):
    """'cuda' served by the CPU backend: enough to exercise device bookkeeping without a GPU."""
    cuda = ember.device("cuda", 0)  # where 'cuda' without an index places tensors
    monkeypatch.setattr(cuda, "backend", ember.backends.cpu)
    return cuda


def test_moving_between_devices_is_differentiable(fake_cuda):
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cuda")
    assert y.device == fake_cuda and y.requires_grad and y.grad_fn.name() == "ToDeviceBackward"
    z = (y * 3).sum()
    assert z.device == fake_cuda
    z.backward()
    assert x.grad.device == ember.device("cpu") and x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match="Use Tensor.cpu"):
        y.detach().numpy()
    assert y.detach().cpu().numpy().tolist() == [1.0, 2.0]


def test_mixing_devices_names_both(monkeypatch):
    cuda = ember.device("cuda", 0)  # where 'cuda' without an index places tensors
    monkeypatch.setattr(cuda, "backend", ember.backends.cpu)
    a = ember.ones(2)
    b = ember.ones(2)
    b._device = cuda  # a stand-in: this build has no CUDA backend
    with pytest.raises(RuntimeError, match="cpu and cuda"):
        a + b


# ---- grad mode --------------------------------------------------------------------------------


def test_no_grad_builds_no_graph():
    x = ember.randn(3, requires_grad=True)
    with ember.no_grad():
        y = (x * 2).exp().sum()
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_no_grad_as_decorator_with_and_without_parentheses():
    @ember.no_grad()
    def f(x):
        return x * 2

    @ember.no_grad
    def g(x):
        return x * 2

    x = ember.randn(2, requires_grad=True)
    assert not f(x).requires_grad and not g(x).requires_grad
    assert (x * 2).requires_grad


def test_enable_grad_and_set_grad_enabled():
    x = ember.randn(2, requires_grad=True)
    with ember.no_grad():
        with ember.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        ember.set_grad_enabled(True)


def test_grad_mode_is_per_thread():
    seen = []
    with ember.no_grad():
        t = threading.Thread(target=lambda: seen.append(ember.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


# ---- custom Functions, autograd.grad ----------------------------------------------------------


class ScaledSquare(Function):
    """y = scale * x^2 with a non-tensor argument, saved arrays and needs_input_grad."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        ctx.seen_needs = ctx.needs_input_grad
        return ctx.backend.mul(ctx.backend.mul(x, x), scale)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ctx.backend.mul(g, ctx.backend.mul(x, 2 * ctx.scale)), None


def test_custom_function():
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = ScaledSquare.apply(x, 0.5)
    assert y.grad_fn.needs_input_grad == (True, False)
    assert y.grad_fn.name() == "ScaledSquareBackward"
    y.backward(ember.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -2.0, 3.0])
    with pytest.raises(RuntimeError, match="already been freed"):
        _ = y.grad_fn.saved_tensors
    assert not ScaledSquare.apply(ember.ones(2), 2.0).requires_grad


def test_custom_function_with_two_outputs():
    class SplitHalves(Function):
        @staticmethod
        def forward(ctx, x):
            n = x.shape[0] // 2
            return x[:n] * 1, x[n:] * 1, (x > 0).astype(int)

        @staticmethod
        def backward(ctx, ga, gb, gmask):
            return ctx.backend.concatenate([ga, gb])

    x = ember.arange(4.0, requires_grad=True)
    a, b, mask = SplitHalves.apply(x)
    assert a.requires_grad and b.requires_grad and not mask.requires_grad
    (b * 3).sum().backward()  # a receives no gradient: zeros are passed for it
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 3, 3])


def test_autograd_grad_does_not_touch_dot_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    y = (h * 3).sum()
    gx, gh = ember.autograd.grad(y, [x, h])
    np.testing.assert_array_equal(gx.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(gh.numpy(), [3.0, 3.0])
    assert x.grad is None
    unused = ember.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        ember.autograd.grad((x * 2).sum(), [x, unused])
    assert ember.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)[1] is None


def test_backward_with_inputs_accumulates_only_there():
    a, b = ember.randn(2, requires_grad=True), ember.randn(2, requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    np.testing.assert_array_equal(a.grad.numpy(), b.detach().numpy())
    assert b.grad is None


def test_create_graph_is_reported_unsupported():
    x = ember.randn(2, requires_grad=True)
    with pytest.raises(NotImplementedError, match="higher-order"):
        (x * x).sum().backward(create_graph=True)


# ---- memory -----------------------------------------------------------------------------------


def _live_nodes() -> int:
    gc.collect()
    return sum(issubclass(type(o), Node) for o in gc.get_objects())


def test_no_leaked_nodes_after_backward_and_del():
    w = ember.randn(4, 3, requires_grad=True)
    before = _live_nodes()
    x = ember.randn(5, 4)
    loss = ((x @ w).relu()[1:].sum(0) * 2).max()
    node = weakref.ref(loss.grad_fn)
    assert _live_nodes() > before
    loss.backward()
    del loss
    assert node() is None, "the graph outlived its output"
    assert _live_nodes() == before


def test_graph_is_freed_by_reference_counting_alone():
    gc.disable()
    try:
        x = ember.randn(3, requires_grad=True)
        y = ((x * 2).exp() + x).sum()
        nodes = [weakref.ref(y.grad_fn)]
        nodes += [weakref.ref(e[0]) for e in y.grad_fn.next_functions if e[0] is not None]
        assert len(nodes) == 2
        del y
        assert all(r() is None for r in nodes), "a reference cycle keeps the graph alive"
    finally:
        gc.enable()


def test_leaf_accumulator_does_not_keep_the_leaf_alive():
    x = ember.randn(3, requires_grad=True)
    y = (x * 2).sum()
    leaf = weakref.ref(x)
    del x
    assert leaf() is None
    y.backward()  # the gradient has nowhere to go and is dropped


def test_functions_with_many_tensor_arguments():
    w = ember.ones(2, requires_grad=True)
    parts = [w * i for i in range(30)]
    with ember.no_grad():
        assert ember.cat([p.detach() for p in parts]).shape == (60,)
    ember.cat(parts).sum().backward()
    assert w.grad.tolist() == [435.0, 435.0]


def test_retain_grad_and_hooks():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    assert h.retains_grad and not x.retains_grad
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)  # replaces the gradient reaching the leaf
    (h * h).sum().backward()
    assert seen == [[6.0, 12.0]] and h.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [180.0, 360.0]
    handle.remove()
    (x * 3).sum().backward()
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(2).register_hook(print)


def test_a_retained_tensor_is_not_kept_alive_by_its_graph():
    x = ember.randn(3, requires_grad=True)
    h = x * 2
    h.retain_grad()
    y = (h * h).sum()
    ref = weakref.ref(h)
    del h
    assert ref() is None
    y.backward()


@pytest.mark.parametrize(
    "scale", [lambda l: l * 2.0, lambda l: l / 4, lambda l: 3 * l, lambda l: -l]
)
def test_scaled_scalar_loss_backpropagates(scale):
    """NumPy turns 0-d results into scalars; a scaled loss must still reach the loss's backward."""
    from ember.nn import functional as F

    x = ember.randn(4, 3, dtype=ember.float64, requires_grad=True)
    target = ember.tensor([0, 1, 2, 0])
    scale(F.cross_entropy(x, target)).backward()
    scaled_grad = x.grad.numpy().copy()
    x.grad = None
    F.cross_entropy(x, target).backward()
    factor = scale(ember.tensor(1.0, dtype=ember.float64)).item()
    np.testing.assert_allclose(scaled_grad, factor * x.grad.numpy(), rtol=1e-12)


# ---- leaves keeping a fresh first gradient instead of copying it --------------------------------


class _Returns(Function):
    """y = x; backward hands back `ctx.grad_array` itself, whatever the upstream gradient."""

    @staticmethod
    def forward(ctx, x, grad_array):
        ctx.grad_array = grad_array
        return x * 1

    @staticmethod
    def backward(ctx, g):
        return ctx.grad_array, None


class _ReturnsFresh(_Returns):
    fresh_gradients = True


@pytest.mark.parametrize("fresh", [False, True])
def test_a_leaf_keeps_a_fresh_gradient_and_copies_any_other(fresh):
    grad_array = np.array([1.0, 2.0], dtype=np.float32)
    x = ember.zeros(2, requires_grad=True)
    (_ReturnsFresh if fresh else _Returns).apply(x, grad_array).backward(ember.ones(2))
    assert (x.grad._data is grad_array) == fresh
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])


def test_a_leaf_hook_or_a_dtype_change_forces_a_copy_of_a_fresh_gradient():
    grad_array = np.array([1.0, 2.0], dtype=np.float32)
    hooked = ember.zeros(2, requires_grad=True)
    hooked.register_hook(lambda g: g)
    _ReturnsFresh.apply(hooked, grad_array).backward(ember.ones(2))
    assert hooked.grad._data is not grad_array
    wide = ember.zeros(2, dtype=ember.float64, requires_grad=True)
    _ReturnsFresh.apply(wide, grad_array).backward(ember.ones(2, dtype=ember.float64))
    assert wide.grad.dtype == ember.float64
    strided = np.arange(4.0, dtype=np.float32)[::2]
    y = ember.zeros(2, requires_grad=True)
    _ReturnsFresh.apply(y, strided).backward(ember.ones(2))
    assert y.grad._data is not strided and y.grad._data.flags.c_contiguous


def test_tied_linear_weights_accumulate_into_the_adopted_gradient():
    rng = np.random.default_rng(0)
    w = ember.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = ember.tensor(rng.standard_normal((4, 3)))
    F = ember.nn.functional
    F.linear(F.linear(x, w), w).sum().backward()
    W, X = w.detach().numpy(), x.numpy()
    ones = np.ones((4, 3))
    expected = ones.T @ (X @ W.T) + (ones @ W).T @ X  # d/dW of sum((X W^T) W^T)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    first = w.grad.numpy().copy()
    F.linear(x, w).sum().backward()  # accumulates in place into the kept array
    np.testing.assert_allclose(w.grad.numpy(), first + ones.T @ X, rtol=1e-12)


def test_two_linear_layers_never_share_a_gradient_array():
    layer_a, layer_b = ember.nn.Linear(3, 2), ember.nn.Linear(3, 2)
    x = ember.randn(5, 3)
    (layer_a(x) + layer_b(x)).sum().backward()
    grads = [p.grad._data for p in (*layer_a.parameters(), *layer_b.parameters())]
    for i, a in enumerate(grads):
        for b in grads[i + 1 :]:
            assert not np.shares_memory(a, b)
