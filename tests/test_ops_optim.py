"""Fused optimizer steps: 20-step trajectories of param and state against an independent float64
NumPy implementation of PyTorch's rules and, when installed, against torch.optim itself."""

import itertools

import numpy as np
import pytest
from op_harness import TOLERANCES, assert_close
from reference import optim as ref

import ember
from ember import _C
from ember._runtime import num_threads, simd_path

try:
    import torch
except ImportError:
    torch = None

STEPS = 20
SHAPE = (37, 29)  # 1073 elements: not a multiple of any vector width


def problem(dtype, shape=SHAPE, seed=0):
    """An initial parameter and STEPS gradients, rounded to dtype so that every implementation
    starts from the same values."""
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(STEPS)]
    return param, grads


def sgd_configs():
    rows = []
    for momentum, dampening, nesterov, weight_decay, maximize in itertools.product(
        (0.0, 0.9), (0.0, 0.5), (False, True), (0.0, 0.01), (False, True)
    ):
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        rows.append(
            {
                "lr": 0.1,
                "momentum": momentum,
                "dampening": dampening,
                "nesterov": nesterov,
                "weight_decay": weight_decay,
                "maximize": maximize,
            }
        )
    return rows


def adam_configs():
    return [
        {
            "lr": 0.05,
            "beta1": 0.9,
            "beta2": 0.999,
            "eps": 1e-8,
            "weight_decay": wd,
            "decoupled_weight_decay": dec,
            "amsgrad": ams,
            "maximize": mx,
        }
        for dec, ams, wd, mx in itertools.product(
            (False, True), (False, True), (0.0, 0.01), (False, True)
        )
    ]


NESTEROV_SGD = {
    "lr": 0.1,
    "momentum": 0.9,
    "dampening": 0.0,
    "nesterov": True,
    "weight_decay": 0.01,
    "maximize": False,
}


def config_id(cfg):
    return ",".join(f"{k}={v}" for k, v in cfg.items() if k not in ("lr", "beta1", "beta2", "eps"))


def run_native_sgd(param, grads, cfg):
    param = param.copy()
    # Garbage in the buffer: the first step must overwrite it, never read it.
    buf = np.full_like(param, np.nan)
    trajectory = []
    for step, g in enumerate(grads):
        _C.sgd_step(param, g, buf if cfg["momentum"] != 0 else None, first_step=step == 0, **cfg)
        trajectory.append((param.copy(), buf.copy() if cfg["momentum"] != 0 else None))
    return trajectory


def run_reference_sgd(param, grads, cfg):
    param, buf = param.astype(np.float64), None
    trajectory = []
    for g in grads:
        param, buf = ref.sgd_step(param, g.astype(np.float64), buf, **cfg)
        trajectory.append((param, buf))
    return trajectory


def run_native_adam(param, grads, cfg):
    param = param.copy()
    exp_avg, exp_avg_sq, vmax = (np.zeros_like(param) for _ in range(3))
    extra = {"max_exp_avg_sq": vmax} if cfg["amsgrad"] else {}
    trajectory = []
    for step, g in enumerate(grads, start=1):
        _C.adam_step(param, g, exp_avg, exp_avg_sq, step, **cfg, **extra)
        trajectory.append((param.copy(), exp_avg.copy(), exp_avg_sq.copy(), vmax.copy()))
    return trajectory


def run_reference_adam(param, grads, cfg):
    param = param.astype(np.float64)
    state = ref.adam_state(param, cfg["amsgrad"])
    trajectory = []
    for g in grads:
        param, state = ref.adam_step(param, g.astype(np.float64), state, **cfg)
        vmax = state.get("max_exp_avg_sq", np.zeros_like(param))
        trajectory.append((param, state["exp_avg"], state["exp_avg_sq"], vmax))
    return trajectory


def torch_trajectory(param, grads, make_optimizer):
    p = torch.tensor(param.copy(), requires_grad=True)
    opt = make_optimizer([p])
    trajectory = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        trajectory.append(p.detach().numpy().copy())
    return trajectory


def compare_trajectories(native, expected, names, dtype, label):
    rtol, atol = TOLERANCES[dtype]
    for step, (got_state, want_state) in enumerate(zip(native, expected), start=1):
        for name, got, want in zip(names, got_state, want_state):
            if want is None:
                continue
            assert got.dtype == dtype, f"{label}: {name} dtype {got.dtype}"
            assert_close(got, want, rtol, atol, f"{label} step {step} {name}")


@pytest.mark.parametrize("cfg", sgd_configs(), ids=config_id)
def test_sgd_trajectory(cfg, dtype, simd):
    param, grads = problem(dtype)
    native = run_native_sgd(param, grads, cfg)
    expected = run_reference_sgd(param, grads, cfg)
    assert np.abs(expected[-1][0] - param).max() > 0.1, "the trajectory should move the parameter"
    compare_trajectories(native, expected, ("param", "momentum_buffer"), dtype, f"sgd {cfg}")


@pytest.mark.parametrize("cfg", adam_configs(), ids=config_id)
def test_adam_trajectory(cfg, dtype, simd):
    param, grads = problem(dtype)
    native = run_native_adam(param, grads, cfg)
    expected = run_reference_adam(param, grads, cfg)
    assert np.abs(expected[-1][0] - param).max() > 0.1, "the trajectory should move the parameter"
    names = ("param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    compare_trajectories(native, expected, names, dtype, f"adam {cfg}")


def awkward_values(n, seed):
    """Normal values, with NaN, infinities, zeros of both signs and values near the subnormal
    range (where the state is flushed to zero) sprinkled in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-37, -3e-36, 1e-30], np.float32)
    count = min(n, 64)
    x[rng.choice(n, count, replace=False)] = rng.choice(specials, count)
    return x


@pytest.mark.parametrize("path", ["avx512", "avx2"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [1, 15, 17, 1073, 250_001])  # partial vectors; one threads
def test_vector_steps_match_the_portable_loop_bit_for_bit(n, threads, path):
    if path not in ember.build_info()["simd_detected"]:
        pytest.skip(f"this CPU has no {path} path")
    sgd = [dict(cfg, first_step=first) for cfg in sgd_configs() for first in (False, True)]
    adam = [dict(cfg, step=step) for cfg in adam_configs() for step in (1, 7)]
    cases = [("sgd", cfg) for cfg in sgd] + [("adam", cfg) for cfg in adam]
    for which, cfg in cases:
        param, grad, *state = (awkward_values(n, seed) for seed in range(5))
        results = {}
        for kernels in (path, "generic"):
            arrays = [param.copy(), *(a.copy() for a in state)]
            with simd_path(kernels), num_threads(threads):
                if which == "sgd":
                    buffer = arrays[1] if cfg["momentum"] else None
                    _C.sgd_step(arrays[0], grad, buffer, **cfg)
                else:
                    step, hyper = cfg["step"], {k: v for k, v in cfg.items() if k != "step"}
                    max_sq = arrays[3] if cfg["amsgrad"] else None
                    _C.adam_step(
                        arrays[0], grad, arrays[1], arrays[2], step, max_exp_avg_sq=max_sq, **hyper
                    )
            results[kernels] = arrays
        for name, fast, portable in zip(("param", "a", "b", "c"), *results.values()):
            # Bit for bit, zeros' signs included; a NaN's sign and payload depend on operand order.
            same = (fast.view(np.int32) == portable.view(np.int32)) | (
                np.isnan(fast) & np.isnan(portable)
            )
            assert same.all(), f"{which} {cfg}: {name} differs at {np.flatnonzero(~same)[:5]}"


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("cfg", sgd_configs(), ids=config_id)
def test_sgd_matches_torch(cfg, dtype):
    param, grads = problem(dtype, seed=1)
    expected = torch_trajectory(param, grads, lambda ps: torch.optim.SGD(ps, **cfg, foreach=False))
    native = [state[0] for state in run_native_sgd(param, grads, cfg)]
    reference = [state[0] for state in run_reference_sgd(param, grads, cfg)]
    rtol, atol = TOLERANCES[dtype]
    for step, (got, ref_param, want) in enumerate(zip(native, reference, expected), start=1):
        assert_close(got, want, rtol, atol, f"sgd {cfg} step {step} vs torch")
        if dtype == np.float64:
            assert_close(ref_param, want, 1e-12, 1e-12, f"sgd {cfg} step {step} reference vs torch")


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("cfg", adam_configs(), ids=config_id)
def test_adam_matches_torch(cfg, dtype):
    param, grads = problem(dtype, seed=1)
    hyper = {
        "lr": cfg["lr"],
        "betas": (cfg["beta1"], cfg["beta2"]),
        "eps": cfg["eps"],
        "weight_decay": cfg["weight_decay"],
        "amsgrad": cfg["amsgrad"],
        "maximize": cfg["maximize"],
        "foreach": False,
    }
    torch_class = torch.optim.AdamW if cfg["decoupled_weight_decay"] else torch.optim.Adam
    expected = torch_trajectory(param, grads, lambda ps: torch_class(ps, **hyper))
    native = [state[0] for state in run_native_adam(param, grads, cfg)]
    reference = [state[0] for state in run_reference_adam(param, grads, cfg)]
    rtol, atol = TOLERANCES[dtype]
    for step, (got, ref_param, want) in enumerate(zip(native, reference, expected), start=1):
        assert_close(got, want, rtol, atol, f"adam {cfg} step {step} vs torch")
        if dtype == np.float64:
            assert_close(
                ref_param, want, 1e-12, 1e-12, f"adam {cfg} step {step} reference vs torch"
            )


@pytest.mark.parametrize("size", [0, 1, 7])
def test_small_sizes(size, dtype):
    param, grads = problem(dtype, shape=(size,))
    sgd = NESTEROV_SGD
    compare_trajectories(
        run_native_sgd(param, grads, sgd),
        run_reference_sgd(param, grads, sgd),
        ("param", "momentum_buffer"),
        dtype,
        f"sgd size {size}",
    )
    adam = adam_configs()[-1]
    compare_trajectories(
        run_native_adam(param, grads, adam),
        run_reference_adam(param, grads, adam),
        ("param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
        dtype,
        f"adam size {size}",
    )


def test_thread_count_does_not_change_results():
    """Each element is updated independently, so 1 and 2 threads agree bitwise on a size large
    enough to be split."""
    param, grads = problem(np.float32, shape=(50_001,))
    sgd = NESTEROV_SGD
    adam = adam_configs()[-1]
    results = []
    for threads in (1, 2):
        with ember._runtime.num_threads(threads):
            results.append(
                (
                    run_native_sgd(param, grads[:3], sgd)[-1],
                    run_native_adam(param, grads[:3], adam)[-1],
                )
            )
    for a, b in zip(itertools.chain(*results[0]), itertools.chain(*results[1])):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decaying_state_is_flushed_to_zero_before_it_turns_subnormal(dtype):
    """Under a zero gradient the momentum buffer and Adam's averages decay geometrically; state
    below 256x the smallest normal is stored as zero (subnormal arithmetic is slow on x86), and
    everything larger follows the reference update exactly."""
    tiny = np.finfo(dtype).tiny
    state = np.array([1e-3, 300 * tiny, 200 * tiny, -100 * tiny, 0.5 * tiny, 0.0], dtype)
    zero_grad = np.zeros_like(state)

    param, buf = np.ones_like(state), state.copy()
    _C.sgd_step(param, zero_grad, buf, lr=0.1, momentum=0.9)
    expected = state * dtype(0.9)
    expected[np.abs(expected) < 256 * tiny] = 0
    np.testing.assert_array_equal(buf, expected)
    assert expected[0] != 0 and np.all(expected[2:] == 0)

    param, exp_avg, exp_avg_sq = np.ones_like(state), state.copy(), np.abs(state)
    _C.adam_step(param, zero_grad, exp_avg, exp_avg_sq, 3, lr=1e-3)
    assert exp_avg[0] != 0 and np.all(exp_avg[2:] == 0)
    assert exp_avg_sq[0] != 0 and np.all(exp_avg_sq[4:] == 0)
    assert np.all(np.isfinite(param))


def sgd_args(dtype=np.float32, n=5):
    return np.ones(n, dtype), np.ones(n, dtype), np.zeros(n, dtype)


def test_sgd_rejects_bad_input():
    p, g, buf = sgd_args()
    with pytest.raises(ValueError, match=r"\[sgd_step\] grad: expected 5 elements.*\(4,\)"):
        _C.sgd_step(p, np.ones(4, np.float32), lr=0.1)
    with pytest.raises(ValueError, match=r"\[sgd_step\] momentum_buffer: expected 5 elements"):
        _C.sgd_step(p, g, np.zeros(6, np.float32), lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match=r"\[sgd_step\] param and grad must share a dtype"):
        _C.sgd_step(p, g.astype(np.float64), lr=0.1)
    with pytest.raises(TypeError, match=r"\[sgd_step\] param and momentum_buffer must share"):
        _C.sgd_step(p, g, buf.astype(np.float64), lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match=r"\[sgd_step\] param: expected float32 or float64"):
        _C.sgd_step(p.astype(np.int32), g, lr=0.1)
    with pytest.raises(ValueError, match=r"\[sgd_step\] momentum_buffer is required"):
        _C.sgd_step(p, g, None, lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match=r"\[sgd_step\] momentum_buffer: expected a NumPy array"):
        _C.sgd_step(p, g, [0.0] * 5, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"\[sgd_step\] nesterov requires momentum > 0"):
        _C.sgd_step(p, g, buf, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"\[sgd_step\] nesterov requires .*dampening 0.5"):
        _C.sgd_step(p, g, buf, lr=0.1, momentum=0.9, dampening=0.5, nesterov=True)
    with pytest.raises(ValueError, match=r"\[sgd_step\] lr must be >= 0"):
        _C.sgd_step(p, g, lr=-0.1)
    with pytest.raises(ValueError, match=r"\[sgd_step\] momentum must be >= 0"):
        _C.sgd_step(p, g, buf, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match=r"\[sgd_step\] weight_decay must be >= 0"):
        _C.sgd_step(p, g, lr=0.1, weight_decay=float("nan"))
    with pytest.raises(ValueError, match=r"\[sgd_step\] param: expected a C-contiguous"):
        _C.sgd_step(np.ones(10, np.float32)[::2], g, lr=0.1)
    readonly = np.ones(5, np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match=r"\[sgd_step\] param: .*read-only"):
        _C.sgd_step(readonly, g, lr=0.1)
    with pytest.raises(ValueError, match=r"\[sgd_step\] param and momentum_buffer share memory"):
        _C.sgd_step(p, g, p, lr=0.1, momentum=0.9)
    with pytest.raises(TypeError):  # lr has no default
        _C.sgd_step(p, g)
    assert np.array_equal(p, np.ones(5, np.float32)), "a rejected step must not touch param"


def adam_args(dtype=np.float32, n=5):
    return np.ones(n, dtype), np.ones(n, dtype), np.zeros(n, dtype), np.zeros(n, dtype)


def test_adam_rejects_bad_input():
    p, g, m, v = adam_args()
    with pytest.raises(ValueError, match=r"\[adam_step\] exp_avg_sq: expected 5 elements"):
        _C.adam_step(p, g, m, np.zeros(3, np.float32), 1)
    with pytest.raises(ValueError, match=r"\[adam_step\] grad: expected 5 elements"):
        _C.adam_step(p, np.ones((2, 3), np.float32), m, v, 1)
    with pytest.raises(TypeError, match=r"\[adam_step\] param and exp_avg must share a dtype"):
        _C.adam_step(p, g, m.astype(np.float64), v, 1)
    with pytest.raises(ValueError, match=r"\[adam_step\] max_exp_avg_sq is required"):
        _C.adam_step(p, g, m, v, 1, amsgrad=True)
    with pytest.raises(ValueError, match=r"\[adam_step\] max_exp_avg_sq: expected 5 elements"):
        _C.adam_step(p, g, m, v, 1, amsgrad=True, max_exp_avg_sq=np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"\[adam_step\] step must be >= 1"):
        _C.adam_step(p, g, m, v, 0)
    with pytest.raises(ValueError, match=r"\[adam_step\] beta1 must be in \[0, 1\), got 1.0"):
        _C.adam_step(p, g, m, v, 1, beta1=1.0)
    with pytest.raises(ValueError, match=r"\[adam_step\] beta2 must be in \[0, 1\)"):
        _C.adam_step(p, g, m, v, 1, beta2=-0.1)
    with pytest.raises(ValueError, match=r"\[adam_step\] eps must be >= 0"):
        _C.adam_step(p, g, m, v, 1, eps=-1e-8)
    with pytest.raises(ValueError, match=r"\[adam_step\] weight_decay must be >= 0"):
        _C.adam_step(p, g, m, v, 1, weight_decay=-0.01)
    with pytest.raises(ValueError, match=r"\[adam_step\] exp_avg and exp_avg_sq share memory"):
        _C.adam_step(p, g, m, m, 1)
    with pytest.raises(ValueError, match=r"\[adam_step\] exp_avg: expected a C-contiguous"):
        _C.adam_step(p, g, np.zeros(10, np.float32)[::2], v, 1)
    assert np.array_equal(p, np.ones(5, np.float32)), "a rejected step must not touch param"
    assert not m.any() and not v.any(), "a rejected step must not touch the state"


# ---- sgd_step_many: one call for a whole parameter group -----------------------------------


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_step_many_matches_one_call_per_parameter(momentum, nesterov):
    rng = np.random.default_rng(5)
    sizes = [(np.float32, 7), (np.float64, 33), (np.float32, 70_000)]  # dtypes mix; one threads
    params = [rng.standard_normal(n).astype(dt) for dt, n in sizes]
    grads = [rng.standard_normal(n).astype(dt) for dt, n in sizes]
    bufs = [rng.standard_normal(n).astype(dt) for dt, n in sizes]
    cfg = dict(lr=0.05, momentum=momentum, dampening=0.0, weight_decay=0.01, nesterov=nesterov)
    one = [p.copy() for p in params], [b.copy() for b in bufs]
    for p, g, b in zip(*one[:1], grads, one[1]):
        _C.sgd_step(p, g, b if momentum else None, **cfg)
    many = [p.copy() for p in params], [b.copy() for b in bufs]
    _C.sgd_step_many(many[0], grads, many[1] if momentum else [None] * 3, **cfg)
    for a, b in zip(one[0] + one[1], many[0] + many[1]):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_sgd_step_many_checks_every_parameter_before_updating_any():
    params = [np.ones(4, np.float32), np.ones(5, np.float32)]
    grads = [np.ones(4, np.float32), np.ones(6, np.float32)]  # the second does not fit
    with pytest.raises(
        ValueError, match=r"\[sgd_step_many\] grad: expected 5 elements.*\(parameter 1\)"
    ):
        _C.sgd_step_many(params, grads, [None, None], lr=0.1)
    assert all(np.all(p == 1) for p in params)


def test_sgd_step_many_rejects_bad_input():
    p, g, buf = sgd_args()
    with pytest.raises(ValueError, match=r"\[sgd_step_many\] .*one length, got 1, 2 and 1"):
        _C.sgd_step_many([p], [g, g], [buf], lr=0.1)
    with pytest.raises(TypeError, match=r"\[sgd_step_many\] grads\[0\]: expected a NumPy array"):
        _C.sgd_step_many([p], [[1.0] * 5], [buf], lr=0.1)
    with pytest.raises(ValueError, match=r"\[sgd_step_many\] momentum_buffer is required"):
        _C.sgd_step_many([p], [g], [None], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"\[sgd_step_many\] lr must be >= 0"):
        _C.sgd_step_many([p], [g], [buf], lr=-1.0)
    with pytest.raises(
        ValueError, match=r"\[sgd_step_many\] param and momentum_buffer share.*\(parameter 0\)"
    ):
        _C.sgd_step_many([p], [g], [p], lr=0.1, momentum=0.9)
