"""The CUDA backend against the CPU backend.

Every row of OPS runs one expression of tensors on both devices from the same values, in float64
and float32, and compares the outputs and the gradients of one random upstream gradient. Then:
the device array's NumPy semantics (indexing, views), device mixing errors, the caching
allocator, dropout's mask, asynchronous error reports, and training steps of an MLP and a LeNet
on MNIST-shaped batches.

Everything skips without a usable device. A build configured with -DEMBER_CUDA=EMULATE runs the
same kernels on the CPU's thread-block emulator, so these tests also run on machines without a
GPU (slowly: keep shapes small).
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import ember
import ember.cuda
import ember.nn as nn
import ember.nn.functional as F
import ember.optim
from ember import _C

if not ember.cuda.is_built():
    _REASON = "ember was built without CUDA (ember.build_info()['cuda'] is False)"
elif not ember.cuda.is_available():
    _REASON = "no CUDA device available (ember.cuda.is_available() is False)"
else:
    _REASON = ""

pytestmark = pytest.mark.skipif(bool(_REASON), reason=_REASON or "CUDA available")

CUDA = "cuda:0"  # where "cuda" without an index places tensors
TOLERANCES = {np.float64: (1e-9, 1e-11), np.float32: (2e-4, 2e-5)}  # (rtol, atol)


def host(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_close(actual, expected, dtype, what: str) -> None:
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(
        np.asarray(actual, np.float64),
        np.asarray(expected, np.float64),
        rtol=rtol,
        atol=atol,
        err_msg=what,
    )


# ---- the op table ---------------------------------------------------------------------------------


@dataclass
class Row:
    """name; inputs: {name: (shape, kind)} with kind 'normal', 'positive', 'unit' (in (0, 1)),
    'ties' (small whole numbers, so that reductions tie), 'class:C' (int64 in [0, C)) or 'mask' (bool); fn(*tensors) -> tensor, the tensors in the
    order of `inputs`; grads: the inputs whose gradients are compared."""

    name: str
    inputs: dict
    fn: Callable
    grads: tuple = ()

    def __str__(self) -> str:
        return self.name


def make(kind: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "unit":
        return rng.uniform(0.05, 0.95, shape)
    if kind == "ties":
        return rng.integers(0, 3, shape).astype(np.float64)
    if kind == "mask":
        return rng.random(shape) < 0.5
    if kind.startswith("class:"):
        return rng.integers(0, int(kind[6:]), shape).astype(np.int64)
    raise ValueError(kind)


def N(*shape):
    return (shape, "normal")


def P(*shape):
    return (shape, "positive")


def T(*shape):
    return (shape, "ties")


OPS = [
    Row("add_broadcast", dict(a=N(3, 1, 5), b=N(4, 1)), lambda a, b: a + b, ("a", "b")),
    Row("sub_scalar", dict(a=N(7, 3)), lambda a: 2.5 - a, ("a",)),
    Row("mul_broadcast", dict(a=N(2, 3, 4), b=N(3, 1)), lambda a, b: a * b, ("a", "b")),
    Row("div", dict(a=N(5, 6), b=P(6)), lambda a, b: a / b, ("a", "b")),
    Row("pow_tensor", dict(a=P(4, 5), b=N(4, 5)), lambda a, b: a**b, ("a", "b")),
    Row("pow_scalar", dict(a=N(13)), lambda a: a**3 + a**2, ("a",)),
    Row("rpow", dict(a=N(6)), lambda a: 2.0**a, ("a",)),
    Row("maximum", dict(a=N(5, 4), b=N(4)), lambda a, b: ember.maximum(a, b), ("a", "b")),
    Row("minimum", dict(a=N(5, 4), b=N(5, 4)), lambda a, b: ember.minimum(a, b), ("a", "b")),
    Row("neg_exp", dict(a=N(3, 7)), lambda a: (-a).exp(), ("a",)),
    Row("log_sqrt", dict(a=P(9, 2)), lambda a: a.log() + a.sqrt(), ("a",)),
    Row("abs", dict(a=N(33)), lambda a: a.abs(), ("a",)),
    Row("clamp", dict(a=N(4, 9)), lambda a: a.clamp(-0.5, 0.7), ("a",)),
    Row("relu", dict(a=N(5, 7)), F.relu, ("a",)),
    Row("leaky_relu", dict(a=N(5, 7)), lambda a: F.leaky_relu(a, 0.2), ("a",)),
    Row("sigmoid", dict(a=N(13)), F.sigmoid, ("a",)),
    Row("tanh", dict(a=N(3, 5)), F.tanh, ("a",)),
    Row("gelu", dict(a=N(4, 33)), F.gelu, ("a",)),
    Row("gelu_tanh", dict(a=N(4, 33)), lambda a: F.gelu(a, approximate="tanh"), ("a",)),
    Row("softmax_last", dict(a=N(6, 13)), lambda a: F.softmax(a, dim=-1), ("a",)),
    Row("softmax_dim0", dict(a=N(6, 3, 4)), lambda a: F.softmax(a, dim=0), ("a",)),
    Row("log_softmax_wide", dict(a=N(3, 300)), lambda a: F.log_softmax(a, dim=1), ("a",)),
    Row("sum_dims", dict(a=N(3, 4, 5)), lambda a: a.sum(dim=(0, 2), keepdim=True), ("a",)),
    Row("sum_all_long", dict(a=N(70000)), lambda a: a.sum() * 1.0, ("a",)),
    Row("mean_dim", dict(a=N(4, 300)), lambda a: a.mean(dim=1), ("a",)),
    Row("max_dim", dict(a=N(5, 7)), lambda a: a.max(dim=1).values, ("a",)),
    Row("min_all", dict(a=N(4, 6)), lambda a: a.min(), ("a",)),
    Row("max_all_ties", dict(a=T(4, 6)), lambda a: a.max(), ("a",)),
    Row("amax_ties", dict(a=T(3, 4, 5)), lambda a: a.amax(dim=(0, 2)), ("a",)),
    Row("amin_ties", dict(a=T(6, 5)), lambda a: a.amin(1, keepdim=True), ("a",)),
    Row("var", dict(a=N(6, 5)), lambda a: a.var(dim=0), ("a",)),
    Row(
        "permute_reshape",
        dict(a=N(2, 3, 4), w=N(4, 6)),
        lambda a, w: a.permute(2, 0, 1).reshape(4, 6) * w,
        ("a", "w"),
    ),
    Row("transpose_contiguous", dict(a=N(3, 5)), lambda a: a.t().contiguous() * 2, ("a",)),
    Row("getitem_basic", dict(a=N(5, 6)), lambda a: a[1:, ::2] * 3, ("a",)),
    Row(
        "getitem_int_array",
        dict(a=N(5, 3)),
        lambda a: a[ember.tensor([0, 4, 4, 2], device=a.device)],
        ("a",),
    ),
    Row("getitem_mask", dict(a=N(4, 5), m=((4, 5), "mask")), lambda a, m: a[m] * 2, ("a",)),
    Row(
        "cat_stack_split",
        dict(a=N(2, 3), b=N(4, 3)),
        lambda a, b: ember.cat([a, *b.split(3), ember.stack([a[0], b[1]])]),
        ("a", "b"),
    ),
    Row(
        "where",
        dict(m=((3, 4), "mask"), a=N(3, 4), b=N(4)),
        lambda m, a, b: ember.where(m, a, b),
        ("a", "b"),
    ),
    Row("matmul", dict(a=N(7, 13), b=N(13, 5)), lambda a, b: a @ b, ("a", "b")),
    Row("matmul_transposed", dict(a=N(6, 4), w=N(5, 4)), lambda a, w: a @ w.t(), ("a", "w")),
    Row("matmul_batched", dict(a=N(2, 1, 3, 4), b=N(3, 4, 5)), lambda a, b: a @ b, ("a", "b")),
    Row("matmul_big", dict(a=N(130, 70), b=N(70, 129)), lambda a, b: a @ b, ("a", "b")),
    Row("linear", dict(x=N(8, 5), w=N(3, 5), b=N(3)), F.linear, ("x", "w", "b")),
    Row("linear_3d", dict(x=N(2, 3, 5), w=N(4, 5)), F.linear, ("x", "w")),
    Row(
        "conv2d",
        dict(x=N(2, 4, 9, 8), w=N(6, 2, 3, 3), b=N(6)),
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
        ("x", "w", "b"),
    ),
    Row(
        "conv2d_dilated",
        dict(x=N(1, 3, 11, 10), w=N(4, 3, 3, 2)),
        lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=(2, 1), dilation=2),
        ("x", "w"),
    ),
    Row("max_pool2d", dict(x=N(2, 3, 9, 7)), lambda x: F.max_pool2d(x, 3, 2, 1), ("x",)),
    Row("max_pool2d_2x2", dict(x=N(2, 2, 8, 8)), lambda x: F.max_pool2d(x, 2), ("x",)),
    Row(
        "avg_pool2d",
        dict(x=N(2, 3, 9, 7)),
        lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
        ("x",),
    ),
    Row("cross_entropy", dict(x=N(9, 5), t=((9,), "class:5")), F.cross_entropy, ("x",)),
    Row(
        "cross_entropy_all",
        dict(x=N(6, 4, 3), t=((6, 3), "class:4"), w=P(4)),
        lambda x, t, w: F.cross_entropy(
            x,
            t.where(t != 2, ember.full_like(t, -1)),
            weight=w,
            ignore_index=-1,
            label_smoothing=0.1,
        ),
        ("x",),
    ),
    Row(
        "cross_entropy_none",
        dict(x=N(7, 3), t=((7,), "class:3")),
        lambda x, t: F.cross_entropy(x, t, reduction="none"),
        ("x",),
    ),
    Row(
        "nll_loss",
        dict(x=N(6, 4), t=((6,), "class:4")),
        lambda x, t: F.nll_loss(F.log_softmax(x, dim=1), t, reduction="sum"),
        ("x",),
    ),
    Row("mse", dict(x=N(3, 7), y=N(3, 7)), F.mse_loss, ("x", "y")),
    Row(
        "bce",
        dict(p=((5, 4), "unit"), y=((5, 4), "unit")),
        lambda p, y: F.binary_cross_entropy(p, y, reduction="sum"),
        ("p", "y"),
    ),
    Row(
        "bce_with_logits",
        dict(x=N(5, 3), y=((5, 3), "unit"), pw=P(3)),
        lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=pw),
        ("x", "y"),
    ),
    Row(
        "batch_norm",
        dict(x=N(6, 3, 4)),
        lambda x: F.batch_norm(x, None, None, training=True) * 1.5,
        ("x",),
    ),
]


def build(row: Row, dtype, device, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, (shape, kind) in row.inputs.items():
        a = make(kind, shape, rng)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        tensors[name] = ember.tensor(a, device=device, requires_grad=name in row.grads)
    return tensors


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("row", OPS, ids=str)
def test_op_matches_cpu(row, dtype):
    cpu, gpu = build(row, dtype, "cpu"), build(row, dtype, CUDA)
    y_cpu, y_gpu = row.fn(*cpu.values()), row.fn(*gpu.values())
    assert y_gpu.device == ember.device(CUDA)
    assert y_gpu.dtype == y_cpu.dtype and tuple(y_gpu.shape) == tuple(y_cpu.shape)
    assert_close(host(y_gpu), host(y_cpu), dtype, f"{row.name}: forward")
    if not row.grads:
        return
    g = np.random.default_rng(1).standard_normal(tuple(y_cpu.shape)).astype(dtype)
    y_cpu.backward(ember.tensor(g))
    y_gpu.backward(ember.tensor(g, device=CUDA))
    for name in row.grads:
        expected = host(cpu[name].grad)
        assert np.any(expected != 0), f"{row.name}: the CPU gradient of {name} is all zeros"
        assert gpu[name].grad.device == ember.device(CUDA)
        assert_close(host(gpu[name].grad), expected, dtype, f"{row.name}: gradient of {name}")


# ---- the device array: NumPy's semantics ------------------------------------------------------

B = None if _REASON else ember.backends.backend_for(ember.device(CUDA))

INDICES = [
    (1,),
    (-1, 2),
    (slice(1, None), slice(None, None, 2)),
    (Ellipsis, 1),
    (None, 2),
    (slice(None, None, -1),),
    ([0, 2, 2],),
    ((slice(None), [1, 0])),
    ([1, 2], [0, 3]),
    (slice(None), 1, [0, 2]),
    ([0, 2], slice(None), 1),
    ([[0], [2]], [1, 3]),
    (np.array([True, False, True]),),
    (1, slice(None), [3, 0, 3]),
]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_indexing_matches_numpy(index):
    a = np.arange(3 * 5 * 4, dtype=np.float32).reshape(3, 5, 4)
    d = B.from_host(a)
    idx = index if isinstance(index, tuple) else (index,)
    dev_idx = tuple(
        B.from_host(np.asarray(i)) if isinstance(i, (list, np.ndarray)) else i for i in idx
    )
    np.testing.assert_array_equal(B.to_host(d[dev_idx]), a[idx])
    # Writing through the same index, then the scatter-add of the backward.
    b = a.copy()
    b[idx] = -1.0
    d[dev_idx] = -1.0
    np.testing.assert_array_equal(B.to_host(d), b)


def test_index_errors():
    d = B.from_host(np.zeros((3, 4), np.float32))
    with pytest.raises(IndexError, match="out of bounds"):
        d[B.from_host(np.array([0, 3]))]
    with pytest.raises(IndexError, match="out of bounds"):
        d[:, 4]
    with pytest.raises(IndexError, match="too many indices"):
        d[0, 0, 0]


def test_scatter_add_accumulates_repeated_indices():
    x = ember.zeros(4, device=CUDA, requires_grad=True)
    x[ember.tensor([1, 1, 3, 1], device=CUDA)].sum().backward()
    np.testing.assert_array_equal(host(x.grad), [0, 3, 0, 1])


def test_views_share_memory_and_reshape_copies_only_when_needed():
    d = B.from_host(np.arange(24, dtype=np.float64).reshape(2, 3, 4))
    t = d.transpose(2, 0, 1)
    assert t._buffer is d._buffer and not t.is_contiguous()
    np.testing.assert_array_equal(
        B.to_host(t.reshape(4, 6)), np.arange(24).reshape(2, 3, 4).transpose(2, 0, 1).reshape(4, 6)
    )
    assert B.reshape(d[:, 1:], (2, 8))._buffer is d._buffer  # merges dims of equal step
    assert B.reshape(d[:, :, 1:], (2, 9))._buffer is not d._buffer  # needs a copy
    np.testing.assert_array_equal(
        B.to_host(B.reshape(d[:, :, 1:], (2, 9))),
        np.arange(24).reshape(2, 3, 4)[:, :, 1:].reshape(2, 9),
    )
    assert B.view(d.transpose(1, 0, 2), (3, 2, 2, 2))._buffer is d._buffer
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        B.view(t, (24,))


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64", "float32", "float64"])
def test_dtype_round_trip_and_casts(dtype):
    values = np.arange(12) * 1.75
    a = (values if dtype in ("bool", "uint8") else values - 10).astype(dtype)
    d = B.from_host(a)
    np.testing.assert_array_equal(B.to_host(d), a)
    for target in ("bool", "int64", "float32"):
        np.testing.assert_array_equal(B.to_host(B.astype(d, target)), a.astype(target))


@pytest.mark.parametrize(
    "left, right",
    [
        ("float32", "float32"),  # same dtype and shape, array or Python number: the short path
        ("float64", "float64"),
        ("float32", "float64"),  # the rest: promotion and broadcasting
        ("float32", "int64"),
        ("int32", "float32"),
        ("float64", "bool"),
    ],
)
def test_element_wise_dtypes_and_python_numbers_follow_numpy(left, right):
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((3, 4)) * 5).astype(left)
    b = (rng.standard_normal((3, 4)) * 5 + 0.5).astype(right)
    da, db = B.from_host(a), B.from_host(b)
    for name, op in (("add", np.add), ("mul", np.multiply), ("maximum", np.maximum)):
        for x, y, dx, dy in ((a, b, da, db), (a, b[0], da, B.from_host(b[0])), (a, 3, da, 3),
                             (a, 2.5, da, 2.5)):  # fmt: skip
            expected = op(x, y)
            got = B.to_host(getattr(B, name)(dx, dy))
            assert got.dtype == expected.dtype, (name, left, right, y)
            np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=f"{name} {left} {y!r}")
    np.testing.assert_array_equal(B.to_host(B.gt(da, db)), a > b)
    np.testing.assert_array_equal(B.to_host(B.le(da, 0.5)), a <= 0.5)


def test_integer_and_comparison_ops_match_numpy():
    a = np.array([-7, -3, 0, 4, 9], np.int64)
    b = np.array([2, -2, 3, 3, -4], np.int64)
    da, db = B.from_host(a), B.from_host(b)
    for op in (
        "add",
        "sub",
        "mul",
        "floor_divide",
        "remainder",
        "maximum",
        "eq",
        "lt",
        "ge",
        "logical_and",
        "logical_xor",
    ):
        numpy_op = {
            "logical_and": np.bitwise_and,
            "logical_xor": np.bitwise_xor,
            "sub": np.subtract,
            "mul": np.multiply,
            "eq": np.equal,
            "lt": np.less,
            "ge": np.greater_equal,
        }.get(op, getattr(np, op, None))
        np.testing.assert_array_equal(B.to_host(getattr(B, op)(da, db)), numpy_op(a, b), op)
    f = np.array([-2.5, -0.5, 0.0, 1.5, np.nan, np.inf])
    df = B.from_host(f)
    with np.errstate(all="ignore"):
        expected_div, expected_rem = np.floor_divide(f, 0.75), np.remainder(f, -0.75)
    np.testing.assert_array_equal(B.to_host(B.floor_divide(df, 0.75)), expected_div)
    np.testing.assert_array_equal(B.to_host(B.remainder(df, -0.75)), expected_rem)
    np.testing.assert_array_equal(B.to_host(B.isfinite(df)), np.isfinite(f))
    np.testing.assert_array_equal(B.to_host(B.amax(df)), np.nan)  # NaN propagates
    assert int(B.argmax(df)) == int(np.argmax(f))


# ---- devices, memory, runtime ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_keeps_nan_and_negative_zero_like_cpu(dtype):
    x = np.array([np.nan, -0.0, 0.0, -1.5, 2.0, np.inf, -np.inf], dtype)
    dout = np.arange(1, 8, dtype=dtype)
    results = []
    for device in ("cpu", CUDA):
        t = ember.tensor(x, device=device, requires_grad=True)
        y = F.relu(t)
        y.backward(ember.tensor(dout, device=device))
        results.append((host(y), host(t.grad)))
    (y_cpu, g_cpu), (y_gpu, g_gpu) = results
    assert y_gpu.tobytes() == y_cpu.tobytes()  # NaN stays NaN, -0 stays -0
    assert np.isnan(y_gpu[0]) and np.signbit(y_gpu[1])
    np.testing.assert_array_equal(g_gpu, g_cpu)
    assert g_gpu[0] == dout[0] and g_gpu[1] == 0


def test_build_info_reports_cuda():
    info = ember.build_info()
    assert info["cuda"] is True
    assert info["cuda_gemm"] in ("cuBLAS", "ember")
    assert ember.cuda.device_count() >= 1 and ember.cuda.current_device() == 0
    assert isinstance(ember.cuda.get_device_name(), str)


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a @ b.t(),
        lambda a, b: F.linear(a, b),
        lambda a, b: ember.cat([a, b]),
    ],
)
def test_mixing_devices_raises_naming_both(op):
    a = ember.ones(3, 3)
    b = ember.ones(3, 3, device=CUDA)
    for x, y in ((a, b), (b, a)):
        with pytest.raises(RuntimeError, match=r"(?s)(cpu.*cuda|cuda.*cpu)"):
            op(x, y)


def test_moving_tensors_and_modules():
    x = ember.randn(4, 3, requires_grad=True)
    y = x.to(CUDA)
    assert y.is_cuda and y.device.type == "cuda" and x.cuda().is_cuda
    np.testing.assert_array_equal(host(y), host(x))
    (y * 2).sum().backward()  # the gradient comes back to the CPU leaf
    np.testing.assert_array_equal(host(x.grad), np.full((4, 3), 2.0, np.float32))
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(CUDA)
    assert all(p.device.type == "cuda" for p in m.parameters())
    out = m(y.detach())
    assert out.device.type == "cuda"
    m.cpu()
    assert all(p.device.type == "cpu" for p in m.parameters())
    for factory in (ember.zeros, ember.ones):
        t = factory(2, 3, device=CUDA)
        assert t.is_cuda and np.all(host(t) == host(factory(2, 3)))
    np.testing.assert_array_equal(host(ember.arange(5, device=CUDA)), np.arange(5))
    np.testing.assert_array_equal(host(ember.eye(3, device=CUDA)), np.eye(3, dtype=np.float32))
    ember.manual_seed(3)
    r = host(ember.randn(5, device=CUDA))
    ember.manual_seed(3)
    np.testing.assert_array_equal(r, host(ember.randn(5)))


def test_allocator_reuses_freed_blocks():
    gc.collect()
    gc.disable()  # a collection in the middle would free other tests' arrays and move the counts
    try:
        ember.cuda.synchronize()
        base = ember.cuda.memory_allocated()
        a = ember.empty(1000, 10, device=CUDA)
        assert ember.cuda.memory_allocated() >= base + 40000
        del a
        assert ember.cuda.memory_allocated() == base
        reserved = None
        for _ in range(20):  # the same sizes again: served from the free lists
            b = ember.empty(1000, 10, device=CUDA)
            c = ember.empty(999, 10, device=CUDA)  # the same size class as b
            del b, c
            if reserved is None:
                reserved = ember.cuda.memory_reserved()
        assert ember.cuda.memory_reserved() == reserved
        assert ember.cuda.memory_allocated() == base
        ember.cuda.empty_cache()
        assert ember.cuda.memory_reserved() == ember.cuda.memory_allocated() == base
    finally:
        gc.enable()


def test_cuda_errors_become_runtime_errors_with_the_op_name():
    with pytest.raises(RuntimeError, match=r"\[cuda alloc\] CUDA error"):
        ember.empty(2**52, dtype=ember.uint8, device=CUDA)
    logits = ember.zeros(3, 4, device=CUDA)
    target = ember.tensor([0, 7, 1], device=CUDA)  # 7 is not a class
    with pytest.raises(RuntimeError, match=r"\[cross_entropy\] a target class index"):
        F.cross_entropy(logits, target).item()
    ember.cuda.synchronize()  # the error was reported once and cleared


@pytest.mark.parametrize(
    "n, offset, p", [(1, 0, 0.5), (13, 3, 0.3), (1000, 6, 0.9), (4099, 1, 0.1)]
)
def test_dropout_mask_equals_cpu(n, offset, p):
    seed = 1234567
    expected = _C.dropout_mask(n, p, seed, offset, "bool")
    np.testing.assert_array_equal(B.to_host(B.dropout_mask(n, p, seed, offset, "bool")), expected)
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    np.testing.assert_array_equal(
        B.to_host(B.dropout_forward(B.from_host(x), p, seed, offset)),
        _C.dropout_forward(x, p, seed, offset),
    )


def test_dropout_layer_draws_the_same_mask_on_both_devices():
    x = np.random.default_rng(2).standard_normal((8, 33)).astype(np.float32)
    ember.manual_seed(11)
    cpu = host(F.dropout(ember.tensor(x), 0.4))
    ember.manual_seed(11)
    gpu = host(F.dropout(ember.tensor(x, device=CUDA), 0.4))
    np.testing.assert_array_equal(cpu == 0, gpu == 0)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-6)


# ---- training steps -------------------------------------------------------------------------


def _train(model, optimizer, batches, device):
    losses = []
    for x, y in batches:
        x, y = ember.tensor(x, device=device), ember.tensor(y, device=device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _mnist_batches(rng, steps, batch, shape):
    return [
        (
            rng.random((batch,) + shape, dtype=np.float32),
            rng.integers(0, 10, batch).astype(np.int64),
        )
        for _ in range(steps)
    ]


def _lenet():
    return nn.Sequential(
        nn.Conv2d(1, 4, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


def _mlp():
    return nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.0), nn.Linear(64, 10))


@pytest.mark.parametrize(
    "name, make_model, shape, optim",
    [
        ("mlp_sgd", _mlp, (784,), lambda p: ember.optim.SGD(p, lr=0.1, momentum=0.9)),
        ("mlp_adam", _mlp, (784,), lambda p: ember.optim.Adam(p, lr=1e-3)),
        ("lenet_sgd", _lenet, (1, 28, 28), lambda p: ember.optim.SGD(p, lr=0.05)),
    ],
)
def test_training_steps_match_cpu(name, make_model, shape, optim):
    ember.manual_seed(0)
    cpu_model = make_model()
    gpu_model = copy.deepcopy(cpu_model).to(CUDA)
    batches = _mnist_batches(np.random.default_rng(5), 3, 8, shape)
    cpu_losses = _train(cpu_model, optim(cpu_model.parameters()), batches, "cpu")
    gpu_losses = _train(gpu_model, optim(gpu_model.parameters()), batches, CUDA)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4)
    for (pname, p_cpu), p_gpu in zip(cpu_model.named_parameters(), gpu_model.parameters()):
        assert p_gpu.device.type == "cuda"
        np.testing.assert_allclose(
            host(p_gpu), host(p_cpu), rtol=1e-4, atol=1e-5, err_msg=f"{name}: parameter {pname}"
        )


# ---- the training loop on the device --------------------------------------------------------------


def test_fit_evaluate_predict_and_checkpoints_on_the_device(tmp_path):
    from ember.training import EarlyStopping, evaluate, fit, predict

    rng = np.random.default_rng(2)
    x = rng.standard_normal((48, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    histories, models = {}, {}
    for device in ("cpu", CUDA):
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)).to(device)
        optimizer = ember.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
        stop = EarlyStopping(monitor="loss", patience=5, restore_best_weights=True)
        histories[device] = fit(
            model,
            (ember.tensor(x), ember.tensor(y)),
            nn.CrossEntropyLoss(),
            optimizer,
            epochs=4,
            batch_size=16,
            metrics=["accuracy"],
            callbacks=[stop],
            verbose=0,
            device=device,
        )
        models[device] = (model, optimizer)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(
            histories[CUDA].history[key], histories["cpu"].history[key], rtol=1e-5
        )
    model, optimizer = models[CUDA]
    assert all(p.device.type == "cuda" for p in model.parameters())
    scores = evaluate(model, (x, y), nn.CrossEntropyLoss(), device=CUDA)
    expected = evaluate(models["cpu"][0], (x, y), nn.CrossEntropyLoss())
    np.testing.assert_allclose(scores["loss"], expected["loss"], rtol=1e-5)
    outputs = predict(model, ember.tensor(x), device=CUDA)
    assert outputs.device.type == "cpu"
    np.testing.assert_allclose(host(outputs), host(predict(models["cpu"][0], x)), rtol=1e-5)

    ember.save({"model": model.state_dict(), "optim": optimizer.state_dict()}, tmp_path / "ck")
    state = ember.load(tmp_path / "ck")
    fresh = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)).to(CUDA)
    fresh.load_state_dict(state["model"])
    fresh_optimizer = ember.optim.SGD(fresh.parameters(), lr=0.2, momentum=0.9)
    fresh_optimizer.load_state_dict(state["optim"])
    for p, q in zip(fresh.parameters(), model.parameters()):
        assert p.device.type == "cuda"
        np.testing.assert_array_equal(host(p), host(q))
    buffers = [s["momentum_buffer"] for s in fresh_optimizer.state.values()]
    assert buffers and all(b.device.type == "cuda" for b in buffers)
