"""In-place ops: `+= -= *= /=`, add_/sub_/mul_/div_/clamp_, fill_/zero_/copy_, uniform_/normal_,
and item assignment (`t[idx] = v`).

Two cases, as in torch:
- Outside the graph (grad mode off, or no operand requires grad) they write into the tensor's
  storage, so views of it see the change. This is how optimizers and initializers update
  parameters, under ember.no_grad().
- Inside the graph (grad mode on and an operand requires grad): on a leaf that requires grad
  they raise, as torch does. On any other tensor they compute the result out of place, record
  it on the tape, and rebind the tensor to it. Arrays saved earlier for backward stay intact, so
  gradients are right; the difference from torch is that other views of the old storage do not
  see the new values.

Not tracked (torch tracks it with version counters): modifying a tensor in place outside the
graph after an op saved it for backward, and before that backward, gives wrong gradients.
"""

from __future__ import annotations

from ember import _ops_elementwise as _ew
from ember._ops_shape import convert_index
from ember._tensor import Tensor, _wrap
from ember.autograd.function import Function
from ember.autograd.grad_mode import STATE

_LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation."


def _records(self: Tensor, other=None) -> bool:
    """Whether an in-place op on self (with operand other) must go on the tape."""
    if not STATE.enabled:
        return False
    if self._edge is not None:
        if self.is_leaf:
            raise RuntimeError(_LEAF_ERROR)
        return True
    return isinstance(other, Tensor) and other._edge is not None


def _rebind(self: Tensor, result: Tensor) -> Tensor:
    if result.shape != self.shape:
        raise RuntimeError(
            f"output with shape {list(self.shape)} doesn't match the broadcast shape "
            f"{list(result.shape)}"
        )
    if result.dtype != self.dtype:
        result = result.to(self.dtype)
    self._data, self._edge = result._data, result._edge
    return self


def _operand_data(self: Tensor, other):
    if isinstance(other, Tensor):
        if other._device is not self._device:
            raise RuntimeError(
                f"Expected all tensors to be on the same device, but found at least two devices, "
                f"{self._device} and {other._device}"
            )
        return other._data
    return _ew._operand(other)


def _arith(op: str, out_of_place):
    def inplace(self: Tensor, other, *, alpha=1):
        if alpha != 1:
            other = _ew.mul(other, alpha) if isinstance(other, Tensor) else other * alpha
        if _records(self, other):
            return _rebind(self, out_of_place(self, other))
        data = self._data
        getattr(self._device.backend, op)(data, _operand_data(self, other), out=data)
        return self

    inplace.__name__ = op + "_"
    return inplace


add_ = _arith("add", _ew.add)
sub_ = _arith("sub", _ew.sub)
mul_ = _arith("mul", _ew.mul)
div_ = _arith("div", _ew.div)


def clamp_(self: Tensor, min=None, max=None) -> Tensor:
    if _records(self):
        return _rebind(self, _ew.clamp(self, min, max))
    data = self._data
    self._device.backend.clip(data, min, max, out=data)
    return self


def fill_(self: Tensor, value) -> Tensor:
    if _records(self, value):
        # The old values no longer matter: their gradient is zero; a tensor value's passes.
        keep_none = _wrap(self._device.backend.zeros(self.shape, bool), self._device)
        return _rebind(self, _ew.where(keep_none, self, value))
    self._device.backend.copy_into(self._data, _operand_data(self, value))
    return self


def copy_(self: Tensor, src) -> Tensor:
    """Copy src into self, broadcasting src and converting its dtype."""
    if not isinstance(src, Tensor):
        return fill_(self, src)
    if _records(self, src):
        return _rebind(self, src.to(self.dtype).expand(self.shape).clone())
    self._device.backend.copy_into(self._data, _operand_data(self, src))
    return self


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    from ember.random import _generator

    draws = _generator(generator).numpy.uniform(a, b, self.shape)
    return _fill_from(self, draws)


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    from ember.random import _generator

    draws = _generator(generator).numpy.normal(mean, std, self.shape)
    return _fill_from(self, draws)


def _fill_from(self: Tensor, values) -> Tensor:
    if STATE.enabled and self._edge is not None and self.is_leaf:
        raise RuntimeError(_LEAF_ERROR)
    backend = self._device.backend
    backend.copy_into(self._data, backend.from_host(values))
    return self


class IndexPut(Function):
    """out = x with out[index] = v; the gradient of the overwritten elements goes to v."""

    __slots__ = ("index", "v_shape")

    @staticmethod
    def forward(ctx, x, v, index):
        B = ctx.backend
        out = B.copy(x)
        B.setitem(out, index, v)
        ctx.index, ctx.v_shape = index, getattr(v, "shape", None)
        return out

    @staticmethod
    def backward(ctx, g):
        ex, ev = ctx._edges[:2]
        B = ctx.backend
        gx = gv = None
        if ex:
            gx = B.copy(g)
            B.setitem(gx, ctx.index, 0)
        if ev:
            gv = B.sum_to(B.index(g, ctx.index), ctx.v_shape)
        return gx, gv, None


def setitem(self: Tensor, index, value) -> None:
    """t[index] = value (a tensor or a scalar, broadcast to the indexed shape)."""
    index, _ = convert_index(index, self._device)
    if _records(self, value):
        if isinstance(value, Tensor) and value.dtype != self.dtype:
            value = value.to(self.dtype)
        _rebind(self, IndexPut.apply(self, _ew._operand(value), index))
        return
    self._device.backend.setitem(self._data, index, _operand_data(self, value))


METHODS = {
    "add_": add_,
    "sub_": sub_,
    "mul_": mul_,
    "div_": div_,
    "clamp_": clamp_,
    "uniform_": uniform_,
    "normal_": normal_,
    "__iadd__": add_,
    "__isub__": sub_,
    "__imul__": mul_,
    "__itruediv__": div_,
    "__setitem__": setitem,
}
