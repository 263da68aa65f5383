"""Creating tensors: from data (tensor, as_tensor, from_numpy), filled (zeros, ones, full, empty,
arange, linspace, eye, *_like) and random (randn, rand, randint, randperm, *_like).

Default dtypes follow torch: Python floats -> float32, ints -> int64, bools -> bool; NumPy arrays
keep theirs. Every factory takes dtype=, device= and requires_grad=; random ones generator=.
"""

from __future__ import annotations

from ember import _dtype
from ember._device import as_device
from ember._tensor import Tensor, _wrap
from ember.backends import backend_for
from ember.random import _generator


def _finish(array, device, requires_grad: bool) -> Tensor:
    t = _wrap(array, device)
    return t.requires_grad_(True) if requires_grad else t


def _finish_host(values, device, requires_grad: bool) -> Tensor:
    """_finish for NumPy arrays drawn on the host (random draws)."""
    return _finish(backend_for(device).from_host(values), device, requires_grad)


def _size(size) -> tuple:
    """zeros(2, 3), zeros((2, 3)) and zeros([2, 3]) all mean (2, 3)."""
    if len(size) == 1 and not isinstance(size[0], int):
        size = size[0]
    size = tuple(int(s) for s in size)
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return size


def _setup(dtype, device, default):
    dev = as_device(device)
    return dev, backend_for(dev), default if dtype is None else _dtype.as_dtype(dtype)


# ---- from data --------------------------------------------------------------------------------


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (scalars, nested lists, arrays, tensors)."""
    dev = as_device(device)
    backend = backend_for(dev)
    if isinstance(data, Tensor):
        data = data._data
    dt = None if dtype is None else _dtype.as_dtype(dtype)
    try:
        array = backend.from_data(data, dt)
    except ValueError as e:
        raise ValueError(
            f"tensor(): could not build a tensor from {type(data).__name__}: {e}"
        ) from None
    if dt is None and not hasattr(data, "dtype"):
        kind = array.dtype.kind
        if kind == "f":
            array = backend.astype(array, _dtype.DEFAULT_FLOAT)
        elif kind in "iu":
            array = backend.astype(array, _dtype.int64)
    if array.dtype not in _dtype.SUPPORTED:
        raise TypeError(f"tensor(): unsupported data of dtype {array.dtype}")
    return _finish(array, dev, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """`data` as a tensor, sharing memory when it already is one (or a NumPy array) of the
    requested dtype."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    host = isinstance(data, backend_for(as_device("cpu")).array_type) and device in (None, "cpu")
    if host and (dtype is None or _dtype.as_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array) -> Tensor:
    """A CPU tensor sharing `array`'s memory: writes to either are seen by both."""
    cpu = as_device("cpu")
    if not isinstance(array, backend_for(cpu).array_type):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(array).__name__}")
    if array.dtype not in _dtype.SUPPORTED:
        raise TypeError(f"from_numpy: unsupported dtype {array.dtype}")
    return _wrap(array, cpu)


# ---- filled -----------------------------------------------------------------------------------


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev, B, dt = _setup(dtype, device, _dtype.DEFAULT_FLOAT)
    return _finish(B.zeros(_size(size), dt), dev, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev, B, dt = _setup(dtype, device, _dtype.DEFAULT_FLOAT)
    return _finish(B.ones(_size(size), dt), dev, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev, B, dt = _setup(dtype, device, _dtype.DEFAULT_FLOAT)
    return _finish(B.empty(_size(size), dt), dev, requires_grad)


def _scalar_dtype(value):
    if isinstance(value, bool):
        return _dtype.bool_
    if isinstance(value, int):
        return _dtype.int64
    return _dtype.DEFAULT_FLOAT


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of `size` filled with fill_value; the dtype follows the value (float -> float32,
    int -> int64, bool -> bool) unless given."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dev, B, dt = _setup(dtype, device, _scalar_dtype(fill_value))
    size = _size((size,) if isinstance(size, int) else tuple(size))
    return _finish(B.full(size, fill_value, dt), dev, requires_grad)


def arange(
    start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """[start, end) in steps of `step`; int64 when all three are ints, else float32."""
    if end is None:
        start, end = 0, start
    default = (
        _dtype.int64
        if all(isinstance(v, int) for v in (start, end, step))
        else _dtype.DEFAULT_FLOAT
    )
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    dev, B, dt = _setup(dtype, device, default)
    return _finish(B.arange(start, end, step, dtype=dt), dev, requires_grad)


def linspace(
    start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    dev, B, dt = _setup(dtype, device, _dtype.DEFAULT_FLOAT)
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    return _finish(B.linspace(start, end, steps, dtype=dt), dev, requires_grad)


def eye(
    n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    dev, B, dt = _setup(dtype, device, _dtype.DEFAULT_FLOAT)
    return _finish(B.eye(n, m, dtype=dt), dev, requires_grad)


def _like(factory):
    def like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False):
        return factory(
            input.shape,
            dtype=input.dtype if dtype is None else dtype,
            device=input.device if device is None else device,
            requires_grad=requires_grad,
        )

    like.__name__ = factory.__name__ + "_like"
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)


def full_like(
    input: Tensor, fill_value, *, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    return full(
        input.shape,
        fill_value,
        dtype=input.dtype if dtype is None else dtype,
        device=input.device if device is None else device,
        requires_grad=requires_grad,
    )


# ---- random -----------------------------------------------------------------------------------


def _float_draw(draw, size, dtype, device, requires_grad, generator):
    dev, _, dt = _setup(dtype, device, _dtype.DEFAULT_FLOAT)
    if dt.kind != "f":
        raise TypeError(f"expected a floating point dtype, got {dt}")
    rng = _generator(generator).numpy
    native = dt if dt in (_dtype.float32, _dtype.float64) else _dtype.float32
    values = getattr(rng, draw)(size, dtype=native)
    if native != dt:
        values = values.astype(dt)
    return _finish_host(values, dev, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws."""
    return _float_draw("standard_normal", _size(size), dtype, device, requires_grad, generator)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform draws on [0, 1)."""
    return _float_draw("random", _size(size), dtype, device, requires_grad, generator)


def randint(
    low,
    high=None,
    size=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad: bool = False,
) -> Tensor:
    """randint(high, size) or randint(low, high, size): integers in [low, high), int64."""
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing the required argument 'size'")
    if high <= low:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    dev, _, dt = _setup(dtype, device, _dtype.int64)
    values = _generator(generator).numpy.integers(low, high, _size((size,)), dtype=_dtype.int64)
    return _finish_host(values.astype(dt, copy=False), dev, requires_grad)


def randperm(
    n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """A random permutation of 0..n-1, int64."""
    dev, _, dt = _setup(dtype, device, _dtype.int64)
    values = _generator(generator).numpy.permutation(n).astype(dt, copy=False)
    return _finish_host(values, dev, requires_grad)


def randn_like(
    input: Tensor, *, generator=None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    return randn(
        input.shape,
        generator=generator,
        dtype=input.dtype if dtype is None else dtype,
        device=input.device if device is None else device,
        requires_grad=requires_grad,
    )


def rand_like(
    input: Tensor, *, generator=None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    return rand(
        input.shape,
        generator=generator,
        dtype=input.dtype if dtype is None else dtype,
        device=input.device if device is None else device,
        requires_grad=requires_grad,
    )


FUNCTIONS = {
    "tensor": tensor,
    "as_tensor": as_tensor,
    "from_numpy": from_numpy,
    "zeros": zeros,
    "ones": ones,
    "empty": empty,
    "full": full,
    "arange": arange,
    "linspace": linspace,
    "eye": eye,
    "zeros_like": zeros_like,
    "ones_like": ones_like,
    "empty_like": empty_like,
    "full_like": full_like,
    "randn": randn,
    "rand": rand,
    "randint": randint,
    "randperm": randperm,
    "randn_like": randn_like,
    "rand_like": rand_like,
}
