"""Matrix products with torch.matmul's semantics.

2-D @ 2-D runs one native GEMM; batched operands ((..., n, k) @ (..., k, m), batch dims
broadcast) run the native batched GEMM, or one GEMM when the right operand has no batch (a
Linear layer on (B, T, C) input). 1-D operands are promoted to matrices and the added dim is
removed afterwards. Transposed views (W.T) reach the kernel as transpose flags, not copies.
"""

from __future__ import annotations

from ember._ops_elementwise import _pair
from ember._tensor import Tensor
from ember.autograd.function import Function


class Matmul(Function):
    """a (..., n, k) @ b (..., k, m).  da = g @ b^T,  db = a^T @ g, each summed over the batch
    dims its operand was broadcast along."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ea, eb = ctx._edges
        return ctx.backend.matmul_backward(g, a, b, ea is not None, eb is not None)


def _shapes_error(a: Tensor, b: Tensor) -> RuntimeError:
    if a.ndim == 2 and b.ndim == 2:
        return RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
            f"{b.shape[0]}x{b.shape[1]})"
        )
    return RuntimeError(
        f"matmul: inner dimensions do not match: {tuple(a.shape)} @ {tuple(b.shape)} "
        f"({a.shape[-1]} != {b.shape[-2]})"
    )


def _batch_compatible(sa: tuple, sb: tuple) -> bool:
    for x, y in zip(reversed(sa), reversed(sb)):
        if x != y and x != 1 and y != 1:
            return False
    return True


def matmul(input: Tensor, other: Tensor) -> Tensor:
    if not isinstance(other, Tensor) or not isinstance(input, Tensor):
        raise TypeError("matmul: both operands must be Tensors")
    a, b = input._data, other._data
    if a.ndim == 2 and b.ndim == 2 and a.dtype is b.dtype:  # the common case, checked inline
        if a.shape[1] != b.shape[0]:
            raise _shapes_error(input, other)
        return Matmul.apply(input, other)
    return _matmul_general(*_pair(input, other))


def _matmul_general(a: Tensor, b: Tensor) -> Tensor:
    na, nb = a._data.ndim, b._data.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
        )
    if na == 1 or nb == 1:
        if na == 1 and nb == 1:
            if a.shape[0] != b.shape[0]:
                raise RuntimeError(
                    f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                    f"[{b.shape[0]}] to have the same number of elements, but got "
                    f"{a.shape[0]} and {b.shape[0]} elements respectively"
                )
            return matmul(a.reshape(1, -1), b.reshape(-1, 1)).reshape(())
        if na == 1:
            return matmul(a.unsqueeze(0), b).squeeze(-2)
        return matmul(a, b.unsqueeze(-1)).squeeze(-1)
    sa, sb = a._data.shape, b._data.shape
    if sa[-1] != sb[-2]:
        raise _shapes_error(a, b)
    if not _batch_compatible(sa[:-2], sb[:-2]):
        raise RuntimeError(f"matmul: batch dimensions do not broadcast: {sa} @ {sb}")
    return Matmul.apply(a, b)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {input.ndim}D and {mat2.ndim}D")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got {input.ndim}D and {mat2.ndim}D")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {input.shape[0]} and {mat2.shape[0]}")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)


def _rmatmul(self: Tensor, other) -> Tensor:
    return matmul(other, self)


FUNCTIONS = {"matmul": matmul, "mm": mm, "bmm": bmm, "dot": dot}
METHODS = {**FUNCTIONS, "__matmul__": matmul, "__rmatmul__": _rmatmul}
