"""Splitting data: random_split (PyTorch's, on datasets) and train_test_split (scikit-learn's,
on arrays or Tensors, optionally stratified)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ember.data._convert import like_input, to_numpy
from ember.data._rng import numpy_generator
from ember.data.dataset import Dataset, Subset


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    all_int = all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in lengths)
    if all_int:
        if any(x < 0 for x in lengths) or sum(lengths) != n:
            raise ValueError(
                f"random_split: lengths {list(lengths)} must be >= 0 and sum to the dataset "
                f"size {n}"
            )
        return [int(x) for x in lengths]
    if any(not 0 <= x <= 1 for x in lengths) or not math.isclose(sum(lengths), 1.0):
        raise ValueError(f"random_split: fractions {list(lengths)} must lie in [0, 1] and sum to 1")
    # As PyTorch: floor each share, then hand the leftover samples out one by one from the first.
    sizes = [math.floor(n * x) for x in lengths]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset: Dataset, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Split `dataset` at random into non-overlapping Subsets of the given lengths.

    lengths: sample counts summing to len(dataset), or fractions summing to 1 (each share is
    floored and the remainder goes one sample at a time to the first splits, as PyTorch).
    generator: ember.Generator or numpy.random.Generator; default: ember's default RNG."""
    sizes = _split_lengths(list(lengths), len(dataset))
    order = numpy_generator(generator).permutation(len(dataset))
    bounds = np.cumsum([0, *sizes])
    return [Subset(dataset, order[a:b]) for a, b in itertools.pairwise(bounds)]


def _test_count(test_size: float, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError("train_test_split: test_size must be an int or a float, got bool")
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
    elif isinstance(test_size, (float, np.floating)) and 0.0 < test_size < 1.0:
        n_test = math.ceil(test_size * n)
    else:
        raise ValueError(
            f"train_test_split: test_size must be a fraction in (0, 1) or a sample count, "
            f"got {test_size!r}"
        )
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: {n} samples with test_size={test_size!r} leave "
            f"{n_test} test and {n - n_test} train samples; both must be non-empty"
        )
    return n_test


def _stratified_test_indices(
    labels: np.ndarray, n_test: int, rng: np.random.Generator
) -> np.ndarray:
    classes, label_codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        rare = classes[counts.argmin()]
        raise ValueError(
            f"train_test_split: class {rare!r} has only 1 sample; stratifying needs at least 2 "
            f"per class"
        )
    # Largest-remainder allocation: each class gets its share of the test set, rounded so the
    # shares add up to n_test exactly; ties go to a random class.
    exact = counts * (n_test / len(labels))
    per_class = np.floor(exact).astype(np.int64)
    leftover = n_test - int(per_class.sum())
    by_remainder = np.lexsort((rng.random(len(classes)), -(exact - per_class)))
    per_class[by_remainder[:leftover]] += 1
    picks = [rng.permutation(np.flatnonzero(label_codes == c))[:k] for c, k in enumerate(per_class)]
    return np.concatenate(picks)


def train_test_split(
    *arrays: Any,
    test_size: float = 0.25,
    shuffle: bool = True,
    stratify: Any = None,
    seed: int | None = None,
) -> list[Any]:
    """Split arrays or Tensors (same first dim) into train and test parts, as scikit-learn:
    returns [a_train, a_test, b_train, b_test, ...], each of the kind passed in.

    test_size: fraction in (0, 1) (the test count is rounded up) or a sample count.
    shuffle=False keeps the order: the last samples form the test set.
    stratify: class labels; the test set then keeps each class's proportion (within one sample).
    seed: makes the split reproducible; default: drawn from ember's default RNG."""
    if not arrays:
        raise ValueError("train_test_split: needs at least one array")
    views = [to_numpy(a) for a in arrays]
    sizes = {v.shape[0] if v.ndim else None for v in views}
    if len(sizes) != 1 or None in sizes:
        shapes = ", ".join(str(tuple(v.shape)) for v in views)
        raise ValueError(f"train_test_split: arrays must share their first dim, got {shapes}")
    n = views[0].shape[0]
    n_test = _test_count(test_size, n)
    if not shuffle:
        if stratify is not None:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        train, test = np.arange(n - n_test), np.arange(n - n_test, n)
    else:
        rng = numpy_generator(seed=seed)
        if stratify is None:
            order = rng.permutation(n)
            train, test = order[n_test:], order[:n_test]
        else:
            labels = to_numpy(stratify).reshape(-1)
            if labels.shape[0] != n:
                raise ValueError(
                    f"train_test_split: stratify has {labels.shape[0]} labels for {n} samples"
                )
            test = _stratified_test_indices(labels, n_test, rng)
            in_test = np.zeros(n, dtype=bool)
            in_test[test] = True
            train = rng.permutation(np.flatnonzero(~in_test))
            test = rng.permutation(test)
    result = []
    for original, view in zip(arrays, views):
        result += [like_input(view[train], original), like_input(view[test], original)]
    return result
