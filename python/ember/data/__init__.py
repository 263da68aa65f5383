"""Datasets, batching and splitting: Dataset, TensorDataset, Subset, DataLoader, random_split,
train_test_split."""

from ember.data.collate import default_collate
from ember.data.dataset import Dataset, Subset, TensorDataset
from ember.data.loader import DataLoader
from ember.data.split import random_split, train_test_split

__all__ = [
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "default_collate",
    "random_split",
    "train_test_split",
]
