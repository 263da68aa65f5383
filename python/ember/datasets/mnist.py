"""MNIST and Fashion-MNIST from their standard IDX files (gzip-compressed or not)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ember.data._convert import to_tensor
from ember.data._gather import take_rows
from ember.data.dataset import Dataset
from ember.datasets.download import download_file
from ember.datasets.idx import read_idx

_SIDE = 28


class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training or 10,000 test 28x28 grey images, 10 classes.

    root: the directory holding the four IDX files (`train-images-idx3-ubyte`,
    `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
    optionally `.gz`); torchvision's layout `root/MNIST/raw/` is found too.
    download=True first fetches missing files from the usual mirrors into root (MD5-checked).
    transform: applied to the images as a float32 batch (N, 1, 28, 28) in [0, 1]: per batch when
    a DataLoader gathers, or to a batch of one in `dataset[i]`.

    `.data` is the uint8 (N, 28, 28) NumPy array as stored, `.targets` the int64 labels (N,).
    `dataset[i]` is (image Tensor (1, 28, 28) float32, label int); a DataLoader gathers a whole
    batch with one fancy-index; `tensors()` gives the whole split as (X, y) Tensors.
    """

    mirrors: ClassVar[tuple[str, ...]] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    resources: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes: ClassVar[tuple[str, ...]] = (
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    )  # fmt: skip

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        download: bool = False,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.train = bool(train)
        self.transform = transform
        if download:
            self.download()
        split = "train" if self.train else "t10k"
        images_path = self._find(f"{split}-images-idx3-ubyte")
        labels_path = self._find(f"{split}-labels-idx1-ubyte")
        self.data = self._read_images(images_path)
        self.targets = self._read_labels(labels_path, len(self.data))

    def download(self) -> None:
        """Fetch the files that are not in root yet (compressed or not) from `mirrors`."""
        for filename, md5 in self.resources.items():
            stem = filename.removesuffix(".gz")
            if not self._candidates(stem, exists=True):
                download_file(filename, self.mirrors, md5, self.root)

    def _candidates(self, stem: str, exists: bool = False) -> list[Path]:
        folders = [self.root, self.root / type(self).__name__ / "raw"]
        paths = [folder / name for folder in folders for name in (stem, stem + ".gz")]
        return [p for p in paths if p.is_file()] if exists else paths

    def _find(self, stem: str) -> Path:
        found = self._candidates(stem, exists=True)
        if found:
            return found[0]
        names = ", ".join(f.removesuffix(".gz") for f in self.resources)
        raise FileNotFoundError(
            f"{type(self).__name__}: {stem}[.gz] not found in {self.root}. Pass download=True "
            f"to fetch the dataset there, or put its IDX files ({names}, each optionally "
            f".gz) in that directory."
        )

    def _read_images(self, path: Path) -> np.ndarray:
        images = read_idx(path)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (_SIDE, _SIDE):
            raise ValueError(
                f"{path}: expected uint8 images of shape (N, {_SIDE}, {_SIDE}), "
                f"got {images.dtype.name} {images.shape}"
            )
        return images

    def _read_labels(self, path: Path, count: int) -> np.ndarray:
        labels = read_idx(path)
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(
                f"{path}: expected uint8 labels of shape (N,), got "
                f"{labels.dtype.name} {labels.shape}"
            )
        if labels.shape[0] != count:
            raise ValueError(f"{path}: holds {labels.shape[0]} labels for {count} images")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(
                f"{path}: label {labels.max()} is out of range for {len(self.classes)} classes"
            )
        return labels.astype(np.int64)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def _images(self, indices: Any) -> np.ndarray:
        pixels = take_rows(self.data, indices)
        images = np.multiply(pixels, np.float32(1 / 255), dtype=np.float32)
        return images.reshape(pixels.shape[0], 1, _SIDE, _SIDE)

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The batch (images float32 (B, 1, 28, 28) in [0, 1], transformed; labels int64 (B,))."""
        images = self._images(indices)
        if self.transform is not None:
            images = self.transform(images)
        return images, take_rows(self.targets, indices)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"dataset index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self)} images")
        images, labels = self.gather(np.array([index], dtype=np.int64))
        return to_tensor(images[0]), int(labels[0])

    def tensors(self) -> tuple[Any, Any]:
        """The whole split, untransformed: (X float32 (N, 1, 28, 28) in [0, 1], y int64 (N,))."""
        return to_tensor(self._images(slice(None))), to_tensor(self.targets)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(root={str(self.root)!r}, split={split}, images={len(self)})"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, the same format,
    sizes and interface as MNIST."""

    mirrors: ClassVar[tuple[str, ...]] = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    )
    resources: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes: ClassVar[tuple[str, ...]] = (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip
