"""ember.data: datasets, the DataLoader (batching, shuffling, the gather fast path, threaded
prefetch) and the splits."""

import gc
import queue
import threading
import types

import numpy as np
import pytest

import ember
import ember.data.prefetch as prefetch_module
from ember.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    train_test_split,
)


def labels_of(loader):
    """Concatenated second field of every batch, as NumPy."""
    return np.concatenate([y.numpy() for _, y in loader])


def counting_dataset(n):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return TensorDataset(ember.from_numpy(x), ember.from_numpy(np.arange(n, dtype=np.int64)))


class ListDataset(Dataset):
    """A generic dataset (no gather): sample i is (vector, label) built in Python."""

    def __init__(self, n, fail_at=None):
        self.n, self.fail_at, self.reads = n, fail_at, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.reads += 1
        if i == self.fail_at:
            raise RuntimeError(f"cannot read sample {i}")
        return np.full(2, i, dtype=np.float32), i


# ---------------------------------------------------------------- datasets


def test_tensor_dataset_indexes_every_tensor():
    x, y = np.arange(12.0).reshape(4, 3), np.array([5, 6, 7, 8])
    ds = TensorDataset(ember.from_numpy(x), ember.from_numpy(y))
    assert len(ds) == 4
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi.numpy(), x[2])
    assert yi.numpy() == 7
    np.testing.assert_array_equal(ds[-1][0].numpy(), x[3])
    with pytest.raises(IndexError, match="out of range"):
        ds[4]


def test_tensor_dataset_accepts_numpy_arrays():
    ds = TensorDataset(np.zeros((3, 2)), np.arange(3))
    np.testing.assert_array_equal(ds[1][1].numpy(), 1)


def test_tensor_dataset_rejects_different_first_dims():
    with pytest.raises(ValueError, match=r"same size in their first dim.*\(4, 3\), \(5,\)"):
        TensorDataset(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


def test_subset_maps_indices():
    sub = Subset(counting_dataset(10), [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][1].numpy() == 7 and sub[2][1].numpy() == 5
    with pytest.raises(IndexError):
        Subset(counting_dataset(3), [0, 3])


# ---------------------------------------------------------------- batching


@pytest.mark.parametrize(
    "n, batch_size, drop_last, expected",
    [
        (10, 3, False, 4),
        (10, 3, True, 3),
        (9, 3, False, 3),
        (9, 3, True, 3),
        (2, 5, True, 0),
        (1, 1, False, 1),
    ],
)
def test_len_is_the_number_of_batches(n, batch_size, drop_last, expected):
    loader = DataLoader(counting_dataset(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == expected
    sizes = [len(y.numpy()) for _, y in loader]
    assert len(sizes) == expected
    assert all(s == batch_size for s in sizes[: n // batch_size])


def test_unshuffled_batches_come_in_order_with_a_short_last_one():
    loader = DataLoader(counting_dataset(7), batch_size=3)
    batches = list(loader)
    np.testing.assert_array_equal(batches[0][0].numpy(), np.arange(9).reshape(3, 3))
    np.testing.assert_array_equal(batches[2][1].numpy(), [6])
    assert batches[0][0].numpy().dtype == np.float32 and batches[0][1].numpy().dtype == np.int64


def test_shuffled_epochs_visit_every_sample_once_in_new_orders():
    loader = DataLoader(counting_dataset(50), batch_size=8, shuffle=True, seed=3)
    first, second = labels_of(loader), labels_of(loader)
    np.testing.assert_array_equal(np.sort(first), np.arange(50))
    np.testing.assert_array_equal(np.sort(second), np.arange(50))
    assert not np.array_equal(first, np.arange(50))
    assert not np.array_equal(first, second)


def test_shuffled_batches_keep_inputs_and_labels_together():
    for x, y in DataLoader(counting_dataset(20), batch_size=6, shuffle=True, seed=0):
        np.testing.assert_array_equal(x.numpy()[:, 0], 3 * y.numpy())


def test_drop_last_drops_a_different_remainder_each_epoch_but_never_repeats():
    loader = DataLoader(counting_dataset(10), batch_size=4, shuffle=True, drop_last=True, seed=1)
    for _ in range(3):
        seen = labels_of(loader)
        assert len(seen) == 8 and len(np.unique(seen)) == 8


def test_same_seed_gives_the_same_sequence_of_epochs():
    a = DataLoader(counting_dataset(30), batch_size=4, shuffle=True, seed=11)
    b = DataLoader(counting_dataset(30), batch_size=4, shuffle=True, seed=11)
    c = DataLoader(counting_dataset(30), batch_size=4, shuffle=True, seed=12)
    epochs_a = [labels_of(a) for _ in range(3)]
    epochs_b = [labels_of(b) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], labels_of(c))


def test_a_shared_generator_drives_the_shuffle():
    a = DataLoader(counting_dataset(30), shuffle=True, generator=np.random.default_rng(5))
    b = DataLoader(counting_dataset(30), shuffle=True, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(labels_of(a), labels_of(b))


def test_an_ember_generator_drives_the_shuffle():
    a = DataLoader(counting_dataset(30), shuffle=True, generator=ember.Generator().manual_seed(4))
    b = DataLoader(counting_dataset(30), shuffle=True, generator=ember.Generator().manual_seed(4))
    np.testing.assert_array_equal(labels_of(a), labels_of(b))


def test_manual_seed_makes_the_default_shuffle_reproducible():
    loader = DataLoader(counting_dataset(40), batch_size=5, shuffle=True)
    ember.manual_seed(123)
    first = [labels_of(loader), labels_of(loader)]
    ember.manual_seed(123)
    again = [labels_of(loader), labels_of(loader)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])


def test_seed_and_generator_together_are_rejected():
    with pytest.raises(ValueError, match="either generator= or seed="):
        DataLoader(counting_dataset(3), shuffle=True, seed=1, generator=np.random.default_rng())
    with pytest.raises(TypeError, match="generator"):
        DataLoader(counting_dataset(3), generator="not a generator")


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"batch_size": 2.5}, {"prefetch": -1}])
def test_bad_loader_arguments(kwargs):
    with pytest.raises(ValueError, match="DataLoader"):
        DataLoader(counting_dataset(3), **kwargs)


def test_array_datasets_are_gathered_with_one_call_per_batch(monkeypatch):
    ds = counting_dataset(23)
    gathers = []
    original = TensorDataset.gather

    def spy(self, indices):
        gathers.append(indices.copy())
        return original(self, indices)

    def forbidden(self, index):
        raise AssertionError("the loader read a sample at a time")

    monkeypatch.setattr(TensorDataset, "gather", spy)
    monkeypatch.setattr(TensorDataset, "__getitem__", forbidden)
    loader = DataLoader(ds, batch_size=5, shuffle=True, seed=0)
    seen = labels_of(loader)
    assert len(gathers) == len(loader) == 5
    np.testing.assert_array_equal(seen, np.concatenate(gathers))


def test_a_subset_of_an_array_dataset_is_gathered_too(monkeypatch):
    def forbidden(self, index):
        raise AssertionError("the loader read a sample at a time")

    monkeypatch.setattr(TensorDataset, "__getitem__", forbidden)
    sub = Subset(Subset(counting_dataset(10), [9, 8, 7, 6, 5]), [4, 0, 2])
    ((x, y),) = list(DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(y.numpy(), [5, 9, 7])
    np.testing.assert_array_equal(x.numpy()[:, 0], [15, 27, 21])


def test_generic_datasets_are_read_per_sample_and_stacked():
    ds = ListDataset(5)
    batches = list(DataLoader(ds, batch_size=2))
    assert ds.reads == 5
    x, y = batches[0]
    np.testing.assert_array_equal(x.numpy(), [[0, 0], [1, 1]])
    np.testing.assert_array_equal(y.numpy(), [0, 1])
    assert y.numpy().dtype == np.int64
    np.testing.assert_array_equal(batches[-1][1].numpy(), [4])


def test_default_collate_handles_nested_samples():
    batch = default_collate([{"a": (1, np.ones(2)), "s": "x"}, {"a": (2, np.zeros(2)), "s": "y"}])
    np.testing.assert_array_equal(batch["a"][0], [1, 2])
    np.testing.assert_array_equal(batch["a"][1], [[1, 1], [0, 0]])
    assert batch["s"] == ["x", "y"]
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.ones(2), np.ones(3)])


def test_custom_collate_fn_is_used():
    loader = DataLoader(ListDataset(4), batch_size=2, collate_fn=lambda s: [i for _, i in s])
    assert list(loader) == [[0, 1], [2, 3]]


def test_transform_maps_the_inputs_of_each_batch():
    calls = []

    def double(x):
        calls.append(x.shape)
        return 2 * x

    loader = DataLoader(counting_dataset(5), batch_size=2, transform=double)
    x, y = next(iter(loader))
    np.testing.assert_array_equal(x.numpy(), 2 * np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(y.numpy(), [0, 1])
    assert calls == [(2, 3)]


# ---------------------------------------------------------------- prefetch


def test_prefetched_batches_equal_plain_ones():
    plain = DataLoader(counting_dataset(37), batch_size=4, shuffle=True, seed=9)
    ahead = DataLoader(counting_dataset(37), batch_size=4, shuffle=True, seed=9, prefetch=3)
    for (xa, ya), (xb, yb) in zip(plain, ahead, strict=True):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_prefetch_thread_ends_with_the_epoch():
    it = iter(DataLoader(counting_dataset(6), batch_size=2, prefetch=2))
    assert len(list(it)) == 3
    it._thread.join()  # a thread that outlived its epoch hangs here: no time limit to tune
    assert not it.running


def test_an_error_in_the_prefetch_thread_reaches_the_loop():
    loader = DataLoader(ListDataset(10, fail_at=5), batch_size=2, prefetch=2)
    seen = []
    with pytest.raises(RuntimeError, match="cannot read sample 5"):
        for _, y in loader:
            seen.append(y.numpy())
    assert len(seen) == 2  # the batches before the failing one were delivered


def test_an_abandoned_iterator_stops_its_thread():
    loader = DataLoader(counting_dataset(1000), batch_size=1, prefetch=2)
    it = iter(loader)
    next(it)
    thread = it._thread
    del it
    gc.collect()
    thread.join()  # an abandoned thread that never stops hangs here: no time limit to tune
    assert not thread.is_alive()
    assert not any(t.name == "ember-prefetch" and t is thread for t in threading.enumerate())


def test_breaking_out_of_the_loop_stops_the_thread():
    loader = DataLoader(counting_dataset(1000), batch_size=1, prefetch=2)
    it = iter(loader)
    for i, _ in enumerate(it):
        if i == 3:
            break
    it.close()
    assert not it.running


def test_prefetch_runs_at_most_depth_batches_ahead(monkeypatch):
    """Observed without a time window: the test waits until the producer has found the queue
    full while offering a batch. A bounded producer holds exactly one batch then; a runaway one
    either never finds the queue full or has read further before offering."""
    reads = []
    blocked, read_all, stopped = threading.Event(), threading.Event(), threading.Event()

    class Recording(Dataset):
        def __len__(self):
            return 100

        def __getitem__(self, i):
            self.record(i)
            return i

        def gather(self, indices):
            self.record(int(indices[0]))
            return (indices.copy(),)

        def record(self, i):
            reads.append(i)
            if i == len(self) - 1:
                read_all.set()
                stopped.set()

    class WatchedQueue(queue.Queue):
        def put(self, item, block=True, timeout=None):
            try:
                super().put(item, block, timeout)
            except queue.Full:
                blocked.set()
                stopped.set()
                raise

    monkeypatch.setattr(prefetch_module, "queue", types.SimpleNamespace(
        Queue=WatchedQueue, Full=queue.Full, Empty=queue.Empty))  # fmt: skip
    it = iter(DataLoader(Recording(), batch_size=1, prefetch=2))
    next(it)
    # A Full raised before that batch left the queue is ordered before the get by the queue's
    # lock, so it is forgotten here; any later one sees the state after one batch was consumed.
    blocked.clear()
    stopped.clear()
    if read_all.is_set():
        stopped.set()
    # Until the producer offers a batch to a full queue (it offers again after each Full), or (a
    # runaway one) has read to the end.
    stopped.wait()
    assert blocked.is_set()
    # 1 consumed + 2 waiting in the queue + 1 held by the producer
    assert len(reads) == 4
    it.close()


# ---------------------------------------------------------------- splits


def test_random_split_with_counts_partitions_the_dataset():
    parts = random_split(counting_dataset(10), [3, 7], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [3, 7]
    together = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(together), np.arange(10))


def test_random_split_fractions_hand_out_the_remainder_like_torch():
    parts = random_split(
        counting_dataset(10), [0.33, 0.33, 0.34], generator=np.random.default_rng(0)
    )
    assert [len(p) for p in parts] == [4, 3, 3]
    torch_data = pytest.importorskip("torch.utils.data", reason="torch not installed")
    for n, fractions in [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (101, [0.1, 0.2, 0.7])]:
        expected = [len(p) for p in torch_data.random_split(range(n), fractions)]
        got = [len(p) for p in random_split(counting_dataset(n), fractions)]
        assert got == expected, (n, fractions)


def test_random_split_is_reproducible_and_validates_lengths():
    a = random_split(counting_dataset(20), [0.5, 0.5], generator=np.random.default_rng(3))
    b = random_split(counting_dataset(20), [0.5, 0.5], generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0].indices, b[0].indices)
    with pytest.raises(ValueError, match="sum to the dataset size 20"):
        random_split(counting_dataset(20), [5, 5])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(counting_dataset(20), [0.5, 0.6])


def test_train_test_split_sizes_alignment_and_kinds():
    x = np.arange(40).reshape(20, 2)
    y = ember.from_numpy(np.arange(20))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, seed=0)
    assert isinstance(x_train, np.ndarray) and not isinstance(y_train, np.ndarray)
    assert len(x_test) == 6 and len(x_train) == 14  # the test count is rounded up
    np.testing.assert_array_equal(x_train[:, 0], 2 * y_train.numpy())
    np.testing.assert_array_equal(x_test[:, 0], 2 * y_test.numpy())
    both = np.concatenate([y_train.numpy(), y_test.numpy()])
    np.testing.assert_array_equal(np.sort(both), np.arange(20))
    again = train_test_split(x, y, test_size=0.3, seed=0)
    np.testing.assert_array_equal(again[1], x_test)


def test_train_test_split_without_shuffle_keeps_the_order():
    train, test = train_test_split(np.arange(10), test_size=3, shuffle=False)
    np.testing.assert_array_equal(train, np.arange(7))
    np.testing.assert_array_equal(test, [7, 8, 9])


@pytest.mark.parametrize(
    "counts, test_size, expected",
    [([50, 30, 20], 0.2, [10, 6, 4]), ([7, 5, 3], 0.4, [3, 2, 1]), ([90, 10], 0.25, [23, 2])],
)
def test_stratified_split_keeps_class_proportions(counts, test_size, expected):
    y = np.repeat(np.arange(len(counts)), counts)
    rng = np.random.default_rng(0)
    y = y[rng.permutation(len(y))]
    y_train, y_test = train_test_split(y, test_size=test_size, stratify=y, seed=1)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=len(counts)), expected)
    np.testing.assert_array_equal(np.bincount(y_train) + np.bincount(y_test), counts)


def test_stratified_split_matches_scikit_learn_counts():
    sklearn_split = pytest.importorskip(
        "sklearn.model_selection", reason="scikit-learn not installed"
    ).train_test_split
    rng = np.random.default_rng(2)
    for counts, test_size in [([50, 30, 20], 0.2), ([7, 5, 3], 0.4), ([13, 29, 41, 5], 0.3)]:
        y = rng.permutation(np.repeat(np.arange(len(counts)), counts))
        _, theirs = sklearn_split(y, test_size=test_size, stratify=y, random_state=0)
        _, ours = train_test_split(y, test_size=test_size, stratify=y, seed=0)
        assert len(ours) == len(theirs)
        np.testing.assert_array_equal(np.bincount(ours), np.bincount(theirs))


def test_train_test_split_errors():
    with pytest.raises(ValueError, match="share their first dim"):
        train_test_split(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="only 1 sample"):
        train_test_split(np.arange(5), stratify=[0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.arange(5), test_size=1.5)
    with pytest.raises(ValueError, match="both must be non-empty"):
        train_test_split(np.arange(5), test_size=5)
    with pytest.raises(ValueError, match="shuffle=True"):
        train_test_split(np.arange(6), stratify=[0, 1] * 3, shuffle=False)


def test_random_split_follows_an_ember_generator_and_manual_seed():
    a = random_split(counting_dataset(20), [5, 15], generator=ember.Generator().manual_seed(1))
    b = random_split(counting_dataset(20), [5, 15], generator=ember.Generator().manual_seed(1))
    np.testing.assert_array_equal(a[0].indices, b[0].indices)
    ember.manual_seed(8)
    c = random_split(counting_dataset(20), [5, 15])
    ember.manual_seed(8)
    np.testing.assert_array_equal(
        random_split(counting_dataset(20), [5, 15])[0].indices, c[0].indices
    )
