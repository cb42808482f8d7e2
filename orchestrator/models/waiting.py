"""Waiting for a local engine's future: timeouts that count from admission, cancellation.

A call's timeout either counts from submission (a ``timeout_s`` the user set, as for an
API model) or, when derived from the engine's speed, from the moment the request got a
slot (:meth:`EngineFuture.admit`); the wait for a slot is then bounded by ``queue_s``.
Whatever ends the wait early (a timeout, the caller's task being cancelled, an interrupt)
cancels the engine's future, which stops the generation at the next token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any

from clade.orchestrator.models.engine import Generation


@dataclass(frozen=True)
class WaitPolicy:
    """How long a call waits for its generation."""

    seconds: float | None
    """The generation's time limit (None: no limit)."""
    from_admission: bool = False
    """Count ``seconds`` from admission to a slot rather than from submission."""
    queue_s: float | None = None
    """With ``from_admission``: the longest wait for a slot."""

    @classmethod
    def of(cls, seconds: float | None, options: Any) -> WaitPolicy:
        """The policy of a call: litellm's ``timeout`` plus Clade's ``clade_wait`` option."""
        if not isinstance(options, dict):
            return cls(seconds)
        queue_s = options.get("queue_s")
        return cls(
            seconds,
            bool(options.get("from_admission")),
            float(queue_s) if queue_s is not None else None,
        )


class QueueTimeout(TimeoutError):
    """The request waited longer than ``queue_s`` for a slot."""


def _admitted(fut: Future[Generation]) -> Future[float] | None:
    admitted = getattr(fut, "admitted", None)
    return admitted if isinstance(admitted, Future) else None


def wait_sync(fut: Future[Generation], policy: WaitPolicy) -> Generation:
    """Block until ``fut`` is done; TimeoutError (or :class:`QueueTimeout`) past the policy."""
    try:
        remaining = policy.seconds
        admitted = _admitted(fut)
        if remaining is not None and policy.from_admission and admitted is not None:
            either: list[Future[Any]] = [fut, admitted]
            done, _ = wait_futures(either, policy.queue_s, return_when=FIRST_COMPLETED)
            if not done:
                raise QueueTimeout(f"waited {policy.queue_s:g} s for a free slot")
            if not fut.done():
                remaining -= time.monotonic() - admitted.result()
        return fut.result(timeout=None if remaining is None else max(0.0, remaining))
    except BaseException:
        fut.cancel()
        raise


async def wait_async(fut: Future[Generation], policy: WaitPolicy) -> Generation:
    """:func:`wait_sync` for asyncio; cancelling the awaiting task cancels ``fut``."""
    waiting = asyncio.wrap_future(fut)
    try:
        remaining = policy.seconds
        admitted = _admitted(fut)
        if remaining is not None and policy.from_admission and admitted is not None:
            slot = asyncio.wrap_future(admitted)
            both: set[asyncio.Future[Any]] = {waiting, slot}
            done, _ = await asyncio.wait(
                both, timeout=policy.queue_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                raise QueueTimeout(f"waited {policy.queue_s:g} s for a free slot")
            if not waiting.done():
                remaining -= time.monotonic() - slot.result()
        if remaining is None:
            return await waiting
        return await asyncio.wait_for(waiting, max(0.0, remaining))
    except BaseException:
        fut.cancel()
        raise


async def submit_async(
    pool: Any, submit: Callable[..., Future[Generation]], *args: Any
) -> Future[Generation]:
    """Run ``submit(*args)`` on ``pool`` (it may load an engine) and return its future. If
    the awaiting task is cancelled meanwhile, the future is cancelled once it exists, so no
    request is left generating for a caller that has gone."""
    started: Future[Future[Generation]] = pool.submit(submit, *args)
    try:
        return await asyncio.shield(asyncio.wrap_future(started))
    except asyncio.CancelledError:

        def cancel_it(done: Future[Future[Generation]]) -> None:
            if not done.cancelled() and done.exception() is None:
                done.result().cancel()

        started.add_done_callback(cancel_it)
        raise
