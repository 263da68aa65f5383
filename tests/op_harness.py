"""The table-driven check every native kernel goes through.

An `OpCase` row names one op on one set of shapes. `check_case` then verifies, in order:

1. native forward (float64 and float32) against a float64 NumPy reference written independently
   in tests/reference/;
2. native backward against the reference backward, for a random upstream gradient;
3. the reference backward against central finite differences of the reference forward (float64),
   on a random sample of input coordinates;
4. that the gradients are not identically zero where the row says they should not be;
5. when PyTorch is installed and the row gives `torch_forward`, the reference forward and
   backward against torch (float64) too.

Errors report the op, the input shapes, the worst element and its difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

try:  # optional peer
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

Arrays = Mapping[str, np.ndarray]

# float32 kernels against a float64 reference: relative error ~1e-6 per op, accumulated over the
# reduction length; these bounds hold for the reduction sizes used in the tables.
TOLERANCES = {np.float64: (1e-10, 1e-10), np.float32: (2e-4, 2e-5)}  # (rtol, atol)


@dataclass
class OpCase:
    """One row of an op table.

    make_inputs(rng) -> dict of float64 arrays (and int64 arrays such as class targets).
    native_forward(inputs) -> output array, computed by ember._C on inputs of the dtype under test.
    reference_forward(inputs) -> float64 output.
    native_backward(dout, inputs) / reference_backward(dout, inputs) -> {name: gradient}
        for every name in `wrt`.
    torch_forward(tensors) -> output, for the optional PyTorch comparison (same names).
    """

    name: str
    make_inputs: Callable[[np.random.Generator], dict]
    native_forward: Callable[[Arrays], np.ndarray]
    reference_forward: Callable[[Arrays], np.ndarray]
    wrt: tuple[str, ...] = ()
    native_backward: Callable[[np.ndarray, Arrays], dict] | None = None
    reference_backward: Callable[[np.ndarray, Arrays], dict] | None = None
    torch_forward: Callable[[dict], torch.Tensor] | None = None
    fd_points: int = 24  # input coordinates probed by finite differences, per input
    fd_eps: float = 1e-6
    nonzero_grads: bool = True
    tolerance_scale: float = 1.0  # for long reductions (large GEMM/conv): stated per row
    dtypes: tuple = (np.float64, np.float32)
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


def cast_inputs(inputs: Arrays, dtype) -> dict:
    """Float arrays to `dtype` (C-contiguous); integer arrays unchanged."""
    return {
        k: np.ascontiguousarray(v, dtype=dtype) if np.issubdtype(v.dtype, np.floating) else v
        for k, v in inputs.items()
    }


def assert_close(actual, expected, rtol, atol, what: str) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    if actual.size == 0:
        return
    err = np.abs(actual - expected)
    bound = atol + rtol * np.abs(expected)
    bad = ~(err <= bound)  # NaN counts as bad
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err - bound)), err.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} elements differ; worst at {worst}: "
            f"got {actual[worst]!r}, expected {expected[worst]!r} (|diff| {err[worst]:.3g}, "
            f"rtol {rtol}, atol {atol})"
        )


def shapes_of(inputs: Arrays) -> str:
    return ", ".join(f"{k}{tuple(v.shape)}" for k, v in inputs.items())


def finite_difference(
    forward: Callable[[Arrays], np.ndarray],
    inputs: Arrays,
    dout: np.ndarray,
    name: str,
    rng: np.random.Generator,
    points: int,
    eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of sum(forward * dout) at `points` random coordinates of inputs[name].
    Returns (flat indices, derivative estimates)."""
    x = inputs[name]
    flat = rng.choice(x.size, size=min(points, x.size), replace=False)
    estimates = np.empty(len(flat))
    for j, i in enumerate(flat):
        shifted = {k: v.copy() for k, v in inputs.items()}
        shifted[name].flat[i] = x.flat[i] + eps
        plus = np.sum(forward(shifted) * dout)
        shifted[name].flat[i] = x.flat[i] - eps
        minus = np.sum(forward(shifted) * dout)
        estimates[j] = (plus - minus) / (2 * eps)
    return flat, estimates


def check_case(case: OpCase, dtype, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    inputs64 = case.make_inputs(rng)
    label = f"{case.name} [{np.dtype(dtype).name}; {shapes_of(inputs64)}]"
    rtol, atol = TOLERANCES[dtype]
    rtol, atol = rtol * case.tolerance_scale, atol * case.tolerance_scale

    inputs = cast_inputs(inputs64, dtype)
    expected = case.reference_forward(inputs64)
    out = case.native_forward(inputs)
    assert np.asarray(out).dtype == dtype, f"{label}: output dtype {np.asarray(out).dtype}"
    assert_close(out, expected, rtol, atol, f"{label} forward")

    if not case.wrt:
        return
    dout64 = rng.standard_normal(np.shape(expected))
    ref_grads = case.reference_backward(dout64, inputs64)
    grads = case.native_backward(np.asarray(dout64, dtype=dtype), inputs)
    for name in case.wrt:
        assert np.asarray(grads[name]).dtype == dtype, f"{label}: d{name} dtype"
        assert_close(grads[name], ref_grads[name], rtol, atol, f"{label} d{name}")
        if case.nonzero_grads:
            assert np.any(ref_grads[name] != 0), f"{label}: reference d{name} is all zero"

    if dtype != np.float64:
        return
    for name in case.wrt:
        flat, estimates = finite_difference(
            case.reference_forward, inputs64, dout64, name, rng, case.fd_points, case.fd_eps
        )
        assert_close(
            ref_grads[name].flat[flat], estimates, 1e-5, 1e-6, f"{label} d{name} vs finite diff"
        )

    if torch is not None and case.torch_forward is not None:
        check_against_torch(case, inputs64, dout64, expected, ref_grads, label)


def check_against_torch(case, inputs64, dout64, expected, ref_grads, label) -> None:
    tensors = {k: torch.tensor(v, requires_grad=(k in case.wrt)) for k, v in inputs64.items()}
    out = case.torch_forward(tensors)
    assert_close(expected, out.detach().numpy(), 1e-9, 1e-10, f"{label} forward vs torch")
    if case.wrt:
        out.backward(torch.tensor(dout64))
        for name in case.wrt:
            assert_close(
                ref_grads[name],
                tensors[name].grad.numpy(),
                1e-9,
                1e-10,
                f"{label} d{name} vs torch",
            )


def run_native(case: OpCase, inputs: Arrays, dout: np.ndarray) -> list[np.ndarray]:
    outs = [np.asarray(case.native_forward(inputs))]
    if case.wrt:
        grads = case.native_backward(dout, inputs)
        outs += [np.asarray(grads[name]) for name in case.wrt]
    return outs


def check_thread_consistency(case: OpCase, seed: int = 0) -> None:
    """1 thread vs 2 agree within float32 tolerance; the same thread count twice is bitwise equal."""
    import ember

    rng = np.random.default_rng(seed)
    inputs = cast_inputs(case.make_inputs(rng), np.float32)
    dout_shape = np.shape(case.reference_forward(case.make_inputs(np.random.default_rng(seed))))
    dout = rng.standard_normal(dout_shape).astype(np.float32)
    previous = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        one = run_native(case, inputs, dout)
        ember.set_num_threads(2)
        two = run_native(case, inputs, dout)
        again = run_native(case, inputs, dout)
    finally:
        ember.set_num_threads(previous)
    rtol, atol = TOLERANCES[np.float32]
    for a, b, c in zip(one, two, again):
        assert_close(
            b,
            a,
            rtol * case.tolerance_scale,
            atol * case.tolerance_scale,
            f"{case.name}: 2 threads vs 1",
        )
        assert np.array_equal(b, c, equal_nan=True), f"{case.name}: 2 threads not reproducible"
