"""Optimizers: trajectories against PyTorch's, param groups, state_dict resume, validation."""

import numpy as np
import pytest

import ember
from ember.backends import cpu as cpu_backend
from ember.nn.parameter import Parameter
from ember.optim import SGD, Adam, AdamW, Optimizer
from ember.serialization import load, save

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

STEPS = 20
SHAPES = [(5, 3), (3,), (1,)]
_rng = np.random.default_rng(1234)
INIT = [_rng.standard_normal(s) for s in SHAPES]
PHASE = [_rng.uniform(0, 2 * np.pi, s) for s in SHAPES]


def gradient(step, i, param):
    """A gradient that depends on the parameter (so the trajectory feeds back into it) and changes
    sign over time (so momentum, the second moment and amsgrad's running max all matter)."""
    return 0.5 * param.astype(np.float64) + np.cos(0.4 * step + PHASE[i])


def as_grad(array, dtype):
    return ember.tensor(array, dtype=dtype)


def ember_trajectory(make, dtype, steps=STEPS, start=0, params=None, optimizer=None):
    params = params or [Parameter(x.astype(dtype)) for x in INIT]
    opt = optimizer or make(params)
    history = []
    for t in range(start, start + steps):
        for i, p in enumerate(params):
            p.grad = as_grad(gradient(t, i, p.detach().numpy()), dtype)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history, params, opt


def torch_trajectory(make, dtype, steps=STEPS):
    params = [torch.tensor(x.astype(dtype), requires_grad=True) for x in INIT]
    opt = make(params)
    history = []
    for t in range(steps):
        for i, p in enumerate(params):
            p.grad = torch.from_numpy(gradient(t, i, p.detach().numpy()).astype(dtype))
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def assert_same_trajectory(ours, theirs, dtype):
    for t, (a_step, b_step) in enumerate(zip(ours, theirs)):
        for i, (a, b) in enumerate(zip(a_step, b_step)):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"step {t + 1}, param {i}")


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.01, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.05, betas=(0.5, 0.9), maximize=True)),
]
OURS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_trajectory_matches_torch(name, kwargs, dtype):
    ours, params, _ = ember_trajectory(lambda ps: OURS[name](ps, **kwargs), dtype)
    theirs = torch_trajectory(lambda ps: getattr(torch.optim, name)(ps, **kwargs), dtype)
    assert_same_trajectory(ours, theirs, dtype)
    moved = max(np.abs(p.detach().numpy() - x).max() for p, x in zip(params, INIT))
    assert moved > 0.1


@needs_torch
def test_param_groups_with_their_own_hyperparameters():
    def groups(params, lib):
        return lib.SGD(
            [{"params": params[:1]}, {"params": params[1:], "lr": 0.2, "momentum": 0.0}],
            lr=0.01,
            momentum=0.9,
        )

    ours, _, opt = ember_trajectory(lambda ps: groups(ps, ember.optim), np.float32)
    theirs = torch_trajectory(lambda ps: groups(ps, torch.optim), np.float32)
    assert_same_trajectory(ours, theirs, np.float32)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.2]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.0]
    assert opt.param_groups[1]["dampening"] == 0.0  # filled in from the defaults
    assert "momentum_buffer" in opt.state[opt.param_groups[0]["params"][0]]
    assert "momentum_buffer" not in opt.state[opt.param_groups[1]["params"][0]]


@needs_torch
def test_add_param_group_later():
    def make(params, lib):
        opt = lib.Adam(params[:2], lr=0.05)
        opt.add_param_group({"params": params[2], "lr": 0.01, "amsgrad": True})
        return opt

    ours, _, opt = ember_trajectory(lambda ps: make(ps, ember.optim), np.float32)
    theirs = torch_trajectory(lambda ps: make(ps, torch.optim), np.float32)
    assert_same_trajectory(ours, theirs, np.float32)
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)


@needs_torch
@pytest.mark.parametrize(
    "name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.05, amsgrad=True))]
)
def test_training_a_linear_model_matches_torch(name, kwargs):
    """The whole loop through autograd: zero_grad, a closure computing the loss, backward, step."""
    rng = np.random.default_rng(7)
    X, w_true = rng.standard_normal((32, 5)), rng.standard_normal((5, 1))
    y = X @ w_true + 0.1 * rng.standard_normal((32, 1))
    w0, b0 = 0.1 * rng.standard_normal((5, 1)), np.zeros(1)

    def train(lib, tensor, param):
        Xt, yt = tensor(X.astype(np.float32)), tensor(y.astype(np.float32))
        w, b = param(w0.astype(np.float32)), param(b0.astype(np.float32))
        opt = getattr(lib.optim, name)([w, b], **kwargs)

        def closure():
            opt.zero_grad()
            loss = ((Xt @ w + b - yt) ** 2).mean()
            loss.backward()
            return loss

        losses = [opt.step(closure).item() for _ in range(STEPS)]
        return losses, w.detach().numpy(), b.detach().numpy()

    ours = train(ember, ember.tensor, Parameter)
    theirs = train(torch, torch.tensor, lambda a: torch.tensor(a, requires_grad=True))
    assert ours[0][-1] < 0.5 * ours[0][0]  # it learned
    # The losses and gradients come from different float32 kernels (summation order), so the
    # trajectories agree to float32 accumulation accuracy rather than bit for bit.
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_the_update_goes_through_the_device_backend(monkeypatch):
    calls = []
    real = cpu_backend.adam_step

    def spy(param, grad, *args, **kwargs):
        calls.append((param, kwargs["lr"]))
        return real(param, grad, *args, **kwargs)

    monkeypatch.setattr(cpu_backend, "adam_step", spy, raising=False)
    params = [Parameter(x.astype(np.float32)) for x in INIT]
    opt = Adam(params, lr=0.5)
    params[0].grad = as_grad(np.ones(SHAPES[0]), np.float32)
    opt.step()
    assert len(calls) == 1 and calls[0][0] is params[0]._data and calls[0][1] == 0.5


def test_step_skips_parameters_without_grad_and_returns_closure_loss():
    params = [Parameter(x.astype(np.float32)) for x in INIT]
    opt = SGD(params, lr=0.1, momentum=0.9)
    params[1].grad = as_grad(np.ones(SHAPES[1]), np.float32)
    calls = []
    assert opt.step(lambda: calls.append(1) or 7.5) == 7.5
    assert calls == [1]
    np.testing.assert_array_equal(params[0].detach().numpy(), INIT[0].astype(np.float32))
    np.testing.assert_allclose(params[1].detach().numpy(), INIT[1].astype(np.float32) - 0.1)
    assert len(opt.state_dict()["state"]) == 1  # only the stepped parameter has a buffer


@pytest.fixture
def sgd_many_calls(monkeypatch):
    """The number of parameters in each call of the CPU backend's sgd_step_many."""
    calls = []
    real = cpu_backend.sgd_step_many

    def spy(params, *args, **kwargs):
        calls.append(len(params))
        return real(params, *args, **kwargs)

    monkeypatch.setattr(cpu_backend, "sgd_step_many", spy, raising=False)
    return calls


def test_sgd_parameters_joining_late_follow_the_formula(sgd_many_calls):
    """After their first step, a group's parameters are stepped by one multi-tensor call per
    device; a parameter whose first gradient arrives later must still start its buffer from
    that gradient."""
    params = [Parameter(x.astype(np.float64)) for x in INIT]
    opt = SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)
    expected = [x.copy() for x in INIT]
    buffers = [None] * len(INIT)
    for step in range(6):
        active = [0] if step < 2 else [0, 1] if step < 4 else [0, 1, 2]
        opt.zero_grad()
        for i in active:
            g = gradient(step, i, expected[i])
            params[i].grad = as_grad(g, np.float64)
            g = g + 0.01 * expected[i]
            buffers[i] = g if buffers[i] is None else 0.9 * buffers[i] + g
            expected[i] = expected[i] - 0.1 * buffers[i]
        opt.step()
        for p, e in zip(params, expected):
            np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-13, atol=1e-14)
    # Steps 0, 2 and 4 each start a buffer (one parameter alone, no batch); the rest batch every
    # parameter that already has one.
    assert sgd_many_calls == [1, 1, 2, 2, 3]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_foreach_false_steps_each_parameter_alone_with_the_same_result(
    sgd_many_calls, momentum
):
    histories = {}
    for foreach in (None, True, False):
        sgd_many_calls.clear()

        def make(ps, foreach=foreach):
            return SGD(ps, lr=0.1, momentum=momentum, weight_decay=0.01, foreach=foreach)

        histories[foreach] = ember_trajectory(make, np.float32, steps=5)[0]
        assert (sgd_many_calls == []) == (foreach is False)
    for batched in (None, True):
        for step_a, step_b in zip(histories[batched], histories[False]):
            for a, b in zip(step_a, step_b):
                np.testing.assert_array_equal(a, b)


def test_zero_grad():
    params = [Parameter(x.astype(np.float32)) for x in INIT]
    opt = SGD(params, lr=0.1)
    for p in params:
        p.grad = as_grad(np.ones(p.shape), np.float32)
    held = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is held  # zeroed in place, as torch
    for p in params:
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape, np.float32))
    opt.zero_grad()
    assert all(p.grad is None for p in params)


# ---- state_dict -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
        lambda ps: Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.2}], lr=0.05, amsgrad=True),
        lambda ps: AdamW(ps, lr=0.05),
    ],
    ids=["sgd", "adam-groups", "adamw"],
)
@pytest.mark.parametrize("through_file", [False, True], ids=["memory", "file"])
def test_state_dict_resumes_identically(make, through_file, tmp_path):
    dtype = np.float32
    straight, _, _ = ember_trajectory(make, dtype, steps=16)

    first, params, opt = ember_trajectory(make, dtype, steps=8)
    state = opt.state_dict()
    if through_file:
        save({"params": [p for p in params], "optimizer": state}, tmp_path / "ckpt.safetensors")
        ckpt = load(tmp_path / "ckpt.safetensors")
        state = ckpt["optimizer"]
        params = [Parameter(t) for t in ckpt["params"]]
    else:
        params = [Parameter(p.detach().numpy().copy()) for p in params]
    resumed = make(params)
    resumed.load_state_dict(state)
    rest, _, _ = ember_trajectory(None, dtype, steps=8, start=8, params=params, optimizer=resumed)
    for t, (a_step, b_step) in enumerate(zip(straight, first + rest)):
        for a, b in zip(a_step, b_step):
            np.testing.assert_array_equal(a, b, err_msg=f"step {t + 1}")


def test_state_dict_shape_follows_torch():
    params = [Parameter(x.astype(np.float32)) for x in INIT]
    opt = Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], amsgrad=True)
    for p in params:
        p.grad = as_grad(np.ones(p.shape), np.float32)
    opt.step()
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["lr"] == 1e-3
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sorted(sd["state"][1]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert sd["state"][1]["step"] == 2
    assert sd["state"][1]["exp_avg"].shape == SHAPES[1]


def test_load_state_dict_copies_buffers():
    params = [Parameter(x.astype(np.float32)) for x in INIT]
    source = SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = as_grad(np.ones(p.shape), np.float32)
    source.step()
    target = SGD([Parameter(x.astype(np.float64)) for x in INIT], lr=0.1, momentum=0.9)
    target.load_state_dict(source.state_dict())
    src_buf = source.state[params[0]]["momentum_buffer"]
    dst_buf = target.state[target.param_groups[0]["params"][0]]["momentum_buffer"]
    assert dst_buf.dtype == np.float64  # cast to the parameter's dtype
    np.testing.assert_array_equal(dst_buf.numpy(), src_buf.numpy())
    assert not np.shares_memory(dst_buf.numpy(), src_buf.numpy())


def test_load_state_dict_rejects_a_different_layout():
    params = [Parameter(x.astype(np.float32)) for x in INIT]
    opt = SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = as_grad(np.ones(p.shape), np.float32)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="has 3 parameters"):
        SGD(params[:2], lr=0.1).load_state_dict(sd)
    swapped = [Parameter(INIT[1].astype(np.float32)), *params[1:]]
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(5, 3\)"):
        SGD(swapped, lr=0.1).load_state_dict(sd)
    bad = {**sd, "param_groups": [{**sd["param_groups"][0], "lr": -1.0}]}
    with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
        SGD(params, lr=0.1).load_state_dict(bad)


# ---- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: SGD(p, lr=-1.0), r"Invalid learning rate: -1.0"),
        (lambda p: SGD(p, momentum=-0.5), r"Invalid momentum value: -0.5"),
        (lambda p: SGD(p, weight_decay=-1e-4), r"Invalid weight_decay value: -0.0001"),
        (lambda p: SGD(p, nesterov=True), r"Nesterov momentum requires a momentum"),
        (lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), r"zero dampening"),
        (lambda p: SGD(p, foreach="yes"), r"foreach must be None, True or False, got 'yes'"),
        (lambda p: SGD([{"params": p, "lr": -2.0}], lr=0.1), r"Invalid learning rate: -2.0"),
        (lambda p: Adam(p, lr=-1.0), r"Invalid learning rate: -1.0"),
        (lambda p: Adam(p, eps=-1e-8), r"Invalid epsilon value: -1e-08"),
        (lambda p: Adam(p, betas=(1.0, 0.999)), r"Invalid beta parameter at index 0: 1.0"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), r"Invalid beta parameter at index 1: -0.1"),
        (lambda p: AdamW(p, weight_decay=-0.01), r"Invalid weight_decay value: -0.01"),
        (lambda p: SGD([], lr=0.1), r"empty parameter list"),
        (lambda p: SGD([p[0], p[0]]), r"same parameter more than once"),
        (lambda p: SGD([{"params": p[:1]}, {"params": p[:2]}]), r"more than one parameter group"),
    ],
)
def test_invalid_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make([Parameter(x.astype(np.float32)) for x in INIT])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: SGD(p[0]), r"iterable of Tensors or dicts, but got a Tensor"),
        (lambda p: SGD(set(p)), r"ordered collections"),
        (lambda p: SGD([{"params": set(p)}]), r"ordered collections"),
        (
            lambda p: SGD([np.zeros(3)]),
            r"can only optimize Tensors, but one of the params is ndarray",
        ),
        (lambda p: SGD(p).add_param_group([p[0]]), r"param_group must be a dict"),
    ],
)
def test_invalid_arguments_raise_type_error(make, match):
    with pytest.raises(TypeError, match=match):
        make([Parameter(x.astype(np.float32)) for x in INIT])


def test_base_class_needs_an_update():
    opt = Optimizer([Parameter(np.ones(2, np.float32))], {"lr": 0.1})
    opt.param_groups[0]["params"][0].grad = as_grad(np.ones(2), np.float32)
    with pytest.raises(NotImplementedError):
        opt.step()
