"""The nn.Module machinery: registration, traversal, modes, gradients, dtype moves, state_dict
and load_state_dict, hooks, Parameter."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from nn_torch import requires_torch, torch

import ember
import ember.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.bn = nn.BatchNorm2d(3)
        self.register_buffer("scale", ember.ones(3))
        self.register_buffer("cache", ember.zeros(2), persistent=False)
        self.gain = nn.Parameter(ember.tensor([2.0]))

    def forward(self, x):
        return self.bn(self.conv(x)) * self.gain


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.fc = nn.Linear(3, 2)
        self.shared = self.fc  # the same module under two names

    def forward(self, x):
        return self.fc(self.block(x).mean((2, 3)))


def test_registration_order_and_traversal():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "block.gain",
        "block.conv.weight",
        "block.conv.bias",
        "block.bn.weight",
        "block.bn.bias",
        "fc.weight",
        "fc.bias",
    ]
    assert [n for n, _ in net.named_buffers()] == [
        "block.scale",
        "block.cache",
        "block.bn.running_mean",
        "block.bn.running_var",
        "block.bn.num_batches_tracked",
    ]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.conv", "block.bn", "fc"]
    assert [n for n, _ in net.named_children()] == ["block", "fc"]
    assert list(net.children()) == [net.block, net.fc]
    assert len(list(net.modules())) == 5
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert len(list(net.block.parameters(recurse=False))) == 1
    assert net.get_submodule("block.bn") is net.block.bn


def test_attribute_assignment_keeps_tables_consistent():
    m = nn.Linear(2, 2)
    m.bias = None
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = ember.zeros(2, 2)
    m.extra = nn.Parameter(ember.zeros(1))
    assert "extra" in dict(m.named_parameters())
    m.extra = nn.ReLU()  # re-registered as a module
    assert "extra" not in dict(m.named_parameters()) and "extra" in dict(m.named_children())
    del m.extra
    assert "extra" not in dict(m.named_children()) and not hasattr(m, "extra")
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nothing'"):
        _ = m.nothing
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", ember.zeros(1))

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_train_eval_propagate():
    net = Net()
    assert net.training and net.block.bn.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = Net()
    net(ember.randn(2, 2, 5, 5)).sum().backward()
    params = list(net.parameters())
    assert all(p.grad is not None for p in params)
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(p.grad.numpy()) for p in params)
    net.zero_grad()
    assert all(p.grad is None for p in params)
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in params)
    assert not net(ember.randn(2, 2, 5, 5)).requires_grad


def test_apply_visits_children_first():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Conv2d", "BatchNorm2d", "Block", "Linear", "Net"]


def test_to_dtype_keeps_parameter_identity():
    net = Net()
    params = list(net.parameters())
    net(ember.randn(2, 2, 5, 5)).sum().backward()
    assert net.double() is net
    assert list(net.parameters()) == params  # same objects: optimizers keep working
    assert all(p.dtype == ember.float64 and p.grad.dtype == ember.float64 for p in params)
    assert all(p.requires_grad for p in params)
    assert net.block.bn.running_mean.dtype == ember.float64
    assert net.block.bn.num_batches_tracked.dtype == ember.int64  # integers keep their dtype
    assert net(ember.randn(2, 2, 5, 5, dtype=ember.float64)).dtype == ember.float64
    net.float()
    assert all(p.dtype == ember.float32 for p in net.parameters())
    net.to("cpu")
    with pytest.raises(TypeError, match="floating point"):
        net.to(ember.int64)


def test_state_dict_keys_detached_and_shared():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == [
        "block.gain",
        "block.scale",
        "block.conv.weight",
        "block.conv.bias",
        "block.bn.weight",
        "block.bn.bias",
        "block.bn.running_mean",
        "block.bn.running_var",
        "block.bn.num_batches_tracked",
        "fc.weight",
        "fc.bias",
        "shared.weight",
        "shared.bias",
    ]  # the non-persistent buffer is left out; an aliased module appears under each name
    assert not any(v.requires_grad for v in sd.values())
    assert type(sd["fc.weight"]) is ember.Tensor
    assert np.shares_memory(sd["fc.weight"].numpy(), net.fc.weight.detach().numpy())
    assert net.state_dict(keep_vars=True)["fc.weight"] is net.fc.weight


def test_state_dict_round_trip_is_bit_exact():
    ember.manual_seed(0)
    a = Net()
    a(ember.randn(4, 2, 5, 5))  # moves the running statistics away from their initial values
    ember.manual_seed(1)
    b = Net()
    fc_weight = b.fc.weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert b.fc.weight is fc_weight  # loaded in place
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert va.dtype == vb.dtype, k
        assert va.numpy().tobytes() == vb.numpy().tobytes(), k
    x = ember.randn(3, 2, 5, 5)
    a.eval()
    b.eval()
    assert a(x).detach().numpy().tobytes() == b(x).detach().numpy().tobytes()
    # And through pickling (what ember.save does with a state dict).
    c = Net()
    c.load_state_dict(pickle.loads(pickle.dumps(a.state_dict())))
    c.eval()
    assert c(x).detach().numpy().tobytes() == a(x).detach().numpy().tobytes()


def test_load_state_dict_errors_name_keys_and_shapes():
    net = Net()
    sd = net.state_dict()
    del sd["fc.bias"]
    sd["fc.extra"] = ember.zeros(1)
    sd["block.conv.weight"] = ember.zeros(3, 2, 5, 5)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    assert str(err.value) == (
        "Error(s) in loading state_dict for Net:\n"
        '\tMissing key(s) in state_dict: "fc.bias". \n'
        '\tUnexpected key(s) in state_dict: "fc.extra". \n'
        "\tsize mismatch for block.conv.weight: copying a param with shape (3, 2, 5, 5) from "
        "checkpoint, the shape in current model is (3, 2, 3, 3)."
    )
    # Not strict: shape mismatches are still errors, key differences are reported.
    with pytest.raises(RuntimeError, match="size mismatch for block.conv.weight"):
        net.load_state_dict(sd, strict=False)
    sd["block.conv.weight"] = ember.zeros(3, 2, 3, 3)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["fc.bias"] and unexpected == ["fc.extra"]
    assert not np.any(net.block.conv.weight.detach().numpy())


@requires_torch
def test_state_dict_keys_match_torch_and_load_across():
    import torch.nn as tnn

    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 2, 3), tnn.BatchNorm2d(2), tnn.Flatten(), tnn.Linear(8, 3)
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # A torch checkpoint converted to arrays loads into the ember model.
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(
        ours[3].weight.detach().numpy(), theirs[3].weight.detach().numpy()
    )
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(
        ours(ember.tensor(x)).detach().numpy(),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_forward_hooks_and_pre_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    y = m(ember.ones(3, 2))
    np.testing.assert_allclose(
        y.detach().numpy(), np.broadcast_to(m.bias.detach().numpy() + 1, (3, 2)), rtol=1e-6
    )
    assert calls == [(3, 2)]
    h1.remove()
    h2.remove()
    assert not m._forward_hooks and not m._forward_pre_hooks


def test_deepcopy_and_pickle_modules():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.shared is clone.fc  # aliasing preserved
    assert clone.fc.weight is not net.fc.weight
    np.testing.assert_array_equal(clone.fc.weight.detach().numpy(), net.fc.weight.detach().numpy())
    assert isinstance(clone.fc.weight, nn.Parameter) and clone.fc.weight.requires_grad
    restored = pickle.loads(pickle.dumps(net))
    assert isinstance(restored.fc.weight, nn.Parameter)
    assert restored.fc.weight.requires_grad and not restored.block.bn.running_mean.requires_grad
    x = ember.randn(2, 2, 5, 5)
    net.eval()
    restored.eval()
    np.testing.assert_array_equal(restored(x).detach().numpy(), net(x).detach().numpy())


def test_parameter_basics():
    t = ember.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and isinstance(p, ember.Tensor)
    assert np.shares_memory(p.detach().numpy(), t.numpy())
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter(np.zeros(3)).dtype == ember.float64
    assert nn.Parameter([1, 2]).dtype == ember.float32
    assert type(p * 2) is ember.Tensor  # results of ops are plain tensors
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2.0, 4.0])


def test_module_without_forward_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(ember.zeros(1))
