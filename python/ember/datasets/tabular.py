"""Loading a labelled table from a CSV file (e.g. UCI Spambase) into feature and target Tensors."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ember.data._convert import to_tensor


class LabeledTable(NamedTuple):
    """What load_csv returns; unpacks as `X, y, feature_names, classes = load_csv(...)`."""

    X: Any  # float32 Tensor (N, F)
    y: Any  # int64 Tensor (N,) of class codes, or float32 (N,) for a numeric non-integer target
    feature_names: tuple[str, ...]
    classes: tuple[str, ...] | None  # classes[code] is the original label; None if numeric


def _target_index(target_column: int | str, names: list[str], path: Path) -> int:
    if isinstance(target_column, str):
        if target_column not in names:
            raise ValueError(f"{path}: no column named {target_column!r}; columns are {names}")
        return names.index(target_column)
    if not -len(names) <= target_column < len(names):
        raise ValueError(
            f"{path}: target_column {target_column} is out of range for {len(names)} columns"
        )
    return target_column % len(names)


def _parse_numbers(
    cells: np.ndarray, names: list[str], path: Path, line_numbers: list[int]
) -> np.ndarray:
    try:
        return cells.astype(np.float64)
    except ValueError:
        pass
    for column in range(cells.shape[1]):  # find the culprit only on the slow, failing path
        for row in range(cells.shape[0]):
            try:
                float(cells[row, column])
            except ValueError:
                raise ValueError(
                    f"{path}, line {line_numbers[row]}: column {names[column]!r} holds "
                    f"{str(cells[row, column])!r}, which is not a number"
                ) from None
    raise AssertionError("unreachable: astype failed but every cell parsed")


def _encode_target(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...] | None]:
    try:
        numbers = values.astype(np.float64)
    except ValueError:
        classes, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.int64), tuple(str(c) for c in classes)
    if np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64), None
    return numbers.astype(np.float32), None


def load_csv(
    path: str | Path,
    target_column: int | str = -1,
    *,
    delimiter: str = ",",
    header: bool = True,
) -> LabeledTable:
    """Read a CSV table whose columns are numeric features plus one target column.

    target_column: the target's position (negative counts from the end) or header name.
    header: whether the first line names the columns (otherwise they are called x0, x1, ...).
    Returns LabeledTable(X, y, feature_names, classes): X float32 (N, F); y int64 class codes
    when the target holds strings (codes index the sorted class names in `classes`, e.g.
    ('nonspam', 'spam') -> 0, 1) or integers (kept as they are, classes None), float32 otherwise.
    Every feature must be a number; the error names the line and column that is not."""
    path = Path(path)
    with path.open(newline="") as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        records = [(reader.line_num, row) for row in reader if row]
    if header:
        if not records:
            raise ValueError(f"{path}: the file is empty")
        names, records = [name.strip() for name in records[0][1]], records[1:]
    else:
        names = [f"x{i}" for i in range(len(records[0][1]))] if records else []
    if not records:
        raise ValueError(f"{path}: no data rows")
    for line, row in records:
        if len(row) != len(names):
            raise ValueError(f"{path}, line {line}: {len(row)} fields, expected {len(names)}")
    line_numbers = [line for line, _ in records]
    target = _target_index(target_column, names, path)
    cells = np.array([row for _, row in records], dtype=str)
    feature_columns = [i for i in range(len(names)) if i != target]
    feature_names = [names[i] for i in feature_columns]
    features = _parse_numbers(cells[:, feature_columns], feature_names, path, line_numbers)
    targets, classes = _encode_target(np.char.strip(cells[:, target]))
    return LabeledTable(
        to_tensor(features.astype(np.float32)), to_tensor(targets), tuple(feature_names), classes
    )
