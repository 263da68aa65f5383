"""nn.init: torch's gains and fans, the bounds each initialiser promises, sample statistics within
stated sampling bounds, reproducibility under ember.manual_seed, and the default initialisation
of Linear and Conv2d."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nn_torch import requires_torch, torch

import ember
import ember.nn as nn
from ember.nn import init

# Sample moments of n draws: mean within 5 standard errors, variance within 5 standard errors of
# the sample variance. For U(-b, b): var = b^2 / 3, Var(s^2) ~ (mu4 - var^2) / n with
# mu4 = b^4 / 5. For N(0, s^2): Var(s^2) ~ 2 s^4 / n. A correct sampler fails with p < 1e-5.
SIGMAS = 5.0


def check_uniform(values: np.ndarray, low: float, high: float) -> None:
    assert values.min() >= low and values.max() <= high
    n, half = values.size, (high - low) / 2
    var = half**2 / 3
    assert abs(values.mean() - (low + high) / 2) < SIGMAS * math.sqrt(var / n)
    assert abs(values.var() - var) < SIGMAS * math.sqrt((half**4 / 5 - var**2) / n)


def check_normal(values: np.ndarray, mean: float, std: float) -> None:
    n = values.size
    assert abs(values.mean() - mean) < SIGMAS * std / math.sqrt(n)
    assert abs(values.var() - std**2) < SIGMAS * math.sqrt(2 / n) * std**2


@requires_torch
@pytest.mark.parametrize(
    "nonlinearity,param",
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15
    )


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_fans():
    assert init._calculate_fan_in_and_fan_out(ember.empty(5, 7)) == (7, 5)
    assert init._calculate_fan_in_and_fan_out(ember.empty(8, 3, 5, 2)) == (30, 80)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(ember.empty(4))


def test_uniform_normal_constant():
    t = ember.empty(200, 300)
    check_uniform(init.uniform_(t, -0.5, 2.0).numpy(), -0.5, 2.0)
    check_normal(init.normal_(t, 1.5, 0.3).numpy(), 1.5, 0.3)
    assert np.all(init.constant_(t, 0.25).numpy() == 0.25)
    assert np.all(init.ones_(t).numpy() == 1) and np.all(init.zeros_(t).numpy() == 0)
    values = init.trunc_normal_(t, 0.0, 1.0, -0.5, 1.0).numpy()
    assert values.min() >= -0.5 and values.max() <= 1.0


@pytest.mark.parametrize("shape", [(300, 200), (64, 16, 3, 3)])
def test_xavier(shape):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    t = ember.empty(*shape)
    bound = 1.7 * math.sqrt(6 / (fan_in + fan_out))
    check_uniform(init.xavier_uniform_(t, gain=1.7).numpy(), -bound, bound)
    check_normal(
        init.xavier_normal_(t, gain=0.5).numpy(), 0.0, 0.5 * math.sqrt(2 / (fan_in + fan_out))
    )


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0.0), ("leaky_relu", 0.1), ("tanh", 0.0)])
def test_kaiming(mode, nonlinearity, a):
    shape = (128, 32, 3, 3)
    fan = (32 if mode == "fan_in" else 128) * 9
    gain = init.calculate_gain(nonlinearity, a)
    t = ember.empty(*shape)
    bound = gain * math.sqrt(3 / fan)
    check_uniform(init.kaiming_uniform_(t, a, mode, nonlinearity).numpy(), -bound, bound)
    check_normal(init.kaiming_normal_(t, a, mode, nonlinearity).numpy(), 0.0, gain / math.sqrt(fan))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(t, mode="fan_avg")


def test_kaiming_on_empty_tensor_warns_and_is_a_noop():
    t = ember.empty(0, 3)
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_uniform_(t) is t


def test_default_linear_and_conv_initialisation():
    """torch's: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    ember.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    check_uniform(lin.weight.detach().numpy(), -bound, bound)
    check_uniform(lin.bias.detach().numpy(), -bound, bound)
    conv = nn.Conv2d(16, 64, (3, 5), groups=2)
    fan_in = 8 * 15
    bound = 1 / math.sqrt(fan_in)
    check_uniform(conv.weight.detach().numpy(), -bound, bound)
    b = conv.bias.detach().numpy()
    assert b.min() >= -bound and b.max() <= bound and np.unique(b).size == 64
    bn = nn.BatchNorm2d(5)
    assert np.all(bn.weight.detach().numpy() == 1) and np.all(bn.bias.detach().numpy() == 0)


def test_initialisation_is_reproducible_under_manual_seed():
    ember.manual_seed(42)
    a = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 3))
    ember.manual_seed(42)
    b = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 3))
    c = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 3))
    for (k, va), vb, vc in zip(
        a.state_dict().items(), b.state_dict().values(), c.state_dict().values(), strict=True
    ):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)
        assert not np.array_equal(va.numpy(), vc.numpy()), k
    g1, g2 = ember.Generator().manual_seed(7), ember.Generator().manual_seed(7)
    np.testing.assert_array_equal(
        init.normal_(ember.empty(10), generator=g1).numpy(),
        init.normal_(ember.empty(10), generator=g2).numpy(),
    )


def test_init_keeps_dtype_identity_and_graph():
    p = nn.Parameter(ember.zeros(4, 4, dtype=ember.float64))
    storage = p.detach().numpy()
    assert init.xavier_uniform_(p) is p
    assert p.dtype == ember.float64 and p.requires_grad and p.is_leaf
    assert np.shares_memory(p.detach().numpy(), storage) and np.any(storage != 0)
