"""Watching one logged value for improvement: what EarlyStopping and ModelCheckpoint share."""

from __future__ import annotations

import math


def resolve_mode(mode: str, monitor: str, who: str) -> str:
    """'min' or 'max'; 'auto' minimises anything named like a loss and maximises the rest."""
    if mode == "auto":
        return "min" if "loss" in monitor else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


def monitored_value(logs: dict[str, float], monitor: str, who: str) -> float:
    if monitor not in logs:
        hint = " (pass val_data to fit)" if monitor.startswith("val_") else ""
        raise KeyError(
            f"{who}: monitored value {monitor!r} is not among the logged values "
            f"{sorted(logs)}{hint}"
        )
    return float(logs[monitor])


class BestTracker:
    """The best value seen so far. A value improves on it only by more than min_delta; NaN never
    improves (a diverged epoch must not become the 'best' one)."""

    def __init__(self, mode: str, min_delta: float = 0.0) -> None:
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta
