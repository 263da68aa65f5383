"""ember.nn modules: every layer and loss against torch.nn with identical weights (forward, input
gradient, every parameter gradient, buffers) in float64 and float32; random small networks end
to end; BatchNorm running statistics; Dropout behaviour; Sequential/ModuleList."""

from __future__ import annotations

import numpy as np
import pytest
from nn_torch import (
    TORCH_REPR_MATCHES,
    close,
    compare_module,
    copy_state,
    requires_torch,
    to_torch,
    torch,
)

import ember
import ember.nn as nn

if torch is not None:
    import torch.nn as tnn

# (id, ember factory, torch factory, input shapes)
LAYERS = [
    ("linear", lambda: nn.Linear(7, 5), lambda: tnn.Linear(7, 5), [(4, 7)]),
    ("linear-batch1", lambda: nn.Linear(3, 1), lambda: tnn.Linear(3, 1), [(1, 3)]),
    (
        "linear-nobias-3d",
        lambda: nn.Linear(6, 4, bias=False),
        lambda: tnn.Linear(6, 4, bias=False),
        [(2, 3, 6)],
    ),
    ("conv", lambda: nn.Conv2d(3, 4, 3), lambda: tnn.Conv2d(3, 4, 3), [(2, 3, 7, 6)]),
    (
        "conv-stride-pad",
        lambda: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2)),
        lambda: tnn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2)),
        [(2, 2, 9, 7)],
    ),
    (
        "conv-dilation-groups",
        lambda: nn.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False),
        lambda: tnn.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False),
        [(1, 4, 9, 8)],
    ),
    (
        "conv-same-even",
        lambda: nn.Conv2d(2, 3, (4, 3), padding="same"),
        lambda: tnn.Conv2d(2, 3, (4, 3), padding="same"),
        [(2, 2, 7, 6)],
    ),
    (
        "conv-valid",
        lambda: nn.Conv2d(2, 2, 2, padding="valid"),
        lambda: tnn.Conv2d(2, 2, 2, padding="valid"),
        [(1, 2, 5, 5)],
    ),
    ("maxpool", lambda: nn.MaxPool2d(2), lambda: tnn.MaxPool2d(2), [(2, 3, 7, 6)]),
    (
        "maxpool-stride-pad",
        lambda: nn.MaxPool2d(3, stride=2, padding=1),
        lambda: tnn.MaxPool2d(3, stride=2, padding=1),
        [(2, 2, 9, 8)],
    ),
    ("avgpool", lambda: nn.AvgPool2d(2), lambda: tnn.AvgPool2d(2), [(2, 3, 6, 7)]),
    (
        "avgpool-pad-exclude",
        lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        lambda: tnn.AvgPool2d(3, 2, 1, count_include_pad=False),
        [(2, 2, 7, 8)],
    ),
    ("batchnorm1d", lambda: nn.BatchNorm1d(5), lambda: tnn.BatchNorm1d(5), [(6, 5)]),
    (
        "batchnorm1d-3d",
        lambda: nn.BatchNorm1d(3, momentum=0.3),
        lambda: tnn.BatchNorm1d(3, momentum=0.3),
        [(4, 3, 5)],
    ),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), [(2, 3, 4, 5)]),
    ("flatten", lambda: nn.Flatten(), lambda: tnn.Flatten(), [(2, 3, 4, 5)]),
    ("flatten-range", lambda: nn.Flatten(0, 2), lambda: tnn.Flatten(0, 2), [(2, 3, 4, 5)]),
    ("relu", lambda: nn.ReLU(), lambda: tnn.ReLU(), [(3, 7)]),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), lambda: tnn.LeakyReLU(0.2), [(3, 7)]),
    ("sigmoid", lambda: nn.Sigmoid(), lambda: tnn.Sigmoid(), [(3, 7)]),
    ("tanh", lambda: nn.Tanh(), lambda: tnn.Tanh(), [(3, 7)]),
    ("gelu", lambda: nn.GELU(), lambda: tnn.GELU(), [(3, 7)]),
    ("gelu-tanh", lambda: nn.GELU("tanh"), lambda: tnn.GELU("tanh"), [(3, 7)]),
    ("softmax-1", lambda: nn.Softmax(1), lambda: tnn.Softmax(1), [(2, 5, 3)]),
    ("softmax-last", lambda: nn.Softmax(-1), lambda: tnn.Softmax(-1), [(4, 6)]),
    ("log_softmax-0", lambda: nn.LogSoftmax(0), lambda: tnn.LogSoftmax(0), [(5, 3)]),
    ("log_softmax-last", lambda: nn.LogSoftmax(-1), lambda: tnn.LogSoftmax(-1), [(2, 3, 4)]),
    ("identity", lambda: nn.Identity(3, k=1), lambda: tnn.Identity(3, k=1), [(2, 3)]),
]


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # torch's, on even kernels
@pytest.mark.parametrize("case", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(case, dtype):
    name, make_ours, make_theirs, shapes = case
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(s) for s in shapes]
    compare_module(make_ours(), make_theirs(), inputs, dtype, rng, name)


@requires_torch
@pytest.mark.parametrize("bn", ["1d", "2d"])
def test_batchnorm_running_stats_over_steps_then_eval(bn, dtype):
    rng = np.random.default_rng(1)
    ours = nn.BatchNorm1d(4) if bn == "1d" else nn.BatchNorm2d(4)
    theirs = tnn.BatchNorm1d(4) if bn == "1d" else tnn.BatchNorm2d(4)
    shape = (8, 4) if bn == "1d" else (3, 4, 5, 2)
    # Non-trivial affine parameters, so eval exercises them too.
    nn.init.uniform_(ours.weight, 0.5, 1.5)
    nn.init.uniform_(ours.bias, -0.5, 0.5)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        compare_module(ours, theirs, [x], dtype, rng, f"train step {step}")
        ours.zero_grad()
        theirs.zero_grad()
    assert int(ours.num_batches_tracked.item()) == 4
    close(ours.running_mean, theirs.running_mean, dtype, "running_mean")
    close(ours.running_var, theirs.running_var, dtype, "running_var")
    ours.eval()
    theirs.eval()
    compare_module(ours, theirs, [rng.standard_normal(shape)], dtype, rng, "eval")


@requires_torch
def test_batchnorm_cumulative_average_and_no_tracking():
    rng = np.random.default_rng(2)
    for kwargs in (dict(momentum=None), dict(track_running_stats=False), dict(affine=False)):
        ours, theirs = nn.BatchNorm1d(3, **kwargs).double(), tnn.BatchNorm1d(3, **kwargs).double()
        for step in range(3):
            x = rng.standard_normal((5, 3)) + step
            if kwargs.get("affine", True):
                compare_module(ours, theirs, [x], np.float64, rng, f"{kwargs} step {step}")
            else:
                close(ours(ember.tensor(x)), theirs(torch.tensor(x)), np.float64, f"{kwargs}")
        ours.eval()
        theirs.eval()
        x = rng.standard_normal((5, 3))
        close(ours(ember.tensor(x)), theirs(torch.tensor(x)), np.float64, f"{kwargs} eval")


def test_batchnorm_rejects_wrong_rank_and_single_value_batches():
    with pytest.raises(ValueError, match=r"\[BatchNorm2d\] expected input of shape \(N, C, H, W\)"):
        nn.BatchNorm2d(3)(ember.zeros(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(ember.zeros(1, 3))


# ---- losses --------------------------------------------------------------------------------


def _losses():
    w = np.array([0.3, 1.0, 2.0, 0.7])
    return [
        ("mse", lambda: nn.MSELoss(), lambda: tnn.MSELoss(), "float"),
        (
            "mse-sum",
            lambda: nn.MSELoss(reduction="sum"),
            lambda: tnn.MSELoss(reduction="sum"),
            "float",
        ),
        (
            "mse-none",
            lambda: nn.MSELoss(reduction="none"),
            lambda: tnn.MSELoss(reduction="none"),
            "float",
        ),
        ("bce", lambda: nn.BCELoss(), lambda: tnn.BCELoss(), "prob"),
        (
            "bce-weight-sum",
            lambda: nn.BCELoss(ember.tensor(w), reduction="sum"),
            lambda: tnn.BCELoss(torch.tensor(w), reduction="sum"),
            "prob",
        ),
        ("bce-logits", lambda: nn.BCEWithLogitsLoss(), lambda: tnn.BCEWithLogitsLoss(), "float"),
        (
            "bce-logits-posweight",
            lambda: nn.BCEWithLogitsLoss(pos_weight=ember.tensor(w)),
            lambda: tnn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)),
            "float",
        ),
        (
            "bce-logits-weight-none",
            lambda: nn.BCEWithLogitsLoss(ember.tensor(w), reduction="none"),
            lambda: tnn.BCEWithLogitsLoss(torch.tensor(w), reduction="none"),
            "float",
        ),
        ("ce", lambda: nn.CrossEntropyLoss(), lambda: tnn.CrossEntropyLoss(), "class"),
        (
            "ce-all-options",
            lambda: nn.CrossEntropyLoss(ember.tensor(w), ignore_index=2, label_smoothing=0.1),
            lambda: tnn.CrossEntropyLoss(torch.tensor(w), ignore_index=2, label_smoothing=0.1),
            "class",
        ),
        (
            "ce-sum",
            lambda: nn.CrossEntropyLoss(reduction="sum"),
            lambda: tnn.CrossEntropyLoss(reduction="sum"),
            "class",
        ),
        (
            "ce-none",
            lambda: nn.CrossEntropyLoss(reduction="none"),
            lambda: tnn.CrossEntropyLoss(reduction="none"),
            "class",
        ),
        ("nll", lambda: nn.NLLLoss(), lambda: tnn.NLLLoss(), "class"),
        (
            "nll-weight-ignore",
            lambda: nn.NLLLoss(ember.tensor(w), ignore_index=1),
            lambda: tnn.NLLLoss(torch.tensor(w), ignore_index=1),
            "class",
        ),
        (
            "nll-none",
            lambda: nn.NLLLoss(reduction="none"),
            lambda: tnn.NLLLoss(reduction="none"),
            "class",
        ),
    ]


LOSSES = _losses() if torch is not None else []


@requires_torch
@pytest.mark.parametrize("case", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_matches_torch(case, dtype):
    name, make_ours, make_theirs, kind = case
    rng = np.random.default_rng(3)
    n, c = 6, 4
    x = rng.standard_normal((n, c))
    if kind == "class":
        target = ember.tensor(rng.integers(0, c, n))
        target._data[:2] = [1, 2]  # make sure the ignored classes occur
    elif kind == "prob":
        x = rng.uniform(0.05, 0.95, (n, c))
        target = ember.tensor(rng.uniform(0, 1, (n, c)).astype(dtype))
    else:
        target = ember.tensor(rng.uniform(0, 1, (n, c)).astype(dtype))
    ours, theirs = make_ours().to(dtype), make_theirs()
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    xe = ember.tensor(x.astype(dtype), requires_grad=True)
    xt = to_torch(xe, requires_grad=True)
    loss = ours(xe, target)
    tloss = theirs(xt, to_torch(target))
    close(loss, tloss, dtype, f"{name}: forward")
    g = rng.standard_normal(tuple(loss.shape)).astype(dtype)
    loss.backward(ember.tensor(g))
    tloss.backward(torch.from_numpy(g))
    close(xe.grad, xt.grad, dtype, f"{name}: grad of input")
    assert np.any(xe.grad.numpy() != 0)


def test_loss_reduction_is_validated():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


# ---- networks end to end ---------------------------------------------------------------------


def _random_network(rng, lib):
    """A small CNN whose layout is drawn from rng; the same draws build ember's and torch's."""
    c1, c2 = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    k = int(rng.integers(2, 4))
    pool = lib.MaxPool2d(2) if rng.integers(2) else lib.AvgPool2d(2)
    act = lib.ReLU() if rng.integers(2) else lib.LeakyReLU(0.1)
    hidden = int(rng.integers(3, 9))
    return lib.Sequential(
        lib.Conv2d(2, c1, k, padding=1),
        lib.BatchNorm2d(c1),
        act,
        pool,
        lib.Conv2d(c1, c2, 3, padding=1, bias=False),
        lib.BatchNorm2d(c2),
        lib.ReLU(),
        lib.Flatten(),
        lib.Dropout(0.3),
        lib.Linear(c2 * ((10 + 3 - k) // 2) ** 2, hidden),
        lib.Tanh(),
        lib.Linear(hidden, 3),
    )


@requires_torch
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_network_matches_torch(seed, dtype):
    layout = np.random.default_rng(seed).integers(0, 2**31)
    ours = _random_network(np.random.default_rng(layout), nn)
    theirs = _random_network(np.random.default_rng(layout), tnn)
    if TORCH_REPR_MATCHES:
        assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(seed + 100)
    x = rng.standard_normal((3, 2, 10, 10))
    # Training mode for BatchNorm (batch statistics, running updates); Dropout in eval.
    ours.train()
    theirs.train()
    ours[8].eval()
    theirs[8].eval()
    compare_module(ours, theirs, [x], dtype, rng, f"network {seed} (train)")
    ours.zero_grad()
    theirs.zero_grad()
    ours.eval()
    theirs.eval()
    compare_module(ours, theirs, [x], dtype, rng, f"network {seed} (eval)")


@requires_torch
def test_classifier_loss_gradients_match_torch():
    rng = np.random.default_rng(5)
    ours = nn.Sequential(nn.Linear(10, 16), nn.GELU(), nn.Linear(16, 4), nn.LogSoftmax(1))
    theirs = tnn.Sequential(tnn.Linear(10, 16), tnn.GELU(), tnn.Linear(16, 4), tnn.LogSoftmax(1))
    ours.double()
    theirs.double()
    copy_state(ours, theirs)
    x = rng.standard_normal((8, 10))
    y = rng.integers(0, 4, 8)
    loss = nn.NLLLoss()(ours(ember.tensor(x)), ember.tensor(y))
    tloss = tnn.NLLLoss()(theirs(torch.tensor(x)), torch.tensor(y))
    loss.backward()
    tloss.backward()
    close(loss, tloss, np.float64, "loss")
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        close(p.grad, tp.grad, np.float64, name)


# ---- dropout ---------------------------------------------------------------------------------


def test_dropout_is_identity_in_eval():
    m = nn.Dropout(0.5).eval()
    x = ember.randn(4, 5)
    assert m(x) is x


def test_dropout_keep_rate_scaling_and_gradient():
    p = 0.3
    m = nn.Dropout(p)
    x = ember.ones(200, 250, requires_grad=True)
    y = m(x)
    values = y.detach().numpy()
    kept = values != 0
    n = kept.size
    # Binomial(n, 1 - p): a 5-sigma band around the expected keep rate.
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(values[kept], 1 / (1 - p), rtol=1e-6)
    y.backward(ember.ones(200, 250))
    np.testing.assert_array_equal(x.grad.numpy(), values)  # same mask, same scale


def test_dropout_reproducible_under_manual_seed():
    x = ember.ones(64, 33)
    ember.manual_seed(123)
    a = nn.Dropout(0.5)(x).numpy()
    b = nn.Dropout(0.5)(x).numpy()
    ember.manual_seed(123)
    a2 = nn.Dropout(0.5)(x).numpy()
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a, b)  # the stream advances between calls


def test_dropout_extremes_and_validation():
    x = ember.randn(3, 4)
    assert nn.Dropout(0.0)(x) is x
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ---- containers ------------------------------------------------------------------------------


def test_sequential_indexing_slicing_and_mutation():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Tanh()]
    s = nn.Sequential(*layers)
    assert len(s) == 4 and s[0] is layers[0] and s[-1] is layers[3]
    head = s[1:3]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:3]
    assert [n for n, _ in head.named_children()] == ["1", "2"]
    s.append(nn.Sigmoid())
    assert len(s) == 5 and isinstance(s[4], nn.Sigmoid)
    del s[1]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2", "3"]
    assert s[1] is layers[2]
    assert not hasattr(s, "4")
    with pytest.raises(IndexError):
        s[7]
    y = s(ember.randn(5, 2))
    assert y.shape == (5, 4)


def test_module_list_and_dict_register_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1)})

        def forward(self, x):
            for b in self.blocks:
                x = b(x)
            return self.heads["a"](x)

    net = Net()
    assert len(list(net.parameters())) == 8
    assert net(ember.randn(3, 2)).shape == (3, 1)
    net.blocks.insert(0, nn.Identity())
    assert [type(m).__name__ for m in net.blocks] == ["Identity", "Linear", "Linear", "Linear"]
    assert isinstance(net.blocks[1:], nn.ModuleList) and len(net.blocks[1:]) == 3


@requires_torch
@pytest.mark.skipif(not TORCH_REPR_MATCHES, reason="this torch's BatchNorm repr has no bias flag")
def test_repr_matches_torch():
    def build(lib):
        class Net(lib.Module):
            def __init__(self):
                super().__init__()
                self.features = lib.Sequential(
                    lib.Conv2d(1, 8, 3, padding=1),
                    lib.BatchNorm2d(8),
                    lib.ReLU(inplace=True),
                    lib.MaxPool2d(2),
                    lib.Conv2d(8, 4, (3, 5), stride=2, padding=1, dilation=2, groups=4, bias=False),
                    lib.AvgPool2d(2, stride=1, padding=1),
                    lib.Dropout(0.25),
                )
                self.blocks = lib.ModuleList(
                    [lib.Linear(4, 4) for _ in range(3)] + [lib.Linear(4, 2, bias=False)]
                )
                self.head = lib.Sequential(
                    lib.Flatten(),
                    lib.Linear(784, 256),
                    lib.LeakyReLU(),
                    lib.GELU("tanh"),
                    lib.Sigmoid(),
                    lib.Tanh(),
                    lib.Softmax(dim=1),
                    lib.LogSoftmax(-1),
                    lib.BatchNorm1d(256, momentum=None, affine=False),
                    lib.Identity(),
                )
                self.loss = lib.CrossEntropyLoss(label_smoothing=0.1)
                self.empty = lib.ModuleList()

        return Net()

    assert repr(build(nn)) == repr(build(tnn))
    assert repr(nn.Linear(784, 256)) == "Linear(in_features=784, out_features=256, bias=True)"
    assert repr(nn.Conv2d(3, 8, 3, padding="same")) == repr(tnn.Conv2d(3, 8, 3, padding="same"))


@requires_torch
def test_parameter_repr_matches_torch():
    ours = repr(nn.Parameter(ember.tensor([1.0, 2.0])))
    theirs = repr(tnn.Parameter(torch.tensor([1.0, 2.0])))
    assert ours == theirs


# ---- summary ---------------------------------------------------------------------------------


def test_summary_shapes_and_counts():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 14 * 14, 10),
    )
    model[1].weight.requires_grad_(False)
    model.train()
    before = model.state_dict()
    before = {k: v.numpy().copy() for k, v in before.items()}
    s = nn.summary(model, (2, 1, 28, 28))
    shapes = [r.output_shape for r in s.rows]
    assert shapes == [
        (2, 10),
        (2, 4, 28, 28),
        (2, 4, 28, 28),
        (2, 4, 28, 28),
        (2, 4, 14, 14),
        (2, 784),
        (2, 10),
    ]
    assert [r.num_params for r in s.rows] == [40 + 8 + 7850, 40, 8, 0, 0, 0, 7850]
    assert s.total_params == 7898 and s.trainable_params == 7898 - 4
    assert s.non_trainable_params == 4
    text = str(s)
    assert "Total params: 7,898" in text and "Trainable params: 7,894" in text
    assert "1 (BatchNorm2d)" in text and "(2, 4, 14, 14)" in text
    # Modes restored, running statistics untouched, hooks removed.
    assert all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert all(not m._forward_hooks for m in model.modules())


def test_summary_marks_modules_not_run():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(3, 2)
            self.unused = nn.Linear(3, 3)

        def forward(self, x):
            return self.used(x)

    s = nn.summary(Net(), (4, 3))
    assert [r.output_shape for r in s.rows] == [(4, 2), (4, 2), None]
    assert "--" in str(s)
