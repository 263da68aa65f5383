"""ember.Tensor: creation and dtypes, attributes, conversion, printing, factories and random
state, operators and type promotion, indexing, in-place updates, views, and the dispatch of
matrix products to the native GEMM."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.backends import cpu as cpu_backend

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


# ---- creation and dtypes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, ember.float32),
        ([[1.0, 2.0]], ember.float32),
        ([1, 2.5], ember.float32),
        (3, ember.int64),
        ([1, 2], ember.int64),
        ([True, False], ember.bool),
        (np.array([1.0, 2.0]), ember.float64),
        (np.array([1, 2], dtype=np.int32), ember.int32),
    ],
)
def test_tensor_infers_dtypes_like_torch(data, dtype):
    assert ember.tensor(data).dtype == dtype


def test_dtypes_are_numpy_dtypes_and_torch_aliases_exist():
    assert ember.float32 == np.float32 and ember.float is ember.float32
    assert ember.double is ember.float64 and ember.long is ember.int64
    assert ember.tensor([1.0], dtype="float64").dtype == ember.float64
    with pytest.raises(TypeError, match="unsupported dtype"):
        ember.tensor([1.0], dtype=np.complex64)


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(6.0).reshape(2, 3)
    copied, shared = ember.tensor(a), ember.from_numpy(a)
    a[0, 0] = 100.0
    assert copied[0, 0].item() == 0.0
    assert shared[0, 0].item() == 100.0
    shared.numpy()[1, 2] = -1.0
    assert a[1, 2] == -1.0
    assert shared.numpy() is a  # zero-copy both ways
    with pytest.raises(TypeError, match="expected numpy.ndarray"):
        ember.from_numpy([1.0, 2.0])


def test_numpy_of_a_tensor_that_requires_grad_raises():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\)"):
        x.numpy()
    assert np.shares_memory(x.detach().numpy(), x.detach().numpy())


def test_requires_grad_only_for_floating_point():
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2], requires_grad=True)


# ---- attributes -------------------------------------------------------------------------------


def test_attributes():
    x = ember.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24 and len(x) == 2
    assert x.dtype == ember.float32
    assert x.device == ember.device("cpu") and x.device.type == "cpu" and str(x.device) == "cpu"
    assert x.device == "cpu"
    assert not x.requires_grad and x.grad is None and x.grad_fn is None and x.is_leaf
    y = ember.ones(3, requires_grad=True)
    z = y * 2
    assert y.is_leaf and y.grad_fn is None
    assert not z.is_leaf and z.requires_grad and z.grad_fn.name() == "MulBackward"


def test_devices():
    assert ember.device("cpu") is ember.device("cpu:0") is ember.device(ember.device("cpu"))
    assert repr(ember.device("cuda:1")) == "device(type='cuda', index=1)"
    with pytest.raises(ValueError, match="expected a device type"):
        ember.device("tpu")
    x = ember.ones(2)
    assert x.to("cpu") is x and x.cpu() is x


def _cuda_usable() -> bool:
    try:
        ember.backends.backend_for(ember.device("cuda"))
    except RuntimeError:
        return False
    return True


@pytest.mark.skipif(_cuda_usable(), reason="a CUDA device is usable here")
def test_cuda_without_a_usable_device_raises_clearly():
    for make in (lambda: ember.ones(2).cuda(), lambda: ember.zeros(2, device="cuda")):
        with pytest.raises(RuntimeError, match="CUDA"):
            make()


def test_scalar_conversions():
    assert ember.tensor([[2.5]]).item() == 2.5
    assert isinstance(ember.tensor(3).item(), int)
    assert float(ember.tensor(1.5)) == 1.5 and int(ember.tensor(7)) == 7
    assert bool(ember.tensor([1.0])) and not bool(ember.tensor(0))
    assert [0, 1, 2][ember.tensor(2)] == 2
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(ember.ones(2))
    with pytest.raises(RuntimeError, match="2 elements cannot be converted to Scalar"):
        ember.ones(2).item()
    with pytest.raises(TypeError, match="0-d tensor"):
        len(ember.tensor(1.0))
    assert ember.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]


def test_dtype_conversions():
    x = ember.tensor([1.7, -2.2], requires_grad=True)
    assert x.double().dtype == ember.float64 and x.float() is x
    assert x.long().dtype == ember.int64 and x.long().tolist() == [1, -2]
    assert x.to(ember.float64).requires_grad and not x.long().requires_grad
    assert x.to(ember.zeros(1, dtype=ember.float64)).dtype == ember.float64
    y = x.to("cpu", ember.float64)
    y.sum().backward()
    assert x.grad.dtype == ember.float32
    c = x.to(ember.float32, copy=True)
    assert c is not x and not np.shares_memory(c.detach().numpy(), x.detach().numpy())


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.tensor([[1.0, 2.0]], requires_grad=True),
        lambda m: m.tensor([0.12345, 1.0, -3.5]),
        lambda m: m.tensor([1, 2, 3]),
        lambda m: m.tensor(2.5),
        lambda m: m.tensor([True, False]),
        lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
        lambda m: m.zeros(2, 0),
        lambda m: m.arange(6.0).reshape(2, 3),
    ],
)
def test_repr_matches_torch(make):
    assert repr(make(ember)) == repr(make(torch)).replace("torch.", "ember.")


def test_repr_shows_grad_fn():
    assert repr(ember.ones(2, requires_grad=True) * 2) == "tensor([2., 2.], grad_fn=<MulBackward>)"


def test_pickle_and_deepcopy():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.requires_grad and y.tolist() == [1.0, 2.0]
    z = copy.deepcopy(x)
    assert z.requires_grad and z is not x
    assert not np.shares_memory(z.detach().numpy(), x.detach().numpy())
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)


# ---- factories and random state ---------------------------------------------------------------


def test_factories():
    assert ember.zeros(2, 3).tolist() == [[0.0] * 3] * 2
    assert ember.ones((2,), dtype=ember.int64).tolist() == [1, 1]
    assert ember.full((2, 2), 7).dtype == ember.int64
    assert ember.full((2,), 0.5).dtype == ember.float32
    assert ember.full([2], True).dtype == ember.bool
    assert ember.empty(3, 4).shape == (3, 4)
    assert ember.arange(5).tolist() == [0, 1, 2, 3, 4] and ember.arange(5).dtype == ember.int64
    assert (
        ember.arange(1, 2, 0.5).tolist() == [1.0, 1.5]
        and ember.arange(0.0, 1).dtype == ember.float32
    )
    np.testing.assert_allclose(ember.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(ember.eye(2, 3).numpy(), np.eye(2, 3))
    x = ember.ones(2, 3, dtype=ember.float64)
    for like in (
        ember.zeros_like,
        ember.ones_like,
        ember.empty_like,
        ember.randn_like,
        ember.rand_like,
    ):
        y = like(x)
        assert y.shape == (2, 3) and y.dtype == ember.float64
    assert ember.full_like(x, 3).tolist() == [[3.0] * 3] * 2
    w = ember.zeros(3, requires_grad=True)
    assert w.requires_grad and w.is_leaf
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.zeros(2, -1)


def test_manual_seed_makes_every_draw_reproducible():
    def draws():
        return [
            ember.randn(3).tolist(),
            ember.rand(2, 2).tolist(),
            ember.randint(0, 10, (5,)).tolist(),
            ember.randperm(6).tolist(),
            ember.random.next_philox(10),
        ]

    ember.manual_seed(123)
    first = draws()
    ember.manual_seed(123)
    assert draws() == first
    ember.manual_seed(124)
    assert draws()[0] != first[0]
    assert ember.initial_seed() == 124


def test_generators_are_independent_streams():
    g1, g2 = ember.Generator().manual_seed(7), ember.Generator().manual_seed(7)
    ember.randn(100)  # the default stream does not touch g1/g2
    a = ember.randn(4, generator=g1)
    assert ember.randn(4, generator=g2).tolist() == a.tolist()
    assert ember.randn(4, generator=g1).tolist() != a.tolist()
    state = g1.get_state()
    b = ember.rand(3, generator=g1)
    g1.set_state(state)
    assert ember.rand(3, generator=g1).tolist() == b.tolist()


def test_next_philox_advances_by_whole_blocks_of_four():
    g = ember.Generator().manual_seed(5)
    assert g.next_philox(10) == (5, 0)
    assert g.next_philox(1) == (5, 12)
    assert g.next_philox(4) == (5, 16)
    assert g.next_philox(0) == (5, 20)
    assert ember.random.next_philox(3, generator=g) == (5, 20)
    g.manual_seed(5)
    assert g.next_philox(1) == (5, 0)


def test_random_factories_ranges_and_dtypes():
    ember.manual_seed(0)
    assert ember.randn(1000, dtype=ember.float64).dtype == ember.float64
    u = ember.rand(1000).numpy()
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1
    r = ember.randint(3, 7, (1000,)).numpy()
    assert r.dtype == np.int64 and set(r.tolist()) == {3, 4, 5, 6}
    assert sorted(ember.randperm(50).tolist()) == list(range(50))
    with pytest.raises(TypeError, match="floating point"):
        ember.randn(2, dtype=ember.int64)


# ---- operators and promotion ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, dtype",
    [
        (lambda: ember.ones(2) + ember.ones(2, dtype=ember.float64), ember.float64),
        (lambda: ember.ones(2) * 2.5, ember.float32),
        (lambda: 2.5 * ember.ones(2, dtype=ember.float64), ember.float64),
        (lambda: ember.ones(2, dtype=ember.int64) + 1.5, ember.float32),
        (lambda: ember.ones(2, dtype=ember.int64) * 3, ember.int64),
        (lambda: ember.ones(2, dtype=ember.int64) / 2, ember.float32),
        (lambda: ember.arange(3) / ember.arange(1, 4), ember.float32),
        (lambda: ember.arange(3) + ember.ones(3), ember.float32),
        (lambda: ember.ones(2, dtype=ember.float64) + ember.arange(2), ember.float64),
        (lambda: ember.tensor([True]) + ember.tensor([2]), ember.int64),
        (lambda: ember.ones(2) ** 2, ember.float32),
        (lambda: ember.ones(2) + np.float64(1.0), ember.float32),
    ],
)
def test_type_promotion(make, dtype):
    assert make().dtype == dtype


def test_arithmetic_values():
    a = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = ember.tensor([10.0, 20.0])
    assert (a + b).tolist() == [[11, 22], [13, 24]]
    assert (b - a).tolist() == [[9, 18], [7, 16]]
    assert (1 - a).tolist() == [[0, -1], [-2, -3]]
    assert (a / 2).tolist() == [[0.5, 1], [1.5, 2]]
    np.testing.assert_allclose((2 / b).numpy(), [0.2, 0.1], rtol=1e-7)
    assert (a**2).tolist() == [[1, 4], [9, 16]] and (2**a).tolist() == [[2, 4], [8, 16]]
    assert (-a).tolist() == [[-1, -2], [-3, -4]] and abs(-a).tolist() == a.tolist()
    assert (np.array([1.0, 2.0]) + b).tolist() == [11, 22]
    assert (ember.arange(7) // 2).tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert (ember.arange(5) % 3).tolist() == [0, 1, 2, 0, 1]


def test_comparisons_return_bool_tensors_without_grad():
    a = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (a == 2, [False, True, False]),
        (a != 2, [True, False, True]),
        (a < 2, [True, False, False]),
        (a <= 2, [True, True, False]),
        (a > 2, [False, False, True]),
        (a >= 2, [False, True, True]),
        (2 < a, [False, False, True]),
        (a == ember.tensor([1.0, 0.0, 3.0]), [True, False, True]),
    ]:
        assert result.dtype == ember.bool and not result.requires_grad
        assert result.tolist() == expected
    mask = a > 1
    assert (mask & (a < 3)).tolist() == [False, True, False] and (~mask).tolist() == [
        True,
        False,
        False,
    ]
    assert (a == None) is False
    assert a in {a} and len({a, a * 1}) == 2  # hashing is by identity


def test_reductions_and_argmax():
    x = ember.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert x.sum().item() == 21 and x.sum(0).tolist() == [5, 7, 9]
    assert x.sum(dim=(0, 1)).item() == 21 and x.sum(1, keepdim=True).shape == (2, 1)
    assert x.mean(-1).tolist() == [3, 4]
    assert x.max().item() == 6 and x.min().item() == 1
    values, indices = x.max(dim=1)
    assert values.tolist() == [5, 6] and indices.tolist() == [1, 2]
    assert x.min(0).indices.tolist() == [0, 1, 0]
    assert x.argmax().item() == 5 and x.argmax(1).tolist() == [1, 2]
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1, 0]]
    assert ember.max(x, ember.full((2, 3), 4.5)).tolist() == [[4.5, 5, 4.5], [4.5, 4.5, 6]]
    np.testing.assert_allclose(x.var().item(), np.var(x.numpy(), ddof=1), rtol=1e-6)
    np.testing.assert_allclose(x.std(1, correction=0).numpy(), np.std(x.numpy(), 1), rtol=1e-6)
    assert ember.tensor([True, True, False]).sum().item() == 2
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        ember.arange(3).mean()
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)


def test_clamp_where_and_activations():
    x = ember.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])
    assert x.clamp(-1, 1).tolist() == [-1, -0.5, 0, 0.5, 1]
    assert x.clamp(min=0).tolist() == [0, 0, 0, 0.5, 2]
    assert x.relu().tolist() == [0, 0, 0, 0.5, 2]
    assert ember.where(x > 0, x, 0.0).tolist() == [0, 0, 0, 0.5, 2]
    np.testing.assert_allclose(x.sigmoid().numpy(), 1 / (1 + np.exp(-x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(ember.tanh(x).numpy(), np.tanh(x.numpy()), rtol=1e-6)
    assert ember.arange(4).relu().dtype == ember.int64
    assert ember.arange(4).exp().dtype == ember.float32
    with pytest.raises(ValueError, match="at least one of 'min' or 'max'"):
        x.clamp()


# ---- shapes, indexing, views ------------------------------------------------------------------


def test_shape_ops():
    x = ember.arange(24).reshape(2, 3, 4)
    assert x.view(6, 4).shape == (6, 4) and x.reshape((4, -1)).shape == (4, 6)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4)
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.permute(1, 2, 0).shape == (3, 4, 2)
    assert x.mT.shape == (2, 4, 3) and x[0].T.shape == (4, 3)
    assert x.unsqueeze(1).shape == (2, 1, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x[:, :1].squeeze().shape == (2, 4) and x[:, :1].squeeze(1).shape == (2, 4)
    assert ember.ones(3, 1).expand(3, 4).shape == (3, 4)
    assert ember.ones(3, 1).expand(2, -1, 5).shape == (2, 3, 5)
    assert (
        not x.permute(2, 1, 0).is_contiguous() and x.permute(2, 1, 0).contiguous().is_contiguous()
    )
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.transpose(0, 1).view(-1)
    with pytest.raises(RuntimeError, match="expanded size"):
        ember.ones(3, 2).expand(3, 4)


def test_cat_stack_split():
    a, b = ember.ones(2, 3), ember.zeros(2, 1)
    assert ember.cat([a, b], dim=1).shape == (2, 4)
    assert ember.stack([a, a], dim=1).shape == (2, 2, 3)
    assert ember.cat([a, ember.zeros(1, 3, dtype=ember.float64)]).dtype == ember.float64
    assert [p.shape for p in ember.arange(7).split(3)] == [(3,), (3,), (1,)]
    assert [p.shape for p in ember.arange(7).split([2, 5])] == [(2,), (5,)]
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        ember.cat([a, ember.ones(3, 3)], dim=1)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        ember.stack([a, b])


@pytest.mark.parametrize(
    "index",
    [
        1,
        -1,
        slice(1, None),
        (0, 2),
        (slice(None), None, 1),
        (Ellipsis, 0),
        [0, 2, 0],
        ([0, 1], [2, 0]),
        (slice(None), [3, 3]),
    ],
    ids=str,
)
def test_getitem_follows_numpy(index):
    a = np.arange(24.0).reshape(3, 8)
    np.testing.assert_array_equal(ember.tensor(a)[index].numpy(), a[index])


def test_getitem_with_tensor_indices_and_masks():
    x = ember.arange(10.0)
    assert x[ember.tensor([1, 1, 4])].tolist() == [1, 1, 4]
    assert x[x > 6].tolist() == [7, 8, 9]
    with pytest.raises(IndexError, match="must be long, int, byte or bool"):
        x[ember.tensor([1.0])]


def test_basic_indexing_returns_views():
    x = ember.zeros(3, 4)
    row = x[1]
    row.fill_(5.0)
    assert x.sum().item() == 20.0
    x.reshape(12)[0] = 1.0
    assert x[0, 0].item() == 1.0


def test_setitem_without_grad_writes_in_place():
    x = ember.zeros(2, 3)
    storage = x.numpy()
    x[0] = ember.tensor([1.0, 2.0, 3.0])
    x[1, x[0] > 1] = 9.0
    assert x.numpy() is storage
    assert x.tolist() == [[1, 2, 3], [0, 9, 9]]


def test_inplace_ops_without_grad_write_storage():
    x = ember.ones(3)
    storage = x.numpy()
    x += 1
    x *= ember.tensor([1.0, 2.0, 3.0])
    x -= 0.5
    x /= 2
    x.add_(1, alpha=2).clamp_(max=4)
    assert x.numpy() is storage
    np.testing.assert_allclose(x.numpy(), [2.75, 3.75, 4.0])
    x.zero_()
    assert x.tolist() == [0, 0, 0]
    x.fill_(2).copy_(ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64))
    assert x.tolist() == [1, 2, 3] and x.dtype == ember.float32
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        y = ember.ones(2, requires_grad=True) * 1
        y += ember.ones(3, 2)


def test_clone_detach_and_data():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf
    assert not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    d = x.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), x.detach().numpy())
    x.data.mul_(2)
    assert x.tolist() == [2.0, 4.0] and x.requires_grad
    x.data = ember.zeros(3)
    assert x.shape == (3,) and x.requires_grad


def test_uniform_and_normal_fill_in_place():
    ember.manual_seed(1)
    w = ember.empty(1000, requires_grad=True)
    with ember.no_grad():
        w.uniform_(-2, 3)
    assert -2 <= w.min().item() and w.max().item() < 3
    ember.manual_seed(1)
    v = ember.empty(1000).uniform_(-2, 3)
    assert v.tolist() == w.tolist()
    n = ember.empty(5000, dtype=ember.float64).normal_(1.0, 0.5)
    assert abs(n.mean().item() - 1.0) < 0.05 and abs(n.std().item() - 0.5) < 0.05
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.normal_()


# ---- matrix products go to the native kernels -------------------------------------------------


class _KernelSpy:
    """Records the native GEMM calls the CPU backend makes, then runs them."""

    def __init__(self, native):
        self.native, self.calls = native, []

    def __getattr__(self, name):
        return getattr(self.native, name)

    def gemm(self, a, b, trans_a=False, trans_b=False):
        self.calls.append(("gemm", a.shape, b.shape, trans_a, trans_b))
        return self.native.gemm(a, b, trans_a, trans_b)

    def bmm(self, a, b, trans_a=False, trans_b=False):
        self.calls.append(("bmm", a.shape, b.shape, trans_a, trans_b))
        return self.native.bmm(a, b, trans_a, trans_b)


@pytest.fixture
def kernel_spy(monkeypatch):
    spy = _KernelSpy(cpu_backend._C)
    monkeypatch.setattr(cpu_backend, "_C", spy)
    return spy


def test_transposed_weight_reaches_gemm_as_a_flag(kernel_spy):
    x, w = ember.randn(5, 3, requires_grad=True), ember.randn(4, 3, requires_grad=True)
    y = x @ w.T
    assert kernel_spy.calls == [("gemm", (5, 3), (4, 3), False, True)]
    np.testing.assert_allclose(
        y.detach().numpy(), x.detach().numpy() @ w.detach().numpy().T, rtol=1e-5, atol=1e-6
    )
    y.backward(ember.ones(5, 4))
    assert kernel_spy.calls[1:] == [
        ("gemm", (5, 4), (4, 3), False, False),
        ("gemm", (5, 3), (5, 4), True, False),
    ]


def test_batched_matmul_uses_bmm_and_a_shared_right_matrix_folds_into_gemm(kernel_spy):
    a, b, w = ember.randn(2, 3, 4), ember.randn(2, 4, 5), ember.randn(4, 5)
    np.testing.assert_allclose((a @ b).numpy(), a.numpy() @ b.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose((a @ w).numpy(), a.numpy() @ w.numpy(), rtol=1e-5, atol=1e-6)
    assert kernel_spy.calls == [
        ("bmm", (2, 3, 4), (2, 4, 5), False, False),
        ("gemm", (6, 4), (4, 5), False, False),
    ]


def test_integer_matmul_and_shape_errors():
    a = ember.arange(6).reshape(2, 3)
    assert (a @ a.T).tolist() == (a.numpy() @ a.numpy().T).tolist()
    with pytest.raises(
        RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)"
    ):
        a @ a
    with pytest.raises(RuntimeError, match="at least 1D"):
        ember.tensor(1.0) @ ember.ones(2)


# ---- the package ------------------------------------------------------------------------------


def test_import_loads_nothing_heavy():
    code = "import ember, sys; print(sorted(m for m in ('torch', 'scipy', 'matplotlib', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names():
    for name in [
        "Tensor",
        "tensor",
        "from_numpy",
        "zeros",
        "ones",
        "full",
        "empty",
        "arange",
        "linspace",
        "eye",
        "randn",
        "rand",
        "randint",
        "randperm",
        "zeros_like",
        "ones_like",
        "full_like",
        "empty_like",
        "randn_like",
        "rand_like",
        "manual_seed",
        "Generator",
        "no_grad",
        "enable_grad",
        "set_grad_enabled",
        "is_grad_enabled",
        "cat",
        "stack",
        "where",
        "matmul",
        "exp",
        "log",
        "sqrt",
        "abs",
        "tanh",
        "sigmoid",
        "relu",
        "clamp",
        "sum",
        "mean",
        "max",
        "min",
        "argmax",
        "argmin",
        "device",
        "build_info",
        "get_num_threads",
        "set_num_threads",
        "float32",
        "float64",
        "int64",
        "bool",
    ]:
        assert hasattr(ember, name), name
    assert ember.autograd.Function is not None and callable(ember.random.next_philox)


@pytest.mark.parametrize("device_type", ["cpu", "cuda"])
def test_backends_define_every_op_the_tensor_layer_calls(device_type):
    import importlib

    try:
        backend = importlib.import_module(f"ember.backends.{device_type}")
    except Exception as e:  # noqa: BLE001 - absent, or unusable on this machine
        pytest.skip(f"no usable {device_type} backend module here: {e}")
    missing = [name for name in ember.backends.OPS if not hasattr(backend, name)]
    assert not missing, f"ember.backends.{device_type} lacks {missing}"
