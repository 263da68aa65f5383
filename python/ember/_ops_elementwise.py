"""Element-wise ops: arithmetic with NumPy broadcasting, math functions, activations, clamp,
where, comparisons.

Broadcasting backward: an input of shape s that was broadcast receives `sum_to(grad, s)`.
Operands: two tensors (promoted to one dtype, see ember/_dtype.py) or a tensor and a Python
scalar (passed through, so 2.5 * float32 stays float32).
"""

from __future__ import annotations

import math

from ember import _dtype
from ember._tensor import Tensor, _wrap
from ember.autograd.function import Function

_PY_SCALARS = frozenset((int, float, bool))


# ---- operands ---------------------------------------------------------------------------------


def _operand(x):
    """A Python scalar stays one; NumPy scalars become Python ones (so they do not widen a
    float32 tensor); array-likes become tensors."""
    if x.__class__ in _PY_SCALARS or isinstance(x, Tensor):
        return x
    if getattr(x, "ndim", None) == 0 and hasattr(x, "item"):
        return x.item()
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, complex):
        raise TypeError("complex numbers are not supported")
    from ember._factory import as_tensor

    return as_tensor(x)


def _pair(a, b):
    """(a, b) for a binary Function: two tensors of one dtype, or a tensor and a scalar."""
    if a.__class__ is not Tensor and not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(
                f"expected a Tensor operand, got {type(a).__name__} and {type(b).__name__}"
            )
        b2, a2 = _pair(b, _operand(a))
        return a2, b2
    if b.__class__ is Tensor or isinstance(b, Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da is not db and da != db:
            dt = _dtype.promote(da, db)
            return a.to(dt), b.to(dt)
        return a, b
    b = _operand(b)
    if isinstance(b, Tensor):
        return _pair(a, b)
    if b.__class__ is float and a._data.dtype.kind != "f":
        a = a.to(_dtype.DEFAULT_FLOAT)
    return a, b


def _float_pair(a, b):
    """_pair for ops whose result is always floating (true division): integer tensors are
    converted to the default float dtype first. After _pair, tensor operands share a dtype."""
    a, b = _pair(a, b)
    t = a if isinstance(a, Tensor) else b
    if t._data.dtype.kind != "f":
        a = a.to(_dtype.DEFAULT_FLOAT) if isinstance(a, Tensor) else a
        b = b.to(_dtype.DEFAULT_FLOAT) if isinstance(b, Tensor) else b
    return a, b


def _shape(x):
    return getattr(x, "shape", None)  # None for a Python scalar operand


# ---- arithmetic -------------------------------------------------------------------------------


class Add(Function):
    __slots__ = ("a_shape", "b_shape")

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = _shape(a), _shape(b)
        return ctx.backend.add(a, b)

    @staticmethod
    def backward(ctx, g):
        ea, eb = ctx._edges
        sum_to = ctx.backend.sum_to
        return (
            None if ea is None else sum_to(g, ctx.a_shape),
            None if eb is None else sum_to(g, ctx.b_shape),
        )


class Sub(Function):
    __slots__ = ("a_shape", "b_shape")

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = _shape(a), _shape(b)
        return ctx.backend.sub(a, b)

    @staticmethod
    def backward(ctx, g):
        ea, eb = ctx._edges
        B = ctx.backend
        return (
            B.sum_to(g, ctx.a_shape) if ea else None,
            B.neg(B.sum_to(g, ctx.b_shape)) if eb else None,
        )


class Mul(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.mul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ea, eb = ctx._edges
        B = ctx.backend
        return (
            B.sum_to(B.mul(g, b), a.shape) if ea else None,
            B.sum_to(B.mul(g, a), b.shape) if eb else None,
        )


class Div(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        y = ctx.backend.div(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        ea, eb = ctx._edges
        B = ctx.backend
        ga = B.sum_to(B.div(g, b), a.shape) if ea else None
        gb = B.sum_to(B.neg(B.div(B.mul(g, y), b)), b.shape) if eb else None  # -g a / b^2
        return ga, gb


class PowScalar(Function):
    """x ** p for a Python scalar p: d/dx = p x^(p-1)."""

    __slots__ = ("p",)

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return ctx.backend.pow(x, p)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        B, p = ctx.backend, ctx.p
        if p == 2:
            return B.mul(B.mul(g, x), 2), None
        if p == 0:  # x^0 is constant, even at x = 0 where 0 * x^-1 would give nan
            return B.zeros_like(g), None
        return B.mul(g, B.mul(B.pow(x, p - 1), p)), None


class RPowScalar(Function):
    """s ** x for a Python scalar base s: d/dx = s^x log(s)."""

    __slots__ = ("log_base",)

    @staticmethod
    def forward(ctx, s, x):
        y = ctx.backend.pow(s, x)
        ctx.save_for_backward(y)
        ctx.log_base = math.log(s) if s > 0 else math.nan
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        B = ctx.backend
        return None, B.mul(B.mul(g, y), ctx.log_base)


class Pow(Function):
    """a ** b for two tensors: da = b a^(b-1) (0 where b == 0), db = a^b log(a) (0 where a == 0 and b >= 0, as
    torch; where a == 0 and b < 0 it is -inf, a^b log(a) itself)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        y = ctx.backend.pow(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        ea, eb = ctx._edges
        B = ctx.backend
        ga = gb = None
        if ea:
            power = B.where(B.eq(b, 0), 0, B.pow(a, B.sub(b, 1)))  # a^0 is constant, as above
            ga = B.sum_to(B.mul(g, B.mul(b, power)), a.shape)
        if eb:
            zero_power = B.logical_and(B.eq(a, 0), B.ge(b, 0))
            log_a = B.where(zero_power, 0, B.log(B.where(B.lt(a, 0), math.nan, a)))
            gb = B.sum_to(B.mul(B.mul(g, y), log_a), b.shape)
        return ga, gb


def add(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    a, b = _pair(input, other)
    return Add.apply(a, b)


def sub(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    a, b = _pair(input, other)
    return Sub.apply(a, b)


def mul(input, other):
    a, b = _pair(input, other)
    return Mul.apply(a, b)


def div(input, other):
    a, b = _float_pair(input, other)
    return Div.apply(a, b)


def pow(input, exponent):
    a, b = _pair(input, exponent)
    if isinstance(b, Tensor):
        return Pow.apply(a, b) if isinstance(a, Tensor) else RPowScalar.apply(a, b)
    return PowScalar.apply(a, b)


class _NoGrad(Function):
    """Element-wise ops without a gradient (floor division, remainder): backward raises."""

    __slots__ = ()
    op = ""

    @staticmethod
    def forward(ctx, a, b):
        return getattr(ctx.backend, ctx.op)(a, b)


class FloorDivide(_NoGrad):
    __slots__ = ()
    op = "floor_divide"


class Remainder(_NoGrad):
    __slots__ = ()
    op = "remainder"


def floor_divide(input, other):
    return FloorDivide.apply(*_pair(input, other))


def remainder(input, other):
    return Remainder.apply(*_pair(input, other))


# ---- unary math -------------------------------------------------------------------------------


class Neg(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.neg(x)

    @staticmethod
    def backward(ctx, g):
        return ctx.backend.neg(g)


class Exp(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ctx.backend.mul(g, y)


class Log(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ctx.backend.div(g, x)


class Sqrt(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        B = ctx.backend
        return B.div(g, B.mul(y, 2))


class Abs(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        B = ctx.backend
        sign = B.sign(x)
        return B.mul(g, B.where(B.isnan(sign), 0, sign))  # 0 at x == 0 and at NaN, as torch


class Relu(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.relu_forward(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ctx.backend.relu_backward(g, x)


class Sigmoid(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.sigmoid_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ctx.backend.sigmoid_backward(g, y)


class Tanh(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.tanh_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ctx.backend.tanh_backward(g, y)


class Clamp(Function):
    """clamp(x, lo, hi); the gradient passes where lo <= x <= hi (bounds inclusive, as torch)."""

    __slots__ = ("hi", "lo")

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return ctx.backend.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        B = ctx.backend
        return B.mul(g, B.clamp_mask(x, ctx.lo, ctx.hi)), None, None


def _float_input(x: Tensor) -> Tensor:
    """Math functions of integer tensors compute in the default float dtype, as torch."""
    return x if x._data.dtype.kind == "f" else x.to(_dtype.DEFAULT_FLOAT)


def neg(input):
    return Neg.apply(input)


def exp(input):
    return Exp.apply(_float_input(input))


def log(input):
    return Log.apply(_float_input(input))


def sqrt(input):
    return Sqrt.apply(_float_input(input))


def abs(input):
    return Abs.apply(input)


def relu(input):
    return Relu.apply(input)


def sigmoid(input):
    return Sigmoid.apply(_float_input(input))


def tanh(input):
    return Tanh.apply(_float_input(input))


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        raise TypeError("clamp: tensor bounds are not supported; use ember.maximum/ember.minimum")
    if input._data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        input = input.to(_dtype.DEFAULT_FLOAT)
    return Clamp.apply(input, min, max)


def square(input):
    return PowScalar.apply(input, 2)


# ---- selection --------------------------------------------------------------------------------


class Where(Function):
    __slots__ = ("a_shape", "b_shape")

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        ctx.a_shape, ctx.b_shape = _shape(a), _shape(b)
        return ctx.backend.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        _, ea, eb = ctx._edges
        B = ctx.backend
        ga = B.sum_to(B.where(cond, g, 0), ctx.a_shape) if ea else None
        gb = B.sum_to(B.where(cond, 0, g), ctx.b_shape) if eb else None
        return None, ga, gb


def where(condition, input, other):
    """input where condition else other (broadcast); the gradient follows the chosen side."""
    if not isinstance(condition, Tensor) or condition._data.dtype.kind != "b":
        raise TypeError("where: condition must be a bool tensor")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        from ember._factory import tensor

        input = tensor(input, device=condition.device)
    a, b = _pair(input, other)
    return Where.apply(condition, a, b)


class _Extremum(Function):
    """Element-wise max/min of two tensors; on ties each side gets half the gradient, and where
    either is NaN both get all of it (as torch).
    Subclasses name the backend op in `op` and its strict comparison in `wins`."""

    __slots__ = ()
    op = wins = ""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return getattr(ctx.backend, ctx.op)(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ea, eb = ctx._edges
        B = ctx.backend
        wins = getattr(B, ctx.wins)
        # Each side gets g unless the other strictly wins; at a NaN neither does, so both get g.
        share = B.astype(B.where(B.eq(a, b), 0.5, 1.0), g.dtype)
        ga = B.sum_to(B.mul(g, B.where(wins(b, a), 0, share)), a.shape) if ea else None
        gb = B.sum_to(B.mul(g, B.where(wins(a, b), 0, share)), b.shape) if eb else None
        return ga, gb


class Maximum(_Extremum):
    __slots__ = ()
    op, wins = "maximum", "gt"


class Minimum(_Extremum):
    __slots__ = ()
    op, wins = "minimum", "lt"


def _tensor_pair(input, other):
    a, b = _pair(input, other)
    if not isinstance(b, Tensor):
        from ember._factory import full_like

        b = full_like(a, b)
    return a, b


def maximum(input, other):
    return Maximum.apply(*_tensor_pair(input, other))


def minimum(input, other):
    return Minimum.apply(*_tensor_pair(input, other))


# ---- comparisons and logic (no gradient: results are bool) ------------------------------------


def _compare(op: str):
    def compare(input, other):
        if other is None:
            return NotImplemented  # `t == None` falls back to identity, as torch
        if not isinstance(input, Tensor):
            raise TypeError(f"{op}(): expected a Tensor as the first argument, got {input!r}")
        a, b = _pair(input, other)
        if isinstance(b, Tensor):
            if a._device is not b._device:
                raise RuntimeError(
                    f"Expected all tensors to be on the same device, but found at least two "
                    f"devices, {a._device} and {b._device}"
                )
            b = b._data
        return _wrap(getattr(a._device.backend, op)(a._data, b), a._device)

    compare.__name__ = op
    return compare


eq, ne, lt, le, gt, ge = (_compare(op) for op in ("eq", "ne", "lt", "le", "gt", "ge"))
logical_and, logical_or, logical_xor = (
    _compare(op) for op in ("logical_and", "logical_or", "logical_xor")
)


def _unary_nograd(op: str):
    def unary(input):
        return _wrap(getattr(input._device.backend, op)(input._data), input._device)

    unary.__name__ = op
    return unary


invert = _unary_nograd("invert")
isnan = _unary_nograd("isnan")
isfinite = _unary_nograd("isfinite")


def _reflected(fn):
    def reflected(self, other):
        return fn(other, self)

    return reflected


FUNCTIONS = {
    "add": add,
    "sub": sub,
    "subtract": sub,
    "mul": mul,
    "multiply": mul,
    "div": div,
    "divide": div,
    "true_divide": div,
    "pow": pow,
    "floor_divide": floor_divide,
    "remainder": remainder,
    "neg": neg,
    "negative": neg,
    "exp": exp,
    "log": log,
    "sqrt": sqrt,
    "abs": abs,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "clamp": clamp,
    "clip": clamp,
    "square": square,
    "where": where,
    "maximum": maximum,
    "minimum": minimum,
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "le": le,
    "gt": gt,
    "ge": ge,
    "logical_and": logical_and,
    "logical_or": logical_or,
    "logical_xor": logical_xor,
    "isnan": isnan,
    "isfinite": isfinite,
}

METHODS = {
    **{k: v for k, v in FUNCTIONS.items() if k != "where"},
    "where": lambda self, condition, other: where(condition, self, other),
    "__add__": add,
    "__radd__": add,
    "__sub__": sub,
    "__rsub__": _reflected(sub),
    "__mul__": mul,
    "__rmul__": mul,
    "__truediv__": div,
    "__rtruediv__": _reflected(div),
    "__pow__": pow,
    "__rpow__": _reflected(pow),
    "__floordiv__": floor_divide,
    "__rfloordiv__": _reflected(floor_divide),
    "__mod__": remainder,
    "__rmod__": _reflected(remainder),
    "__neg__": neg,
    "__abs__": abs,
    "__eq__": eq,
    "__ne__": ne,
    "__lt__": lt,
    "__le__": le,
    "__gt__": gt,
    "__ge__": ge,
    "__and__": logical_and,
    "__or__": logical_or,
    "__xor__": logical_xor,
    "__rand__": logical_and,
    "__ror__": logical_or,
    "__rxor__": logical_xor,
    "__invert__": invert,
}
