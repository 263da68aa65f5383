"""a + b, a - b, a * b, a / b on large same-shape float arrays run natively (ember._C.arithmetic,
all threads, output from the block cache); every other case stays NumPy's. Both must give
NumPy's exact results."""

import numpy as np
import pytest

import ember
from ember import _C
from ember._runtime import num_threads
from ember.backends import cpu

FROM = _C.block_cache_stats()["from_bytes"]
UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}
SPECIALS = [0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 1e-40, -1e-310, 3e38, 1e308]


def large_pair(dtype, rng):
    n = FROM // np.dtype(dtype).itemsize + 7
    a = rng.standard_normal(n).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    with np.errstate(over="ignore"):  # 1e308 becomes inf in float32: fine, one more special
        specials = np.array(SPECIALS).astype(dtype)
    a[: len(specials) ** 2] = np.repeat(specials, len(specials))
    b[: len(specials) ** 2] = np.tile(specials, len(specials))
    return a, b


def took_native_path(run):
    """Whether run() returned an array whose memory came from the block cache."""
    before = _C.block_cache_stats()["live_blocks"]
    out = run()
    return out, _C.block_cache_stats()["live_blocks"] == before + 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(UFUNCS))
def test_large_same_shape_floats_run_natively_with_numpys_results(name, dtype):
    a, b = large_pair(dtype, np.random.default_rng(0))
    with np.errstate(all="ignore"):
        expected = UFUNCS[name](a, b)
        got, native = took_native_path(lambda: getattr(cpu, name)(a, b))
    assert native
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # NaN where NumPy has NaN, bit-equal elsewhere
    assert np.array_equal(np.signbit(got), np.signbit(expected))


def test_the_result_does_not_depend_on_the_thread_count():
    a, b = large_pair(np.float32, np.random.default_rng(1))
    with np.errstate(all="ignore"), num_threads(1):
        one = cpu.div(a, b)
    with np.errstate(all="ignore"), num_threads(2):
        two = cpu.div(a, b)
    assert one.tobytes() == two.tobytes()


def test_tensor_operators_take_the_native_path():
    rng = np.random.default_rng(2)
    a = ember.tensor(rng.standard_normal(FROM // 4).astype(np.float32), requires_grad=True)
    b = ember.tensor(rng.standard_normal(FROM // 4).astype(np.float32), requires_grad=True)
    y, native = took_native_path(lambda: a * b + a)
    assert native
    x0, x1 = a.detach().numpy(), b.detach().numpy()
    np.testing.assert_array_equal(y.detach().numpy(), x0 * x1 + x0)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), x1 + 1)
    np.testing.assert_array_equal(b.grad.numpy(), x0)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: (a, a[:1]),  # broadcasting
        lambda a: (a, np.float32(2.0)),  # a NumPy scalar
        lambda a: (a, 2.0),  # a Python number
        lambda a: (a.astype(np.int32), a.astype(np.int32)),  # integers
        lambda a: (a, a.astype(np.float64)),  # mixed dtypes: NumPy promotes
        lambda a: (a[::2], a[1::2]),  # strided views
        lambda a: (a[:1000], a[1000:2000]),  # small
    ],
    ids=["broadcast", "numpy_scalar", "python_number", "int32", "mixed_dtypes", "strided", "small"],
)
def test_other_operands_keep_numpys_path_and_results(make):
    a = np.random.default_rng(3).standard_normal(FROM // 4 + 2).astype(np.float32)
    x, y = make(a)
    for name, ufunc in UFUNCS.items():
        with np.errstate(all="ignore"):  # integer zeros divided
            got, native = took_native_path(lambda: getattr(cpu, name)(x, y))  # noqa: B023
            expected = ufunc(x, y)
        assert not native
        np.testing.assert_array_equal(got, expected)


def test_out_keyword_is_numpys():
    a = np.ones(FROM // 4, np.float32)
    out = np.empty_like(a)
    assert cpu.add(a, a, out=out) is out
    assert np.all(out == 2)


@pytest.mark.parametrize(
    "a,b,op,message",
    [
        (np.ones(3, np.float32), np.ones(4, np.float32), "add", "b: expected shape"),
        (np.ones(3, np.float32), np.ones(3, np.float64), "add", "dtype"),
        (np.ones(3, np.int64), np.ones(3, np.int64), "add", "float32 or float64"),
        (np.ones(3, np.float32), np.ones(3, np.float32), "pow", "op: expected 'add'"),
    ],
)
def test_native_arithmetic_rejects_bad_input(a, b, op, message):
    with pytest.raises((ValueError, TypeError), match=message):
        _C.arithmetic(a, b, op)
