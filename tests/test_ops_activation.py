import numpy as np
import pytest

from ember import _C
from op_harness import OpCase, check_case, check_thread_consistency
from reference import activation as ref

try:
    import torch
except ImportError:
    torch = None

SHAPES = [(1,), (7,), (13, 33), (2, 3, 5), (64, 1000)]


def away_from_kinks(rng, shape):
    """Values with |x| >= 0.05, so finite differences never straddle ReLU's kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.05, 0.05 * np.sign(x) + 0.05 * (x == 0), x)


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


CASES = [relu_case(s) for s in SHAPES]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_activation(case, dtype, simd):
    check_case(case, dtype)


@pytest.mark.parametrize("case", CASES[-1:], ids=str)
def test_activation_threads(case):
    check_thread_consistency(case)


def test_relu_rejects_bad_input():
    with pytest.raises(TypeError, match=r"\[relu\].*int32"):
        _C.relu_forward(np.zeros(3, dtype=np.int32))
    with pytest.raises(ValueError, match=r"\[relu\].*contiguous"):
        _C.relu_forward(np.zeros((3, 4))[:, ::2])
    with pytest.raises(ValueError, match=r"\[relu_backward\].*shape"):
        _C.relu_backward(np.zeros(3), np.zeros(4))
