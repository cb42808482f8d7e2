"""Scheduling inside local engines: cancellable futures, priorities, admission, counters.

Every request to a local engine gets an :class:`EngineFuture`. Cancelling it sets ``stop``,
which the engine checks at every token, so a caller that leaves (a disconnect, a timeout, a
stopped sandbox) stops its generation at the next token. The engine marks the future
*admitted* when the request gets a slot; timeouts derived from the engine's speed count from
there, so a request is not timed out for waiting behind others.

:class:`PriorityWork` runs requests on a fixed number of worker threads (the engine's slots),
the highest ``priority`` first and first-come first-served within a priority: a run's
diagnosis and self-modification calls (higher priority) do not wait behind a queue of
evaluation traffic. A request cancelled while it waits never reaches the model.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class EngineFuture(Future[Any]):
    """A request's future. It stays pending until the result is in, so ``cancel()`` works
    while the engine generates; ``stop`` tells the engine to stop at the next token."""

    def __init__(self, priority: int = 0) -> None:
        super().__init__()
        self.priority = priority
        self.stop = threading.Event()
        self.admitted: Future[float] = Future()  # its result: time.monotonic() at admission

    def admit(self) -> None:
        """The request has a slot now (its result is the admission time)."""
        with contextlib.suppress(InvalidStateError):  # a waiter may have given up on it
            self.admitted.set_result(time.monotonic())

    def cancel(self) -> bool:
        self.stop.set()
        return super().cancel()


@dataclass
class EngineStats:
    """Counters of one engine (thread-safe through :meth:`add`): requests finished,
    requests cancelled (while waiting or generating), tokens generated (streamed so far) and
    abandoned tokens (generated after a request's cancellation reached the engine)."""

    requests: int = 0
    cancelled: int = 0
    tokens_generated: int = 0
    abandoned_tokens: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "requests": self.requests,
                "cancelled": self.cancelled,
                "tokens_generated": self.tokens_generated,
                "abandoned_tokens": self.abandoned_tokens,
            }


class PriorityWork(Generic[T]):
    """Runs submitted items on ``workers`` threads, highest priority first.

    ``run(item)`` is called on a worker thread and must settle the item's future itself.
    :meth:`close` lets the items already queued run, then ends the workers.
    """

    def __init__(self, run: Callable[[T], None], workers: int, name: str) -> None:
        self._run = run
        self._heap: list[tuple[int, int, T]] = []
        self._seq = itertools.count()
        self._ready = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, item: T, priority: int = 0) -> None:
        with self._ready:
            if self._closed:
                raise RuntimeError("closed")
            heapq.heappush(self._heap, (-priority, next(self._seq), item))
            self._ready.notify()

    def waiting(self) -> int:
        """Items queued and not started."""
        with self._ready:
            return len(self._heap)

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def drain(self) -> list[T]:
        """Take every waiting item off the queue (they will not run); returns them."""
        with self._ready:
            items = [item for _, _, item in self._heap]
            self._heap.clear()
        return items

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the workers to end (after :meth:`close`)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._heap and not self._closed:
                    self._ready.wait()
                if not self._heap:
                    return
                _, _, item = heapq.heappop(self._heap)
            try:
                self._run(item)
            except Exception:  # run() settles its future; a bug there must not kill a slot
                log.exception("local engine worker failed")
