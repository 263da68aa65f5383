"""Learning-rate schedulers: lr sequences against PyTorch's, ReduceLROnPlateau's rules, resuming."""

import math

import numpy as np
import pytest

from ember.nn.parameter import Parameter
from ember.optim import SGD, lr_scheduler
from ember.serialization import load, save

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

LRS = (0.1, 0.03)  # two groups with different lrs: every schedule must scale each separately


def ember_optimizer(lrs=LRS):
    groups = [{"params": [Parameter(np.zeros(2, np.float32))], "lr": lr} for lr in lrs]
    return SGD(groups, lr=1.0, momentum=0.9)


def torch_optimizer(lrs=LRS):
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=1.0, momentum=0.9)


def lr_sequence(optimizer, scheduler, epochs, metrics=None):
    """Group lrs after construction and after each of `epochs` (optimizer step, scheduler step)."""
    seq = [[g["lr"] for g in optimizer.param_groups]]
    for epoch in range(epochs):
        optimizer.step()  # no gradients: changes nothing, keeps torch's step-order check quiet
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
        seq.append([g["lr"] for g in optimizer.param_groups])
        assert scheduler.get_last_lr() == seq[-1]
    return seq


SCHEDULES = {
    "step": (
        lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    ),
    "exponential": (
        lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    ),
    "lambda": (
        lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
    ),
    "lambda-per-group": (
        lambda o: lr_scheduler.LambdaLR(o, [lambda e: 0.9**e, lambda e: e + 1]),
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, [lambda e: 0.9**e, lambda e: e + 1]),
    ),
    # 40 epochs with T_max=7 cross the minimum and the maximum several times: the recursive form's
    # special cases (t - 1 - T_max divisible by 2 T_max) are all exercised.
    "cosine": (
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    ),
    "cosine-no-floor": (
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
    ),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_matches_torch(name):
    make_ember, make_torch = SCHEDULES[name]
    eo, to = ember_optimizer(), torch_optimizer()
    ours = lr_sequence(eo, make_ember(eo), 40)
    theirs = lr_sequence(to, make_torch(to), 40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert len({tuple(lrs) for lrs in ours}) > 3  # the schedule actually moved


def test_step_lr_closed_form():
    opt = ember_optimizer()
    seq = lr_sequence(opt, lr_scheduler.StepLR(opt, step_size=4, gamma=0.1), 12)
    for epoch, lrs in enumerate(seq):
        assert lrs == pytest.approx([lr * 0.1 ** (epoch // 4) for lr in LRS], rel=1e-12)


def test_cosine_closed_form_and_floor():
    opt = ember_optimizer()
    seq = lr_sequence(opt, lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.01), 8)
    for t, lrs in enumerate(seq):
        want = [0.01 + (lr - 0.01) * (1 + math.cos(math.pi * t / 8)) / 2 for lr in LRS]
        assert lrs == pytest.approx(want, rel=1e-12)
    assert seq[-1] == pytest.approx([0.01, 0.01], rel=1e-12)


def test_initial_lr_recorded_and_resume_requires_it():
    opt = ember_optimizer()
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert sched.base_lrs == list(LRS)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(ember_optimizer(), step_size=2, last_epoch=5)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), "step_size"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "T_max"),
        (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), "expected 2 lr_lambdas"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), "mode"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), "threshold_mode"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.0]), "expected 2 min_lrs"),
    ],
)
def test_invalid_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make(ember_optimizer())


def test_needs_an_optimizer():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)


# ---- ReduceLROnPlateau --------------------------------------------------------------------------


def test_plateau_waits_patience_then_reduces_then_cools_down():
    opt = ember_optimizer((1.0,))
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1)
    # improves, improves, then flat: bad epochs 1, 2 (= patience, no change), 3 -> reduce;
    # the cooldown epoch after a reduction does not count; then 3 more bad epochs -> reduce.
    metrics = [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    lrs = [lrs[0] for lrs in lr_sequence(opt, sched, len(metrics), metrics)][1:]
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_threshold_and_min_lr():
    opt = ember_optimizer((1.0,))
    sched = lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=0.1, patience=0, threshold=0.5, threshold_mode="abs", min_lr=0.05
    )
    sched.step(1.0)  # first metric always improves on -inf
    assert opt.param_groups[0]["lr"] == 1.0
    sched.step(1.4)  # not better by more than 0.5: reduce
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    sched.step(1.6)  # 1.6 > 1.0 + 0.5: improvement, best becomes 1.6
    assert sched.best == 1.6 and opt.param_groups[0]["lr"] == pytest.approx(0.1)
    sched.step(0.0)  # bad: 0.01 would be below min_lr, so it stops at 0.05
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    sched.step(0.0)  # already at min_lr: max(0.005, 0.05) leaves it
    assert opt.param_groups[0]["lr"] == 0.05


PLATEAU_CONFIGS = [
    dict(),
    dict(mode="max", patience=1, factor=0.5),
    dict(patience=2, threshold=0.1, threshold_mode="abs", cooldown=2),
    dict(patience=0, min_lr=[0.02, 0.001], factor=0.3),
]


@needs_torch
@pytest.mark.parametrize("config", PLATEAU_CONFIGS, ids=str)
def test_plateau_matches_torch(config):
    metrics = list(np.random.default_rng(0).uniform(0.5, 1.5, 60).round(2))
    metrics[::7] = [0.1 * i for i in range(len(metrics[::7]))]
    eo, to = ember_optimizer(), torch_optimizer()
    ours = lr_sequence(eo, lr_scheduler.ReduceLROnPlateau(eo, **config), 60, metrics)
    theirs = lr_sequence(to, torch.optim.lr_scheduler.ReduceLROnPlateau(to, **config), 60, metrics)
    assert ours == theirs
    assert ours[-1] != ours[0]


# ---- resuming -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["step", "cosine", "lambda", "plateau"])
def test_state_dict_resumes_identically(name, tmp_path):
    make = {
        "step": lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        "cosine": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
        "lambda": lambda o: lr_scheduler.LambdaLR(o, lambda e: 0.8**e),
        "plateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1, factor=0.5),
    }[name]
    metrics = [1.0, 0.9, 0.95, 0.97, 0.96, 0.99, 0.8, 0.85, 0.9, 0.91, 0.93, 0.9, 0.95, 1.0]
    plateau = name == "plateau"
    opt = ember_optimizer()
    sched = make(opt)
    lr_sequence(opt, sched, 7, metrics[:7] if plateau else None)
    path = tmp_path / "ckpt.safetensors"
    save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, path)
    expected = lr_sequence(opt, sched, 7, metrics[7:] if plateau else None)

    opt2 = ember_optimizer((0.5, 0.5))
    sched2 = make(opt2)
    ckpt = load(path)
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    assert lr_sequence(opt2, sched2, 7, metrics[7:] if plateau else None) == expected
    assert len({tuple(lrs) for lrs in expected}) > 1


def test_state_dict_leaves_out_optimizer_and_functions():
    opt = ember_optimizer()
    state = lr_scheduler.LambdaLR(opt, lambda e: 1.0).state_dict()
    assert "optimizer" not in state
    assert state["lr_lambdas"] == [None, None]
    assert state["base_lrs"] == list(LRS) and state["last_epoch"] == 0
