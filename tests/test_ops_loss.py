import itertools

import numpy as np
import pytest
from op_harness import OpCase, assert_close, check_case, check_thread_consistency
from reference import loss as ref

from ember import _C

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

REDUCTIONS = ("mean", "sum", "none")


def as_dout(d, reduction):
    """The harness hands a scalar upstream gradient over as shape (1,); the kernels take the
    forward's shape, 0-d for mean/sum."""
    return d if reduction == "none" else np.reshape(d, ())


# ---- cross entropy --------------------------------------------------------------------------


def ce_inputs(n, c, scale=2.0, offset=None, weighted=False, ignore_index=None, ignore_rows=()):
    def make(rng):
        if offset is not None:
            # offset + k/16 is exact in float32 near 1e6: both dtypes see the same logits.
            logits = offset + np.round(16 * rng.standard_normal((n, c))) / 16
        else:
            logits = scale * rng.standard_normal((n, c))
        target = rng.integers(0, c, size=n).astype(np.int64)
        for r in ignore_rows:
            target[r] = ignore_index
        inputs = {"logits": logits, "target": target}
        if weighted:
            inputs["weight"] = rng.uniform(0.2, 2.0, size=c)
        return inputs

    return make


def ce_case(
    label,
    make_inputs,
    reduction="mean",
    ignore_index=-100,
    label_smoothing=0.0,
    nonzero_grads=True,
    fd_eps=1e-6,
):
    kw = {"reduction": reduction, "ignore_index": ignore_index, "label_smoothing": label_smoothing}
    return OpCase(
        name=f"cross_entropy{label}[{reduction}, ls={label_smoothing}, ignore={ignore_index}]",
        make_inputs=make_inputs,
        native_forward=lambda a: _C.cross_entropy_forward(
            a["logits"], a["target"], weight=a.get("weight"), **kw
        ),
        reference_forward=lambda a: ref.cross_entropy(
            a["logits"], a["target"], a.get("weight"), **kw
        ),
        wrt=("logits",),
        native_backward=lambda d, a: {
            "logits": _C.cross_entropy_backward(
                as_dout(d, reduction), a["logits"], a["target"], weight=a.get("weight"), **kw
            )
        },
        reference_backward=lambda d, a: {
            "logits": ref.cross_entropy_backward(d, a["logits"], a["target"], a.get("weight"), **kw)
        },
        torch_forward=lambda t: F.cross_entropy(
            t["logits"], t["target"], weight=t.get("weight"), **kw
        ),
        nonzero_grads=nonzero_grads,
        fd_eps=fd_eps,
    )


CE_SHAPES = [(1, 2), (7, 2), (1, 33), (13, 33), (64, 10)]
CE_CASES = [ce_case(str(s), ce_inputs(*s), r) for s in CE_SHAPES for r in REDUCTIONS]
# One class: log_softmax is identically 0, so are the loss and its gradient.
CE_CASES += [
    ce_case("(5, 1)", ce_inputs(5, 1), r, label_smoothing=ls, nonzero_grads=False)
    for r in REDUCTIONS
    for ls in (0.0, 0.1)
]
# Every combination of weight, ignored rows (the default index and a valid class index as
# ignore_index) and label smoothing, under every reduction.
for weighted, ignore, ls, r in itertools.product(
    (False, True), (None, -100, 3), (0.0, 0.1), REDUCTIONS
):
    rows = () if ignore is None else (0, 4, 9)
    index = -100 if ignore is None else ignore
    label = f"(13, 33){'[weight]' if weighted else ''}{'' if ignore is None else '[ignored rows]'}"
    CE_CASES.append(
        ce_case(
            label,
            ce_inputs(13, 33, weighted=weighted, ignore_index=index, ignore_rows=rows),
            r,
            ignore_index=index,
            label_smoothing=ls,
        )
    )
# Extreme logits. Spread 1e4 / 1e6: softmax is one-hot, the loss piecewise linear (so a wide
# finite-difference step is exact). Offset 1e6 + O(1): a non-trivial softmax that overflows
# unless the row max is subtracted; 2^-20 is an exact float64 step next to 1e6.
for scale in (1e4, 1e6):
    for r, ls, weighted in (("mean", 0.0, False), ("none", 0.1, True), ("sum", 0.1, False)):
        CE_CASES.append(
            ce_case(
                f"[spread {scale:g}](9, 7)",
                ce_inputs(9, 7, scale=scale, weighted=weighted),
                r,
                label_smoothing=ls,
                fd_eps=1e-2,
            )
        )
for offset in (1e6, -1e6):
    for r in REDUCTIONS:
        CE_CASES.append(
            ce_case(
                f"[offset {offset:g}](9, 7)",
                ce_inputs(9, 7, offset=offset, weighted=True),
                r,
                label_smoothing=0.1,
                fd_eps=2.0**-20,
            )
        )


@pytest.mark.parametrize("case", CE_CASES, ids=str)
def test_cross_entropy(case, dtype, simd):
    check_case(case, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("scale", [1e4, 1e6, 1e30])
def test_cross_entropy_extreme_logits_stay_finite(dtype, scale, simd):
    """Logits of either sign far from 0, with and without smoothing: the loss is finite and the
    gradient is the reference's one-hot difference."""
    logits = np.array([[scale, -scale, 0.0], [-scale, -scale, scale], [scale, scale, -scale]])
    target = np.array([1, 2, 0])
    for ls, r in itertools.product((0.0, 0.1), REDUCTIONS):
        kw = {"reduction": r, "label_smoothing": ls}
        loss = _C.cross_entropy_forward(logits.astype(dtype), target, **kw)
        dout = np.ones(loss.shape, dtype=dtype)
        grad = _C.cross_entropy_backward(dout, logits.astype(dtype), target, **kw)
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        assert_close(loss, ref.cross_entropy(logits, target, **kw), 1e-6, 0.0, f"loss {kw}")
        assert_close(
            grad,
            ref.cross_entropy_backward(dout.astype(np.float64), logits, target, **kw),
            1e-6,
            1e-7,
            f"dlogits {kw}",
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_cross_entropy_all_ignored(dtype, simd):
    """Mean over no rows is 0/0 = NaN (PyTorch's answer); sum is 0; gradients are 0."""
    logits = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    target = np.full(4, -100)
    for ls in (0.0, 0.1):
        mean = _C.cross_entropy_forward(logits, target, label_smoothing=ls)
        assert mean.shape == () and np.isnan(mean)
        assert _C.cross_entropy_forward(logits, target, reduction="sum", label_smoothing=ls) == 0
        none = _C.cross_entropy_forward(logits, target, reduction="none", label_smoothing=ls)
        assert np.array_equal(none, np.zeros(4))
        grad = _C.cross_entropy_backward(
            np.array(1.0, dtype=dtype), logits, target, label_smoothing=ls
        )
        assert np.array_equal(grad, np.zeros((4, 5)))
        if torch is not None:
            t = torch.tensor(logits, requires_grad=True)
            out = F.cross_entropy(t, torch.tensor(target), label_smoothing=ls)
            assert torch.isnan(out)
            out.backward()
            assert np.array_equal(t.grad.numpy(), grad)


def test_cross_entropy_rejects_bad_input():
    x = np.zeros((3, 4))
    t = np.array([0, 1, 3])
    with pytest.raises(TypeError, match=r"\[cross_entropy\] target: expected int64, got int32"):
        _C.cross_entropy_forward(x, t.astype(np.int32))
    with pytest.raises(TypeError, match=r"\[cross_entropy\] target: expected int64, got float64"):
        _C.cross_entropy_forward(x, t.astype(np.float64))
    with pytest.raises(ValueError, match=r"\[cross_entropy\] target: expected shape \(3,\), got"):
        _C.cross_entropy_forward(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[cross_entropy\] logits: expected 2-D \(N, C\)"):
        _C.cross_entropy_forward(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match=r"\[cross_entropy\] logits: number of classes C must"):
        _C.cross_entropy_forward(np.zeros((3, 0)), t)
    with pytest.raises(ValueError, match=r"\[cross_entropy\] target: class index 4 at position 2"):
        _C.cross_entropy_forward(x, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"\[cross_entropy\] target: class index -1 at position 0"):
        _C.cross_entropy_forward(x, np.array([-1, 1, 2]))
    with pytest.raises(ValueError, match=r"\[cross_entropy\] target: class index -100"):
        _C.cross_entropy_forward(x, np.array([0, -100, 2]), ignore_index=-1)
    with pytest.raises(ValueError, match=r"\[cross_entropy_backward\] target: class index 9"):
        _C.cross_entropy_backward(np.array(1.0), x, np.array([0, 9, 2]))
    with pytest.raises(ValueError, match=r"\[cross_entropy\] reduction: expected 'mean', 'sum' "):
        _C.cross_entropy_forward(x, t, reduction="avg")
    with pytest.raises(ValueError, match=r"\[cross_entropy\] weight: expected shape \(4,\)"):
        _C.cross_entropy_forward(x, t, weight=np.ones(3))
    with pytest.raises(TypeError, match=r"\[cross_entropy\] weight and logits must share"):
        _C.cross_entropy_forward(x, t, weight=np.ones(4, dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[cross_entropy\] label_smoothing: expected a value"):
        _C.cross_entropy_forward(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"\[cross_entropy\] logits:.*contiguous"):
        _C.cross_entropy_forward(np.zeros((4, 3)).T, t)
    with pytest.raises(ValueError, match=r"\[cross_entropy\] target:.*contiguous"):
        _C.cross_entropy_forward(x, np.zeros(6, dtype=np.int64)[::2])
    with pytest.raises(ValueError, match=r"\[cross_entropy_backward\] dout: expected shape \(\)"):
        _C.cross_entropy_backward(np.ones(1), x, t)
    with pytest.raises(ValueError, match=r"\[cross_entropy_backward\] dout: expected shape \(3,\)"):
        _C.cross_entropy_backward(np.array(1.0), x, t, reduction="none")
    with pytest.raises(TypeError, match=r"\[cross_entropy_backward\] dout and the input"):
        _C.cross_entropy_backward(np.array(1.0, dtype=np.float32), x, t)


# ---- element-wise losses: bce_with_logits, bce, mse -------------------------------------------

ELEMENTWISE_SHAPES = [(1,), (7,), (1, 7), (13, 33), (2, 3, 5)]


def pair_inputs(shape, x_of, target_of, pos_weight=False):
    def make(rng):
        inputs = {"x": x_of(rng, shape), "target": target_of(rng, shape)}
        if pos_weight:
            inputs["pos_weight"] = rng.uniform(0.3, 3.0, size=shape[-1])
        return inputs

    return make


def soft_targets(rng, shape):
    return rng.uniform(0.0, 1.0, size=shape)


def hard_targets(rng, shape):
    return rng.integers(0, 2, size=shape).astype(np.float64)


def logits_of(scale):
    return lambda rng, shape: scale * rng.standard_normal(shape)


def extreme_logits(rng, shape):
    """Saturated and moderate logits of both signs, exact in float32."""
    values = np.array([-1e4, -60.0, -50.0, -3.0, -0.5, 0.75, 2.5, 50.0, 60.0, 1e4])
    return rng.choice(values, size=shape)


def probabilities(rng, shape):
    return rng.uniform(0.02, 0.98, size=shape)


def bce_logits_case(label, make_inputs, reduction, fd_eps=1e-6):
    def pw(a):
        return {"pos_weight": a["pos_weight"]} if "pos_weight" in a else {}

    return OpCase(
        name=f"bce_with_logits{label}[{reduction}]",
        make_inputs=make_inputs,
        native_forward=lambda a: _C.bce_with_logits_forward(
            a["x"], a["target"], reduction=reduction, **pw(a)
        ),
        reference_forward=lambda a: ref.bce_with_logits(a["x"], a["target"], reduction, **pw(a)),
        wrt=("x",),
        native_backward=lambda d, a: {
            "x": _C.bce_with_logits_backward(
                as_dout(d, reduction), a["x"], a["target"], reduction=reduction, **pw(a)
            )
        },
        reference_backward=lambda d, a: {
            "x": ref.bce_with_logits_backward(d, a["x"], a["target"], reduction, **pw(a))
        },
        torch_forward=lambda t: F.binary_cross_entropy_with_logits(
            t["x"], t["target"], reduction=reduction, **pw(t)
        ),
        fd_eps=fd_eps,
    )


def simple_case(name, native_fwd, native_bwd, ref_fwd, ref_bwd, torch_fn):
    def make(label, make_inputs, reduction):
        return OpCase(
            name=f"{name}{label}[{reduction}]",
            make_inputs=make_inputs,
            native_forward=lambda a: native_fwd(a["x"], a["target"], reduction=reduction),
            reference_forward=lambda a: ref_fwd(a["x"], a["target"], reduction),
            wrt=("x",),
            native_backward=lambda d, a: {
                "x": native_bwd(as_dout(d, reduction), a["x"], a["target"], reduction=reduction)
            },
            reference_backward=lambda d, a: {"x": ref_bwd(d, a["x"], a["target"], reduction)},
            torch_forward=lambda t: torch_fn(t["x"], t["target"], reduction=reduction),
        )

    return make


bce_case = simple_case(
    "bce",
    _C.bce_forward,
    _C.bce_backward,
    ref.bce,
    ref.bce_backward,
    lambda *a, **k: F.binary_cross_entropy(*a, **k),
)
mse_case = simple_case(
    "mse",
    _C.mse_forward,
    _C.mse_backward,
    ref.mse,
    ref.mse_backward,
    lambda *a, **k: F.mse_loss(*a, **k),
)

ELEMENTWISE_CASES = []
for s, r in itertools.product(ELEMENTWISE_SHAPES, REDUCTIONS):
    ELEMENTWISE_CASES += [
        bce_logits_case(str(s), pair_inputs(s, logits_of(3.0), soft_targets), r),
        bce_logits_case(
            f"{s}[pos_weight]", pair_inputs(s, logits_of(3.0), hard_targets, pos_weight=True), r
        ),
        bce_case(str(s), pair_inputs(s, probabilities, soft_targets), r),
        mse_case(str(s), pair_inputs(s, logits_of(2.0), logits_of(2.0)), r),
    ]
for r in REDUCTIONS:
    ELEMENTWISE_CASES += [
        # Wide step: the loss is linear away from 0 and 1e4 * 1e-16 / 1e-6 would be noise.
        bce_logits_case(
            "[extreme](9, 11)", pair_inputs((9, 11), extreme_logits, hard_targets), r, fd_eps=1e-3
        ),
        bce_logits_case(
            "[extreme, pos_weight](9, 11)",
            pair_inputs((9, 11), extreme_logits, soft_targets, pos_weight=True),
            r,
            fd_eps=1e-3,
        ),
        bce_case("[hard targets](13, 33)", pair_inputs((13, 33), probabilities, hard_targets), r),
    ]


@pytest.mark.parametrize("case", ELEMENTWISE_CASES, ids=str)
def test_elementwise_loss(case, dtype, simd):
    check_case(case, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_bce_at_zero_and_one(dtype):
    """p = 0 or 1: each log is clamped at -100, so the loss is finite (100 at most per element);
    the backward divides by max(p (1 - p), 1e-12), as PyTorch."""
    p = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5], dtype=dtype)
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.7, 1.0], dtype=dtype)
    for r in REDUCTIONS:
        loss = _C.bce_forward(p, t, reduction=r)
        dout = np.ones(loss.shape, dtype=dtype)
        grad = _C.bce_backward(dout, p, t, reduction=r)
        p64, t64 = p.astype(np.float64), t.astype(np.float64)
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        assert_close(loss, ref.bce(p64, t64, r), 1e-6, 1e-6, f"bce loss [{r}]")
        assert_close(
            grad,
            ref.bce_backward(dout.astype(np.float64), p64, t64, r),
            1e-6,
            1e-6,
            f"bce dp [{r}]",
        )
        if torch is not None:
            tp = torch.tensor(p, requires_grad=True)
            out = F.binary_cross_entropy(tp, torch.tensor(t), reduction=r)
            out.backward(torch.tensor(dout))
            np.testing.assert_allclose(loss, out.detach().numpy(), rtol=1e-6)
            np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("t", [0.0, 1.0, 0.3])
@pytest.mark.parametrize("with_pos_weight", [False, True], ids=["plain", "pos_weight"])
def test_bce_with_logits_float32_accuracy(t, with_pos_weight):
    """Per element in float32, over x in [-30, 30] tails included: the loss stays within 4 ulp
    of float64 (its terms are grouped so that none cancel: x + softplus(-x) would lose all at
    x = -20, t = 0) and so does the gradient, measured against its larger term
    max((1 - t) sigmoid(x), pw t sigmoid(-x)) since a soft target's gradient crosses 0."""
    x = np.linspace(-30, 30, 20_001).astype(np.float32)
    target = np.full_like(x, t)
    pw = 2.5 if with_pos_weight else 1.0
    kw = {"pos_weight": np.full(x.shape, pw, np.float32)} if with_pos_weight else {}
    kw64 = {k: v.astype(np.float64) for k, v in kw.items()}
    x64, t64 = x.astype(np.float64), target.astype(np.float64)
    loss = _C.bce_with_logits_forward(x, target, reduction="none", **kw)
    grad = _C.bce_with_logits_backward(np.ones_like(x), x, target, reduction="none", **kw)
    sig = ref.bce_with_logits_backward(np.ones_like(x64), x64, np.zeros_like(x64), "none")
    grad_scale = np.maximum((1 - t) * sig, pw * t * (1 - sig))
    for got, expected, scale in (
        (loss, ref.bce_with_logits(x64, t64, "none", **kw64), None),
        (
            grad,
            ref.bce_with_logits_backward(np.ones_like(x64), x64, t64, "none", **kw64),
            grad_scale,
        ),
    ):
        scale = np.abs(expected) if scale is None else scale
        normal = scale >= np.finfo(np.float32).tiny
        spacing = np.spacing(scale[normal].astype(np.float32))
        assert np.max(np.abs(got[normal] - expected[normal]) / spacing) <= 4


def test_empty_mean_is_nan():
    """The mean over no elements is 0/0 = NaN, as in PyTorch."""
    empty = np.zeros((0, 3))
    assert np.isnan(_C.mse_forward(empty, empty))
    assert np.isnan(_C.bce_with_logits_forward(empty, empty))
    assert _C.mse_forward(empty, empty, reduction="sum") == 0
    assert _C.mse_backward(np.array(1.0), empty, empty).shape == (0, 3)


def test_elementwise_loss_rejects_bad_input():
    x = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=r"\[mse\] target: expected shape \(2, 3\), got \(3, 2\)"):
        _C.mse_forward(x, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\[bce\] target: expected shape \(2, 3\), got \(3,\)"):
        _C.bce_forward(x, np.zeros(3))
    with pytest.raises(TypeError, match=r"\[bce_with_logits\] target and x must share a dtype"):
        _C.bce_with_logits_forward(x, x.astype(np.float32))
    with pytest.raises(TypeError, match=r"\[mse\] target: expected float32 or float64, got int64"):
        _C.mse_forward(x, np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"\[mse_backward\] reduction: expected 'mean', 'sum'"):
        _C.mse_backward(np.array(1.0), x, x, reduction="Mean")
    with pytest.raises(ValueError, match=r"\[bce_with_logits\] reduction: expected"):
        _C.bce_with_logits_forward(x, x, reduction="")
    with pytest.raises(ValueError, match=r"\[bce\] p:.*contiguous"):
        _C.bce_forward(np.full((3, 2), 0.5).T, x)
    with pytest.raises(ValueError, match=r"\[mse\] target:.*contiguous"):
        _C.mse_forward(x, np.zeros((3, 2)).T)
    with pytest.raises(ValueError, match=r"\[bce\] p: expected probabilities in \[0, 1\], got 2"):
        _C.bce_forward(np.array([0.5, 1.5, -0.1]), np.zeros(3))
    with pytest.raises(ValueError, match=r"\[bce\] p: expected probabilities in \[0, 1\], got 1"):
        _C.bce_forward(np.array([0.5, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match=r"\[bce_with_logits\] pos_weight: expected shape \(3,\)"):
        _C.bce_with_logits_forward(x, x, pos_weight=np.ones(2))
    with pytest.raises(ValueError, match=r"\[bce_with_logits_backward\] dout: expected shape \(\)"):
        _C.bce_with_logits_backward(np.ones((2, 3)), x, x)
    with pytest.raises(ValueError, match=r"\[bce_backward\] dout: expected shape \(2, 3\)"):
        _C.bce_backward(np.array(1.0), x, x, reduction="none")


THREAD_CASES = [
    ce_case(
        "(512, 1000)[weight]",
        ce_inputs(512, 1000, weighted=True, ignore_index=-100, ignore_rows=(3, 100)),
        "mean",
        label_smoothing=0.1,
    ),
    ce_case("(512, 1000)", ce_inputs(512, 1000), "none"),
    bce_logits_case(
        "(512, 1000)[pos_weight]",
        pair_inputs((512, 1000), logits_of(3.0), soft_targets, pos_weight=True),
        "mean",
    ),
    bce_case("(512, 1000)", pair_inputs((512, 1000), probabilities, soft_targets), "sum"),
    mse_case("(512, 1000)", pair_inputs((512, 1000), logits_of(2.0), logits_of(2.0)), "mean"),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=str)
def test_loss_threads(case):
    check_thread_consistency(case)
