"""Map-style datasets: Dataset, TensorDataset, Subset.

A dataset may also define `gather(indices) -> tuple of arrays`, returning the whole batch for an
int64 index array with ONE gather per array (see ember.data._gather); DataLoader then skips the per-sample Python
loop. Array-backed datasets (TensorDataset, Subset of one, MNIST, ...) all do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ember.data._convert import to_numpy, to_tensor
from ember.data._gather import take_rows


class Dataset(ABC):
    """A map-style dataset: `dataset[i]` is sample i for 0 <= i < len(dataset)."""

    @abstractmethod
    def __getitem__(self, index: int) -> Any: ...

    @abstractmethod
    def __len__(self) -> int: ...


def _check_index(index: Any, length: int) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"dataset index must be an int, got {type(index).__name__}")
    index = int(index)
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for a dataset of {length} samples")
    return index % length


class TensorDataset(Dataset):
    """Sample i is `tuple(t[i] for t in tensors)`; every tensor must have the same first dim.

    Tensors (or NumPy arrays) are held without a copy. Batches are gathered with one fancy-index
    per tensor."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        arrays = tuple(to_numpy(t) for t in tensors)
        for position, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {position} is a scalar; need a first dim")
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise ValueError(
                f"TensorDataset: all tensors must have the same size in their first dim, "
                f"got shapes {shapes}"
            )
        self.tensors = tensors
        self._arrays = arrays

    def __len__(self) -> int:
        return self._arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple:
        index = _check_index(index, len(self))
        return tuple(to_tensor(np.asarray(a[index])) for a in self._arrays)

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(take_rows(a, indices) for a in self._arrays)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= len(dataset)):
            raise IndexError(
                f"Subset: indices must lie in [0, {len(dataset)}), "
                f"got range [{indices.min()}, {indices.max()}]"
            )
        self.dataset = dataset
        self.indices = indices

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[_check_index(index, len(self))])]


def batch_gatherer(dataset: Dataset) -> Callable[[np.ndarray], tuple] | None:
    """The function that gathers a whole batch of `dataset` in one fancy-index per array, or
    None when the dataset can only be read sample by sample."""
    if isinstance(dataset, Subset):
        inner = batch_gatherer(dataset.dataset)
        if inner is None:
            return None
        return lambda indices: inner(dataset.indices[indices])
    gather = getattr(dataset, "gather", None)
    return gather if callable(gather) else None
