"""Reverse-mode automatic differentiation: the tape (function.py), the backward walk
(engine.py), grad mode (grad_mode.py), and the user-facing backward() and grad()."""

from __future__ import annotations

from ember._tensor import Tensor, _wrap
from ember.autograd.engine import run_backward
from ember.autograd.function import AccumulateGrad, Function, Node
from ember.autograd.grad_mode import (
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "AccumulateGrad",
    "Function",
    "Node",
    "backward",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _roots_and_seeds(outputs: tuple, grad_outputs) -> tuple[list, list]:
    grads = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(
            f"got {len(grads)} gradients for {len(outputs)} outputs: give one per output"
        )
    roots, seeds = [], []
    for i, (t, g) in enumerate(zip(outputs, grads)):
        if t._edge is None:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        backend = t._device.backend
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            seed = backend.ones(t.shape, t.dtype)
        else:
            seed = g._data if isinstance(g, Tensor) else backend.asarray(g)
            if seed.shape != t.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(seed.shape)} and "
                    f"output[{i}] has a shape of {tuple(t.shape)}."
                )
            if seed.dtype != t.dtype:
                seed = backend.astype(seed, t.dtype)
        roots.append(t._edge)
        seeds.append(seed)
    return roots, seeds


def _no_create_graph(create_graph: bool) -> None:
    if create_graph:
        raise NotImplementedError(
            "create_graph=True (higher-order gradients) is not supported: ember's backward "
            "functions run on raw arrays and are not themselves recorded"
        )


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of `tensors` (seeded with grad_tensors) into the leaves' .grad.
    With `inputs`, accumulate only into those tensors (leaves or not)."""
    _no_create_graph(create_graph)
    roots, seeds = _roots_and_seeds(_as_tuple(tensors), grad_tensors)
    retain = bool(retain_graph)
    if inputs is None:
        run_backward(roots, seeds, retain)
        return
    inputs = _as_tuple(inputs)
    for t in inputs:
        if t._edge is None:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    found = run_backward(roots, seeds, retain, capture=[t._edge for t in inputs])
    for t, g in zip(inputs, found):
        if g is None:
            continue
        if t.grad is None:
            t.grad = _wrap(t._device.backend.copy(g, t.dtype), t._device)
        else:
            t.grad._data += g


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    materialize_grads=False,
) -> tuple:
    """d(outputs)/d(inputs) (vector-Jacobian products seeded with grad_outputs), returned as a
    tuple of new tensors; no .grad is touched."""
    _no_create_graph(create_graph)
    inputs = _as_tuple(inputs)
    for t in inputs:
        if t._edge is None:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots, seeds = _roots_and_seeds(_as_tuple(outputs), grad_outputs)
    found = run_backward(roots, seeds, bool(retain_graph), capture=[t._edge for t in inputs])
    result = []
    for t, g in zip(inputs, found):
        backend = t._device.backend
        if g is None:
            if materialize_grads:
                g = backend.zeros(t.shape, t.dtype)
            elif not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            else:
                result.append(None)
                continue
        result.append(_wrap(backend.copy(g, t.dtype), t._device))
    return tuple(result)
