"""Whether ops record the autograd tape: a per-thread switch, as in torch.

no_grad() and enable_grad() are context managers and decorators (with or without parentheses);
set_grad_enabled(mode) switches at once and, used as a context manager, restores on exit.
"""

from __future__ import annotations

import functools
import threading


class _GradState(threading.local):
    enabled = True


STATE = _GradState()


def is_grad_enabled() -> bool:
    return STATE.enabled


class _GradModeContext:
    """Base of no_grad/enable_grad: sets `_mode` inside the block or the decorated function."""

    _mode: bool

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is not None:  # used as a bare decorator: @ember.no_grad
            return self(func)
        return self

    def __enter__(self):
        self._previous = STATE.enabled
        STATE.enabled = self._mode

    def __exit__(self, *exc) -> None:
        STATE.enabled = self._previous

    def __call__(self, func):
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            previous = STATE.enabled
            STATE.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                STATE.enabled = previous

        return wrapper


class no_grad(_GradModeContext):
    """Ops inside build no graph: their results do not require grad."""

    _mode = False


class enable_grad(_GradModeContext):
    """Re-enables recording inside a no_grad block."""

    _mode = True


class set_grad_enabled:
    """set_grad_enabled(False) turns recording off now; `with set_grad_enabled(b):` restores the
    previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self._previous = STATE.enabled
        STATE.enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        STATE.enabled = self._previous
