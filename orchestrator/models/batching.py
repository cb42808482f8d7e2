"""A background worker that gathers requests arriving together and runs them as batches.

Callers :meth:`BatchWorker.submit` an item with a priority and get an :class:`EngineFuture`.
One worker thread takes the waiting item of highest priority (first come, first served
within a priority), keeps collecting for ``window_s`` (or until ``max_batch``), splits
what it has into groups that can share a batch (same ``key``), and hands each group to
``run_group``, which must resolve every item's future. Items still queued when a batch
ends join the next one, higher priorities first; a cancelled item is dropped unseen, and
``run_group`` stops a cancelled row at its next token.

Streams fall out of step when one request misses a batch: it then runs alone while the
others run together, and the split repeats forever. So after a batch the worker expects
as many requests as it just served plus those queued, and waits up to ``rejoin_s`` for
the callers it just answered to come back before it starts the next batch.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from clade.orchestrator.models.scheduling import EngineFuture

T = TypeVar("T")
_CLOSE = float("-inf")  # the close marker's priority key: seen before any waiting item


@dataclass
class Job(Generic[T]):
    """One queued item and the future its caller waits on."""

    item: T
    future: EngineFuture = field(default_factory=EngineFuture)


class BatchWorker(Generic[T]):
    """Runs submitted items in groups on one thread."""

    def __init__(
        self,
        run_group: Callable[[list[Job[T]]], None],
        key: Callable[[T], Hashable],
        *,
        window_s: float = 0.02,
        rejoin_s: float = 0.1,
        max_batch: int = 8,
        name: str = "clade-batch",
    ) -> None:
        self._run_group = run_group
        self._key = key
        self.window_s = window_s
        self.rejoin_s = rejoin_s
        self.max_batch = max_batch
        self._expected = 0  # requests served by the last batch plus those queued behind it
        self._stats_lock = threading.Lock()
        self._sizes: Counter[int] = Counter()
        self._queue: queue.PriorityQueue[tuple[float, int, Job[T] | None]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T, priority: int = 0) -> EngineFuture:
        if self._closed.is_set():
            raise RuntimeError("batch worker is closed")
        job: Job[T] = Job(item, EngineFuture(priority))
        self._queue.put((-priority, next(self._seq), job))
        return job.future

    def _get(self, timeout: float | None = None) -> Job[T] | None:
        """The next waiting job (None: closed); ``timeout`` 0 does not wait."""
        if timeout == 0:
            return self._queue.get_nowait()[2]
        return self._queue.get(timeout=timeout)[2]

    def _put_close(self) -> None:
        self._queue.put((_CLOSE, next(self._seq), None))

    def batch_sizes(self) -> dict[int, int]:
        """How many batches of each size ran so far."""
        with self._stats_lock:
            return dict(sorted(self._sizes.items()))

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._put_close()
            self._thread.join(timeout=60)

    def _collect(self, first: Job[T]) -> list[Job[T]]:
        jobs = [first]
        expected = min(self._expected, self.max_batch)
        deadline = time.monotonic() + (self.rejoin_s if expected > 1 else self.window_s)
        while len(jobs) < self.max_batch:
            if len(jobs) == expected:  # everyone is back: only a short window for newcomers
                deadline = min(deadline, time.monotonic() + self.window_s)
            try:  # take what is already queued without waiting
                job = self._get(0)
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    job = self._get(remaining)
                except queue.Empty:
                    break
            if job is None:
                self._put_close()  # let the loop see the close after this batch
                break
            jobs.append(job)
        return jobs

    def _loop(self) -> None:
        while True:
            first = self._get()
            if first is None:
                break
            groups: dict[Hashable, list[Job[T]]] = {}
            collected = self._collect(first)
            for job in collected:
                if job.future.cancelled():
                    continue
                groups.setdefault(self._key(job.item), []).append(job)
            for jobs in groups.values():
                for job in jobs:
                    job.future.admit()
                with self._stats_lock:
                    self._sizes[len(jobs)] += 1
                try:
                    self._run_group(jobs)
                except BaseException as exc:
                    for job in jobs:
                        if not job.future.done():
                            job.future.set_exception(exc)
            self._expected = len(collected) + self._queue.qsize()
        while True:  # fail what was queued after the close
            try:
                left = self._get(0)
            except queue.Empty:
                break
            if left is not None and not left.future.done():
                left.future.set_exception(RuntimeError("engine closed"))
