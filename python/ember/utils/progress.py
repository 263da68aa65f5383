"""A dependency-free progress bar for training and evaluation loops.

    bar = ProgressBar(total=len(loader), desc="epoch 1/5")
    for x, y in loader:
        ...
        bar.update(samples=len(y), loss=loss, acc=acc)
    bar.close(val_loss=val_loss)   # extra values shown as given, e.g. from validation

It shows batches done/total, the running (sample-weighted) mean of every metric, samples/s and
the ETA. verbose=1 redraws one line in place on a terminal; elsewhere (logs, CI, notebooks that
are not TTYs) it prints a plain line about every tenth of the run but at most one every
`min_plain_seconds`, so a short epoch prints just its final line; verbose=2 prints one line when
closed; verbose=0 prints nothing. `means()` returns the running means either way.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except TypeError:  # a Tensor without __float__
        from ember.data._convert import to_numpy

        return float(to_numpy(value))


def format_duration(seconds: float) -> str:
    """0:07, 12:34, 1:02:03 (h:mm:ss beyond an hour)."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _format_value(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e4 or (0 < abs(value) < 1e-3) else f"{value:.4f}"


class ProgressBar:
    """Progress of a loop of `total` steps (None when unknown); see the module docstring.

    stream: where to write (default sys.stdout). interactive: redraw in place; default: whether
    the stream is a TTY. plain_lines: how many lines a non-interactive run prints, about.
    clock: seconds as a float (a parameter so that tests can drive time)."""

    def __init__(
        self,
        total: int | None = None,
        *,
        desc: str = "",
        verbose: int = 1,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        width: int = 25,
        plain_lines: int = 10,
        min_plain_seconds: float = 10.0,
        min_redraw_seconds: float = 0.1,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if verbose not in (0, 1, 2):
            raise ValueError(f"ProgressBar: verbose must be 0, 1 or 2, got {verbose!r}")
        if total is not None and total < 0:
            raise ValueError(f"ProgressBar: total must be >= 0, got {total}")
        self.total = total
        self.desc = desc
        self.verbose = verbose
        self.stream = sys.stdout if stream is None else stream
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.width = width
        self.min_redraw_seconds = min_redraw_seconds
        self.min_plain_seconds = min_plain_seconds
        self._clock = clock
        self._start = clock()
        self._last_draw = -math.inf
        self._last_plain = self._start
        self._plain_every = max(1, math.ceil(total / plain_lines)) if total else 50
        self._drawn_width = 0
        self._closed = False
        self.steps = 0
        self.samples = 0
        self._sums: dict[str, float] = {}
        self._weights: dict[str, float] = {}

    def update(self, steps: int = 1, samples: int | None = None, **metrics: Any) -> None:
        """Count `steps` more steps (batches) of `samples` samples and fold `metrics` (floats,
        0-d Tensors) into their running means, weighted by samples (or by steps without them)."""
        previous = self.steps
        self.steps += steps
        weight = float(samples if samples is not None else steps)
        if samples is not None:
            self.samples += samples
        for name, value in metrics.items():
            self._sums[name] = self._sums.get(name, 0.0) + weight * _as_float(value)
            self._weights[name] = self._weights.get(name, 0.0) + weight
        if self.verbose != 1:
            return
        finished = self.total is not None and self.steps >= self.total
        if self.interactive:
            now = self._clock()
            if finished or now - self._last_draw >= self.min_redraw_seconds:
                self._last_draw = now
                self._redraw(self._line())
        elif not finished and self.steps // self._plain_every > previous // self._plain_every:
            now = self._clock()
            if now - self._last_plain >= self.min_plain_seconds:  # short epochs: one line each
                self._last_plain = now
                self._print(self._line())  # the last line is close()'s, with the final values

    def means(self) -> dict[str, float]:
        """The running mean of every metric passed to update()."""
        return {name: self._sums[name] / self._weights[name] for name in self._sums}

    def close(self, **extra: Any) -> None:
        """Finish: draw the final line with the elapsed time and `extra` values (as given)."""
        if self._closed:
            return
        self._closed = True
        if self.verbose == 0:
            return
        line = self._line(final=True, extra={k: _as_float(v) for k, v in extra.items()})
        if self.interactive and self.verbose == 1:
            self._redraw(line)
            self.stream.write("\n")
            self.stream.flush()
        else:
            self._print(line)

    def __enter__(self) -> ProgressBar:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _line(self, final: bool = False, extra: dict[str, float] | None = None) -> str:
        elapsed = max(self._clock() - self._start, 0.0)
        parts = [self.desc] if self.desc else []
        if self.total:
            digits = len(str(self.total))
            done = min(self.steps / self.total, 1.0)
            filled = int(done * self.width)
            arrow = ">" if filled < self.width else ""
            bar = "=" * filled + arrow + "." * (self.width - filled - len(arrow))
            parts.append(f"{self.steps:>{digits}}/{self.total} [{bar}]")
        else:
            parts.append(f"{self.steps} steps")
        values = {**self.means(), **(extra or {})}
        parts += [f"{name} {_format_value(value)}" for name, value in values.items()]
        if elapsed > 0 and self.steps:
            if self.samples:
                parts.append(f"{self.samples / elapsed:,.0f} samples/s")
            else:
                parts.append(f"{self.steps / elapsed:,.2f} steps/s")
        if final or not self.total or self.steps >= self.total:
            parts.append(format_duration(elapsed))
        elif self.steps:
            remaining = elapsed / self.steps * (self.total - self.steps)
            parts.append(f"ETA {format_duration(remaining)}")
        return "  ".join(parts)

    def _redraw(self, line: str) -> None:
        # Pad with spaces over whatever the previous, longer line left on screen.
        self.stream.write("\r" + line.ljust(self._drawn_width))
        self.stream.flush()
        self._drawn_width = len(line)

    def _print(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
