"""Running an iterator ahead of its consumer in one background thread.

A thread, never a process: forking after OpenMP has started deadlocks GNU OpenMP, and the
expensive parts (NumPy gathers, ember kernels) release the GIL anyway. The queue is bounded, so
at most `depth` finished batches wait in memory. A consumer that stops early (break, exception,
garbage collection) stops the thread; an exception in the thread is re-raised in the consumer.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator
from typing import Any

_ITEM, _END, _ERROR = "item", "end", "error"
_POLL_SECONDS = 0.05


def _offer(slots: queue.Queue, entry: tuple, stop: threading.Event) -> bool:
    """Put entry in the queue unless the consumer has gone; True when it was put."""
    while not stop.is_set():
        try:
            slots.put(entry, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _produce(source: Iterator[Any], slots: queue.Queue, stop: threading.Event) -> None:
    try:
        for item in source:
            if not _offer(slots, (_ITEM, item), stop):
                return
    except BaseException as error:  # noqa: BLE001 - every failure must reach the consumer
        _offer(slots, (_ERROR, error), stop)
        return
    _offer(slots, (_END, None), stop)


def _shut_down(slots: queue.Queue, stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    while thread.is_alive():
        try:  # make room so a producer blocked on a full queue wakes up and sees the flag
            while True:
                slots.get_nowait()
        except queue.Empty:
            pass
        thread.join(timeout=_POLL_SECONDS)


class Prefetcher:
    """Iterate over `source` with up to `depth` items computed ahead in a background thread."""

    def __init__(self, source: Iterator[Any], depth: int) -> None:
        if depth < 1:
            raise ValueError(f"Prefetcher: depth must be >= 1, got {depth}")
        slots: queue.Queue = queue.Queue(maxsize=depth)
        stop = threading.Event()
        # The thread gets only the queue, the flag and the source, never `self`: an abandoned
        # Prefetcher is then collected, and its finalizer stops the thread.
        thread = threading.Thread(
            target=_produce, args=(source, slots, stop), name="ember-prefetch", daemon=True
        )
        self._slots = slots
        self._finished = False
        thread.start()
        self._thread = thread
        self._shutdown = weakref.finalize(self, _shut_down, slots, stop, thread)

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        kind, payload = self._slots.get()
        if kind == _ITEM:
            return payload
        self.close()
        if kind == _ERROR:
            raise payload
        raise StopIteration

    def close(self) -> None:
        """Stop the background thread and drop the batches it prepared."""
        self._finished = True
        self._shutdown()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
