"""ember.nn.functional against torch.nn.functional: forward and the gradient of every
differentiable argument, float64 and float32, over the argument variants each op supports;
dtype promotion; error messages."""

from __future__ import annotations

import numpy as np
import pytest
from nn_torch import close, requires_torch, torch

import ember
import ember.nn.functional as F

if torch is not None:
    import torch.nn.functional as TF


def run_both(ours, theirs, arrays: dict, dtype, grads=(), seed=0):
    """Call ours(**tensors) and theirs(**torch_tensors) on the same values (float arrays cast to
    dtype, integer arrays as given); compare the outputs, then the gradients of `grads` for one
    random upstream gradient."""
    rng = np.random.default_rng(seed)
    e, t = {}, {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        e[name] = ember.tensor(a, requires_grad=name in grads)
        t[name] = torch.tensor(a, requires_grad=name in grads)
    y, ty = ours(**e), theirs(**t)
    close(y, ty, dtype, "forward")
    if not grads:
        return
    g = rng.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    for name in grads:
        assert e[name].grad is not None, f"no gradient for {name}"
        assert e[name].grad.dtype == e[name].dtype
        assert np.any(e[name].grad.numpy() != 0), f"gradient of {name} is all zeros"
        close(e[name].grad, t[name].grad, dtype, f"grad of {name}")


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- linear and conv -------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("x_shape", [(5,), (4, 5), (2, 3, 5), (1, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(x_shape, bias, dtype):
    arrays = dict(input=randn(*x_shape), weight=randn(3, 5, seed=1))
    if bias:
        arrays["bias"] = randn(3, seed=2)
    run_both(F.linear, TF.linear, arrays, dtype, grads=tuple(arrays))


CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((3, 7, 6), (4, 3, 3, 3), dict(stride=2, padding=1)),  # unbatched
    ((2, 4, 8, 9), (6, 2, 3, 2), dict(stride=(2, 1), padding=(0, 1), dilation=(1, 2), groups=2)),
    ((1, 2, 6, 7), (3, 2, 3, 3), dict(padding="same", dilation=2)),
    ((1, 2, 6, 7), (3, 2, 2, 4), dict(padding="same")),  # even kernel: asymmetric padding
    ((2, 1, 5, 5), (2, 1, 5, 5), dict(padding="valid")),
]


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # torch's, on even kernels
@pytest.mark.parametrize("case", CONV_CASES, ids=range(len(CONV_CASES)))
def test_conv2d(case, dtype):
    x_shape, w_shape, kwargs = case
    arrays = dict(input=randn(*x_shape), weight=randn(*w_shape, seed=1), bias=randn(w_shape[0]))
    run_both(
        lambda **a: F.conv2d(**a, **kwargs),
        lambda **a: TF.conv2d(**a, **kwargs),
        arrays,
        dtype,
        grads=("input", "weight", "bias"),
    )


def test_conv2d_errors_are_raised_before_the_kernel():
    x, w = ember.zeros(2, 3, 5, 5), ember.zeros(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"\[conv2d\] expected input of shape \(N, C, H, W\)"):
        F.conv2d(ember.zeros(3, 5), w)
    with pytest.raises(ValueError, match=r"\[conv2d\] input has 2 channels"):
        F.conv2d(ember.zeros(1, 2, 5, 5), w)
    with pytest.raises(ValueError, match=r"\[conv2d\] stride must be an int or a pair"):
        F.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"\[conv2d\] padding='same' is not supported for "
        r"strided",
    ):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(TypeError, match=r"\[conv2d\] expected input to be an ember.Tensor"):
        F.conv2d(np.zeros((2, 3, 5, 5)), w)


def test_linear_errors():
    with pytest.raises(ValueError, match=r"\[linear\] weight: expected \(out_features, 4\)"):
        F.linear(ember.zeros(2, 4), ember.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\[linear\] expected input of shape \(\*, in_"):
        F.linear(ember.tensor(1.0), ember.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\[linear\] bias: expected shape \(3,\)"):
        F.linear(ember.zeros(2, 5), ember.zeros(3, 5), ember.zeros(4))
    with pytest.raises(TypeError, match=r"\[linear\] expected input to be an ember.Tensor"):
        F.linear([1.0] * 5, ember.zeros(3, 5))


def test_mixed_dtypes_promote_and_gradients_keep_each_dtype():
    x = ember.randn(4, 5, dtype=ember.float64, requires_grad=True)
    w = ember.randn(3, 5, requires_grad=True)  # float32
    b = ember.randn(3, requires_grad=True)
    y = F.linear(x, w, b)
    assert y.dtype == ember.float64
    y.sum().backward()
    assert (x.grad.dtype, w.grad.dtype, b.grad.dtype) == (
        ember.float64,
        ember.float32,
        ember.float32,
    )
    np.testing.assert_allclose(
        w.grad.numpy(), np.broadcast_to(x.detach().numpy().sum(0), (3, 5)), rtol=1e-6
    )
    # Integer inputs (raw pixels) compute in the weight's float dtype.
    img = ember.tensor(np.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) % 7)
    assert F.conv2d(img, ember.randn(2, 3, 3, 3)).dtype == ember.float32
    assert F.max_pool2d(img, 2).dtype == ember.float32


# ---- pooling ---------------------------------------------------------------------------------


POOL_CASES = [
    ((2, 3, 7, 6), dict(kernel_size=2)),
    ((3, 7, 6), dict(kernel_size=3, stride=2, padding=1)),  # unbatched
    ((1, 2, 9, 8), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0))),
]


@requires_torch
@pytest.mark.parametrize("case", POOL_CASES, ids=range(len(POOL_CASES)))
def test_max_pool2d(case, dtype):
    shape, kwargs = case
    run_both(
        lambda input: F.max_pool2d(input, **kwargs),
        lambda input: TF.max_pool2d(input, **kwargs),
        dict(input=randn(*shape)),
        dtype,
        grads=("input",),
    )


@requires_torch
def test_max_pool2d_return_indices_matches_torch():
    x = randn(2, 3, 7, 6)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(xe, 3, 2, 1, return_indices=True)
    ty, tidx = TF.max_pool2d(xt, 3, 2, 1, return_indices=True)
    close(y, ty, np.float64, "values")
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.dtype == ember.int64 and not idx.requires_grad
    g = randn(*y.shape, seed=3)
    y.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    close(xe.grad, xt.grad, np.float64, "grad with indices returned")


@requires_torch
@pytest.mark.parametrize("case", POOL_CASES, ids=range(len(POOL_CASES)))
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d(case, count_include_pad, dtype):
    shape, kwargs = case
    kwargs = dict(kwargs, count_include_pad=count_include_pad)
    run_both(
        lambda input: F.avg_pool2d(input, **kwargs),
        lambda input: TF.avg_pool2d(input, **kwargs),
        dict(input=randn(*shape)),
        dtype,
        grads=("input",),
    )


def test_pool_errors():
    with pytest.raises(ValueError, match=r"\[max_pool2d\] expected input of shape"):
        F.max_pool2d(ember.zeros(4, 4), 2)
    with pytest.raises(ValueError, match=r"\[avg_pool2d\] pad should be"):
        F.avg_pool2d(ember.zeros(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(NotImplementedError, match="ceil_mode"):
        F.max_pool2d(ember.zeros(1, 1, 4, 4), 2, ceil_mode=True)


# ---- activations -----------------------------------------------------------------------------

ACTIVATIONS = (
    [
        ("relu", F.relu, lambda x: TF.relu(x)),
        ("sigmoid", F.sigmoid, lambda x: torch.sigmoid(x)),
        ("tanh", F.tanh, lambda x: torch.tanh(x)),
        ("leaky_relu", lambda x: F.leaky_relu(x, 0.3), lambda x: TF.leaky_relu(x, 0.3)),
        ("gelu", F.gelu, TF.gelu),
        (
            "gelu-tanh",
            lambda x: F.gelu(x, approximate="tanh"),
            lambda x: TF.gelu(x, approximate="tanh"),
        ),
    ]
    if torch is not None
    else []
)


@requires_torch
@pytest.mark.parametrize("case", ACTIVATIONS, ids=[c[0] for c in ACTIVATIONS])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5, 2)])
def test_elementwise_activations(case, shape, dtype):
    _, ours, theirs = case
    x = randn(*shape) if shape else np.asarray(0.7)
    run_both(
        lambda input: ours(input),
        lambda input: theirs(input),
        dict(input=x),
        dtype,
        grads=("input",),
    )


@requires_torch
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
def test_softmax_along_every_dim(name, dim, dtype):
    ours, theirs = getattr(F, name), getattr(TF, name)
    run_both(
        lambda input: ours(input, dim),
        lambda input: theirs(input, dim),
        dict(input=randn(3, 4, 5) * 3),
        dtype,
        grads=("input",),
    )


@requires_torch
def test_softmax_scalar_and_implicit_dim():
    run_both(
        lambda input: F.softmax(input, 0),
        lambda input: TF.softmax(input, 0),
        dict(input=np.asarray(1.5)),
        np.float64,
    )
    x = randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(ember.tensor(x))
    close(y, TF.softmax(torch.tensor(x), 1), np.float64, "implicit dim")
    with pytest.raises(IndexError, match=r"\[log_softmax\] dim 2 is out of range"):
        F.log_softmax(ember.tensor(x), 2)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match=r"\[gelu\] approximate must be"):
        F.gelu(ember.zeros(2), approximate="erf")


# ---- batch_norm and dropout --------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_functional(affine, training, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 5)) * 2 + 1
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    ours_stats = [ember.tensor(rm.astype(dtype)), ember.tensor(rv.astype(dtype))]
    theirs_stats = [torch.tensor(rm.astype(dtype)), torch.tensor(rv.astype(dtype))]
    arrays = dict(input=x)
    if affine:
        arrays.update(weight=rng.uniform(0.5, 1.5, 3), bias=rng.standard_normal(3))
    run_both(
        lambda **a: F.batch_norm(
            a["input"], *ours_stats, a.get("weight"), a.get("bias"), training, 0.2, 1e-3
        ),
        lambda **a: TF.batch_norm(
            a["input"], *theirs_stats, a.get("weight"), a.get("bias"), training, 0.2, 1e-3
        ),
        arrays,
        dtype,
        grads=tuple(arrays),
    )
    for ours, theirs in zip(ours_stats, theirs_stats, strict=True):
        close(ours, theirs, dtype, "running statistics")


@requires_torch
def test_batch_norm_without_running_stats():
    x = randn(6, 2)
    run_both(
        lambda input: F.batch_norm(input, None, None, training=True),
        lambda input: TF.batch_norm(input, None, None, training=True),
        dict(input=x),
        np.float64,
        grads=("input",),
    )
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        F.batch_norm(ember.tensor(x), None, None, training=False)


def test_dropout_functional():
    x = ember.randn(10, 10)
    assert F.dropout(x, 0.5, training=False) is x
    y = F.dropout(x, 0.5)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 2 * x.numpy()[kept], rtol=1e-6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


# ---- losses ----------------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("layout", ["2d", "4d", "1d"])
def test_cross_entropy_and_nll_layouts(reduction, layout, dtype):
    rng = np.random.default_rng(5)
    shape, tshape = {"2d": ((6, 4), (6,)), "4d": ((2, 4, 3, 2), (2, 3, 2)), "1d": ((4,), ())}[
        layout
    ]
    x = rng.standard_normal(shape)
    target = rng.integers(0, 4, tshape)
    weight = rng.uniform(0.5, 2, 4)
    dim = 0 if layout == "1d" else 1
    kw = dict(reduction=reduction)
    for ours, theirs, extra in (
        (F.cross_entropy, TF.cross_entropy, dict(label_smoothing=0.05)),
        (F.cross_entropy, TF.cross_entropy, dict(ignore_index=1)),
        (
            lambda input, target, **k: F.nll_loss(F.log_softmax(input, dim), target, **k),
            lambda input, target, **k: TF.nll_loss(TF.log_softmax(input, dim), target, **k),
            dict(ignore_index=1),
        ),
    ):
        run_both(
            lambda input, target, weight, ours=ours, extra=extra: ours(
                input, target, weight=weight, **kw, **extra
            ),
            lambda input, target, weight, theirs=theirs, extra=extra: theirs(
                input, target, weight=weight, **kw, **extra
            ),
            dict(input=x, target=target, weight=weight),
            dtype,
            grads=("input",),
        )


@requires_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_probability_targets(reduction, dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 3, 2))
    p = rng.dirichlet(np.ones(3), (5, 2)).transpose(0, 2, 1)
    run_both(
        lambda input, target, weight: F.cross_entropy(
            input, target, weight, reduction=reduction, label_smoothing=0.1
        ),
        lambda input, target, weight: TF.cross_entropy(
            input, target, weight, reduction=reduction, label_smoothing=0.1
        ),
        dict(input=x, target=p, weight=rng.uniform(0.5, 2, 3)),
        dtype,
        grads=("input", "target"),
    )


def test_class_index_targets_must_be_int64():
    x = ember.zeros(3, 4)
    t32 = ember.tensor(np.array([0, 1, 2], dtype=np.int32))
    with pytest.raises(
        TypeError,
        match=r"\[cross_entropy\] expected target of dtype int64 "
        r"\(class indices\), got int32",
    ):
        F.cross_entropy(x, t32)
    with pytest.raises(TypeError, match=r"\[nll_loss\] expected target of dtype int64"):
        F.nll_loss(x, t32)
    with pytest.raises(ValueError, match=r"\[cross_entropy\] expected input \(N, C, \*\)"):
        F.cross_entropy(x, ember.tensor([0, 1]))
    with pytest.raises(IndexError, match=r"\[nll_loss\] Target 4 is out of bounds"):
        F.nll_loss(x, ember.tensor([0, 4, 1]))


@requires_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses_with_target_gradients(reduction, dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    p = rng.uniform(0.05, 0.95, (4, 3))
    t = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, (4, 3))
    pw = rng.uniform(0.5, 3, 3)
    kw = dict(reduction=reduction)
    run_both(
        lambda input, target: F.mse_loss(input, target, **kw),
        lambda input, target: TF.mse_loss(input, target, **kw),
        dict(input=x, target=t),
        dtype,
        grads=("input", "target"),
    )
    run_both(
        lambda input, target, weight: F.binary_cross_entropy(input, target, weight, **kw),
        lambda input, target, weight: TF.binary_cross_entropy(input, target, weight, **kw),
        dict(input=p, target=t, weight=w),
        dtype,
        grads=("input", "target"),
    )
    run_both(
        lambda input, target, weight, pos_weight: F.binary_cross_entropy_with_logits(
            input, target, weight, pos_weight=pos_weight, **kw
        ),
        lambda input, target, weight, pos_weight: TF.binary_cross_entropy_with_logits(
            input, target, weight, pos_weight=pos_weight, **kw
        ),
        dict(input=x, target=t, weight=w, pos_weight=pw),
        dtype,
        grads=("input", "target"),
    )


def test_elementwise_loss_errors():
    with pytest.raises(
        ValueError,
        match=r"\[mse_loss\] target size \(3,\) must be the same as "
        r"input size \(2, 3\)",
    ):
        F.mse_loss(ember.zeros(2, 3), ember.zeros(3))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\)"):
        F.binary_cross_entropy_with_logits(
            ember.zeros(2, 3), ember.zeros(2, 3), pos_weight=ember.ones(2)
        )
    with pytest.raises(TypeError, match="size_average and reduce are deprecated"):
        F.mse_loss(ember.zeros(2), ember.zeros(2), size_average=True)
