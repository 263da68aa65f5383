"""ember.training: fit / evaluate / predict, History, progress output, epoch metrics, and an
end-to-end run on real data."""

import gc
import itertools
import weakref
from pathlib import Path

import numpy as np
import pytest
from training_helpers import digits_loaders, digits_split, mlp

import ember
from ember import metrics, nn, optim
from ember._runtime import num_threads
from ember.autograd.function import AccumulateGrad, Node
from ember.data import DataLoader, TensorDataset
from ember.training import History, evaluate, fit, predict

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """What is tested here does not depend on the kernels' threading, and on a busy shared
    machine OpenMP threads waiting for each other make these small steps many times slower."""
    with num_threads(1):
        yield


def sgd(model, lr=0.1):
    return optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def test_fit_on_a_dataloader_reduces_the_loss_on_real_digits():
    train, test = digits_loaders()
    model = mlp()
    before = evaluate(model, test, nn.CrossEntropyLoss())
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        sgd(model),
        epochs=5,
        val_data=test,
        metrics=["accuracy"],
        verbose=0,
    )
    losses = history["loss"]
    assert len(losses) == 5
    assert all(b < a for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < 0.25 * losses[0]
    assert history["val_loss"][-1] < 0.2 * before["loss"]
    assert history["val_accuracy"][-1] >= 0.9 > before["accuracy"]


def test_fit_accepts_an_x_y_pair_and_reshuffles_it_every_epoch():
    x, y, _, _ = digits_split()
    seen = []

    def record(model_input):
        seen.append(model_input.numpy()[:3].copy())

    model = mlp()
    handle = model.register_forward_pre_hook(lambda module, args: record(args[0]))
    ember.manual_seed(5)
    history = fit(
        model, (x, y), nn.CrossEntropyLoss(), sgd(model), epochs=2, batch_size=100, verbose=0
    )
    handle.remove()
    assert len(history.epoch) == 2
    assert len(seen) == 2 * 6  # 600 samples in batches of 100, twice
    assert not np.array_equal(seen[0], seen[6])  # another order in the second epoch


def test_history_holds_plain_floats_and_no_graph_survives_fit():
    """Nothing of a batch's graph outlives its step: fit keeps floats, not Tensors."""
    train, test = digits_loaders()
    model = mlp()
    loss_fn = nn.CrossEntropyLoss()
    graph_nodes = []

    def watched_loss(out, y):
        loss = loss_fn(out, y)
        if ember.is_grad_enabled():  # training, not validation
            graph_nodes.append(weakref.ref(loss.grad_fn))
            graph_nodes.append(weakref.ref(out.grad_fn))
        return loss

    def live_graph_nodes():
        return sum(
            # issubclass on the type: isinstance would ask torch's lazy modules, which warn
            issubclass(type(o), Node) and not issubclass(type(o), AccumulateGrad)
            for o in gc.get_objects()
        )

    gc.collect()
    nodes_before = live_graph_nodes()
    history = fit(
        model,
        train,
        watched_loss,
        sgd(model),
        epochs=2,
        val_data=test,
        metrics=["accuracy", "f1"],
        verbose=0,
    )
    assert len(graph_nodes) == 2 * 2 * len(train)
    assert all(ref() is None for ref in graph_nodes)  # freed by reference counting alone
    gc.collect()
    assert live_graph_nodes() == nodes_before
    assert isinstance(history, History)
    assert set(history.history) == {"loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1"}
    for values in history.history.values():
        assert len(values) == 2
        assert all(type(v) is float for v in values)
    assert history.epoch == [0, 1]
    assert history["loss"] is history.history["loss"]
    assert "val_f1" in history and "val_recall" not in history
    assert repr(history).startswith("History(epochs=2, last: loss=")


def test_val_metrics_equal_ember_metrics_on_predict_output():
    train, test = digits_loaders()
    model = mlp()
    names = ["accuracy", "precision", "recall", "f1"]
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        sgd(model, lr=0.02),
        epochs=2,
        val_data=test,
        metrics=names,
        verbose=0,
    )
    x_test, y_test = test.dataset.tensors
    scores = predict(model, x_test)
    expected = {
        "accuracy": metrics.accuracy(y_test, scores),
        "precision": metrics.precision(y_test, scores, average="macro"),
        "recall": metrics.recall(y_test, scores, average="macro"),
        "f1": metrics.f1_score(y_test, scores, average="macro"),
    }
    for name in names:
        assert history[f"val_{name}"][-1] == pytest.approx(expected[name], abs=1e-12), name
    assert len(set(expected.values())) == 4  # four different numbers were compared
    result = evaluate(model, test, nn.CrossEntropyLoss(), metrics=names)
    for name in names:
        assert result[name] == pytest.approx(expected[name], abs=1e-12)
    losses = [nn.functional.cross_entropy(model(x), y).item() * len(x) for x, y in test]
    assert result["loss"] == pytest.approx(sum(losses) / len(x_test), rel=1e-6)


def test_training_metrics_are_over_the_epochs_outputs():
    """With lr=0 the weights never move, so the training metrics must equal those of
    predict() on the training set, and the training loss the mean loss over it."""
    x, y, _, _ = digits_split(n_train=250)
    model = mlp()
    history = fit(
        model,
        (x, y),
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.0),
        epochs=1,
        batch_size=32,
        metrics=["accuracy", "f1", "recall"],
        verbose=0,
    )
    scores = predict(model, x)
    assert history["accuracy"][0] == pytest.approx(metrics.accuracy(y, scores), abs=1e-12)
    assert history["f1"][0] == pytest.approx(
        metrics.f1_score(y, scores, average="macro"), abs=1e-12
    )
    assert history["recall"][0] == pytest.approx(
        metrics.recall(y, scores, average="macro"), abs=1e-12
    )
    assert history["loss"][0] == pytest.approx(
        nn.functional.cross_entropy(scores, y).item(), rel=1e-5
    )


def test_binary_metrics_threshold_one_logit_at_zero():
    x, y = ember.datasets.two_moons(400, noise=0.15, seed=1)
    target = y.float().reshape(-1, 1)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    history = fit(
        model,
        (x, target),
        nn.BCEWithLogitsLoss(),
        optim.Adam(model.parameters(), lr=0.02),
        epochs=3,
        val_data=(x, target),
        metrics=["accuracy", "precision", "recall", "f1"],
        verbose=0,
    )
    logits = predict(model, x).reshape(-1)
    for name, fn in [
        ("accuracy", metrics.accuracy),
        ("precision", metrics.precision),
        ("recall", metrics.recall),
        ("f1", metrics.f1_score),
    ]:
        assert history[f"val_{name}"][-1] == pytest.approx(
            fn(y, logits, threshold=0.0), abs=1e-12
        ), name
    assert 0.7 < history["val_accuracy"][-1] < 1.0
    assert history["val_precision"][-1] != history["val_recall"][-1]


def test_a_callable_metric_gets_targets_and_outputs():
    x, y, _, _ = digits_split(n_train=100)

    def top2(y_true, outputs):
        top = np.argsort(outputs, axis=1)[:, -2:]
        return float(np.mean((top == y_true[:, None]).any(axis=1)))

    model = mlp()
    history = fit(
        model,
        (x, y),
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.0),
        epochs=1,
        val_data=(x, y),
        metrics=[top2, "accuracy"],
        verbose=0,
    )
    assert history["val_top2"][0] == pytest.approx(top2(y.numpy(), predict(model, x).numpy()))
    assert history["val_top2"][0] > history["val_accuracy"][0]


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_progress_output_per_verbosity(capsys, verbose):
    x, y, x_val, y_val = digits_split(n_train=320)
    model = mlp()
    fit(
        model,
        (x, y),
        nn.CrossEntropyLoss(),
        sgd(model),
        epochs=3,
        batch_size=16,
        val_data=(x_val, y_val),
        metrics=["accuracy"],
        verbose=verbose,
    )
    lines = capsys.readouterr().out.splitlines()
    if verbose == 0:
        assert lines == []
        return
    finals = [line for line in lines if "val_loss" in line]
    assert [line.split()[:2] for line in finals] == [["epoch", f"{e}/3"] for e in (1, 2, 3)]
    for line in finals:
        assert "20/20" in line and " loss " in line and "val_accuracy" in line
    # One line per epoch, nothing else: verbose=2 always; verbose=1 too when, as here, the output
    # is not a terminal and the epochs are shorter than the progress bar's plain-line interval.
    assert lines == finals


def test_evaluate_and_predict_use_eval_mode_and_restore_the_previous_one():
    x, y, _, _ = digits_split(n_train=64)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Dropout(0.5), nn.Linear(32, 10))
    model.train()
    first = predict(model, x, batch_size=10).numpy()
    assert model.training
    assert np.array_equal(first, predict(model, x, batch_size=10).numpy())  # no dropout
    model.eval()
    with ember.no_grad():
        direct = model(x).numpy()
    # batches of 10 against one of 64: the GEMM may sum in another order, so not bit-equal
    np.testing.assert_allclose(first, direct, rtol=1e-5, atol=1e-6)
    model.train()
    with ember.no_grad():
        dropped = model(x).numpy()
    assert np.abs(dropped - direct).max() > 0.1  # dropout would have shown
    model.eval()
    evaluate(model, (x, y), nn.CrossEntropyLoss())
    assert not model.training
    out = predict(model, DataLoader(TensorDataset(x, y), batch_size=7))
    assert out.shape == (64, 10) and not out.requires_grad


def test_bad_input_is_reported_clearly():
    x, y, _, _ = digits_split(n_train=20)
    model = mlp()
    opt = sgd(model)
    loss = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="epochs"):
        fit(model, (x, y), loss, opt, epochs=-1)
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        fit(model, (x, y), loss, opt, metrics=["acc"])
    with pytest.raises(TypeError, match=r"\(inputs, targets\) pair"):
        fit(model, [(x, y, y)], loss, opt, verbose=0)
    with pytest.raises(TypeError, match="single array"):
        fit(model, x, loss, opt, verbose=0)
    batches = iter([(x, y)])
    with pytest.raises(ValueError, match="no batches.*exhausted"):
        fit(model, batches, loss, opt, epochs=2, verbose=0)
    with pytest.raises(ValueError, match="nothing to compute"):
        evaluate(model, (x, y), metrics=())


def test_fit_with_zero_epochs_changes_nothing():
    x, y, _, _ = digits_split(n_train=20)
    model = mlp()
    before = model.state_dict()["0.weight"].numpy().copy()
    history = fit(model, (x, y), nn.CrossEntropyLoss(), sgd(model), epochs=0)
    assert history.epoch == [] and history.history == {}
    assert np.array_equal(model.state_dict()["0.weight"].numpy(), before)


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="History.plot needs matplotlib (optional)")
    history = History()
    for epoch, (loss, acc) in enumerate([(1.0, 0.5), (0.6, 0.7), (0.4, 0.8)]):
        history.append(
            epoch,
            {
                "loss": loss,
                "accuracy": acc,
                "val_loss": loss + 0.1,
                "val_accuracy": acc - 0.05,
                "lr": 0.1,
            },
        )
    path = history.plot(tmp_path / "curves.png")
    assert path == tmp_path / "curves.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000


def test_history_plot_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    history = History()
    history.append(0, {"loss": 1.0})
    with pytest.raises(ImportError, match="pip install matplotlib"):
        history.plot(tmp_path / "x.png")


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"MNIST not found at {MNIST_DIR}")
def test_end_to_end_mnist_subset():
    """5,000 real MNIST training images, 4 epochs of a 784-128-10 MLP: >= 91% on the 10,000
    test images (seeds 0, 1, 2 reach 92.8%, 93.6%, 92.8%)."""
    from ember.datasets import MNIST, transforms

    train_set, test_set = MNIST(MNIST_DIR, train=True), MNIST(MNIST_DIR, train=False)
    x, y = train_set.tensors()
    normalize = transforms.Normalize(0.1307, 0.3081)
    train = DataLoader(
        TensorDataset(x[:5000], y[:5000]), batch_size=32, shuffle=True, seed=0, transform=normalize
    )
    test = DataLoader(test_set, batch_size=500, transform=normalize)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        sgd(model, lr=0.02),
        epochs=4,
        val_data=test,
        metrics=["accuracy"],
        verbose=0,
    )
    assert history["val_accuracy"][-1] >= 0.91
    assert history["loss"][-1] < 0.5 * history["loss"][0]
