"""Helpers for comparing ember.nn against torch.nn: copy weights over, run both on the same input
and upstream gradient, and compare the output and every gradient (input and parameters)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import ember

try:  # optional peer
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

# ember's module reprs follow current torch. Older torch (2.11, say) has no BatchNorm `bias`
# flag and leaves it out of the repr: the numbers still compare, the text does not.
TORCH_REPR_MATCHES = (
    torch is not None and "bias" in inspect.signature(torch.nn.BatchNorm2d).parameters
)

# float64 agrees to rounding; float32 to ~1e-6 relative per op, accumulated over the reduction
# lengths used here (at most a few hundred terms).
TOLERANCES = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}

TORCH_DTYPES = {}
if torch is not None:
    TORCH_DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


def tol(dtype) -> dict:
    return TOLERANCES[np.dtype(dtype).type]


def to_torch(t, requires_grad: bool = False):
    """A torch tensor holding a copy of an ember tensor's values (same dtype)."""
    out = torch.from_numpy(np.array(t.detach().numpy(), copy=True))
    return out.requires_grad_(requires_grad)


def close(actual, expected, dtype, what: str) -> None:
    if hasattr(actual, "detach") and not isinstance(actual, np.ndarray):
        actual = actual.detach().numpy()
    if hasattr(expected, "detach") and not isinstance(expected, np.ndarray):
        expected = expected.detach().numpy()
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, **tol(dtype))


def copy_state(ember_module, torch_module) -> None:
    """torch_module's parameters and buffers := ember_module's (keys must match one to one)."""
    ours = ember_module.state_dict()
    theirs = torch_module.state_dict()
    assert list(ours) == list(theirs), f"state_dict keys differ: {list(ours)} vs {list(theirs)}"
    with torch.no_grad():
        for key, value in theirs.items():
            value.copy_(torch.from_numpy(np.array(ours[key].numpy(), copy=True)))


def compare_module(
    ember_module, torch_module, inputs, dtype, rng, what: str, input_grad: bool = True
) -> None:
    """Run both modules (same weights, ember's copied to torch) on `inputs` (float64 arrays,
    cast to dtype), backpropagate the same random upstream gradient, and compare the output,
    the input gradients and every parameter gradient; also buffers afterwards."""
    ember_module.to(dtype)
    torch_module.to(TORCH_DTYPES[np.dtype(dtype).type])
    copy_state(ember_module, torch_module)
    if not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    xs = [ember.tensor(np.asarray(a, dtype=dtype), requires_grad=input_grad) for a in inputs]
    ts = [to_torch(x, requires_grad=input_grad) for x in xs]
    y = ember_module(*xs)
    ty = torch_module(*ts)
    close(y, ty, dtype, f"{what}: forward")
    g = rng.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(ember.tensor(g))
    ty.backward(torch.from_numpy(g))
    if input_grad:
        for i, (x, t) in enumerate(zip(xs, ts, strict=True)):
            close(x.grad, t.grad, dtype, f"{what}: grad of input {i}")
    theirs = dict(torch_module.named_parameters())
    names = [n for n, _ in ember_module.named_parameters()]
    assert names == list(theirs), f"{what}: parameter names {names} vs {list(theirs)}"
    for name, p in ember_module.named_parameters():
        assert p.grad is not None, f"{what}: no gradient reached {name}"
        assert np.any(p.grad.numpy() != 0), f"{what}: gradient of {name} is all zeros"
        close(p.grad, theirs[name].grad, dtype, f"{what}: grad of {name}")
    for name, b in torch_module.named_buffers():
        close(ember_module.state_dict()[name], b, dtype, f"{what}: buffer {name}")
