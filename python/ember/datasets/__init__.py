"""Datasets: synthetic teaching sets, MNIST / Fashion-MNIST from IDX files, CSV tables, the
shipped 8x8 digits, and batch transforms (ember.datasets.transforms)."""

from ember.datasets import transforms
from ember.datasets.digits import load_digits
from ember.datasets.idx import read_idx
from ember.datasets.mnist import MNIST, FashionMNIST
from ember.datasets.synthetic import spirals, two_moons, unit_circle, xor
from ember.datasets.tabular import LabeledTable, load_csv

__all__ = [
    "MNIST",
    "FashionMNIST",
    "LabeledTable",
    "load_csv",
    "load_digits",
    "read_idx",
    "spirals",
    "transforms",
    "two_moons",
    "unit_circle",
    "xor",
]
