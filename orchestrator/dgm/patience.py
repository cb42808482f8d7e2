"""A step cut short because a part of the machine went away waits for it and runs again.

The graph's nodes are idempotent (a child is found again by its key, an evaluation already
recorded is not redone), so a ``seed`` or ``child`` step that failed because the Docker
engine stopped answering (restarted, crashed), or because the archive's database did not
answer within its own wait, runs again once the part answers: the run waits instead of
recording the machine's failure as a verdict. Up to :data:`WAIT_S` per step; after that,
and for a full disk or a stop signal, the failure passes through and stops the run with
one line (to be resumed with `clade run --resume`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from clade.archive import stalled_s
from clade.archive.errors import ArchiveUnavailable
from clade.sandbox.errors import SandboxUnavailable
from clade.sandbox.health import engine_answers, remove_own_stopped_containers

WAIT_S = 600.0
_POLL_S = 2.0
#: Seconds the archive may stall during one piece of work before its outcome is not a verdict.
STALL_TOLERANCE_S = 5.0


@contextmanager
def unstalled(what: str) -> Iterator[None]:
    """Run ``what`` (an evaluation, a self-modification, a diagnosis); when the archive's
    database stalled for more than :data:`STALL_TOLERANCE_S` meanwhile (model calls are
    metered to it, so a locked database holds the agent's replies back past its limits),
    its outcome or failure becomes :class:`ArchiveUnavailable` before anything of it is
    recorded, and :func:`patient` runs the step again once the archive answers."""
    before = stalled_s()
    try:
        yield
    except Exception as exc:
        if stalled_s() - before > STALL_TOLERANCE_S and not isinstance(exc, ArchiveUnavailable):
            raise _stalled(what, stalled_s() - before) from exc
        raise
    if stalled_s() - before > STALL_TOLERANCE_S:
        raise _stalled(what, stalled_s() - before)


def _stalled(what: str, seconds: float) -> ArchiveUnavailable:
    return ArchiveUnavailable(
        f"the archive database stalled for {seconds:.0f} s during {what}; "
        "its outcome is not recorded as a verdict",
        hint="the step runs again once the archive answers",
    )


def _missing_part(exc: BaseException, docker: bool) -> str | None:
    """Which part the failure waits for, or None when waiting would not help."""
    if type(exc).__module__.startswith("langgraph"):  # an interrupt (approval), not a fault
        return None
    if isinstance(exc, SandboxUnavailable):
        return "engine"
    if isinstance(exc, ArchiveUnavailable):
        return "archive"
    if docker and not engine_answers():  # whatever broke first while the engine was away
        return "engine"
    return None


def patient(
    node: Callable[[Any], Any],
    *,
    docker: bool,
    emit: Callable[[dict[str, Any]], None],
    stopping: Callable[[], bool] = lambda: False,
) -> Callable[[Any], Any]:
    """``node``, run again (after the part answers) when the machine failed it; never
    once the run is ``stopping``."""

    @functools.wraps(node)
    def step(payload: Any) -> Any:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                return node(payload)
            except Exception as exc:
                part = None if stopping() else _missing_part(exc, docker)
                if part is None or time.monotonic() > deadline:
                    raise
                key = _key(payload)
                what = "the Docker engine" if part == "engine" else "the archive database"
                emit({"event": "waiting", "key": key,
                      "reason": f"{what} does not answer; {key} runs again once it does"})  # fmt: skip
                if part == "engine":
                    while not (engine_answers() or stopping()) and time.monotonic() < deadline:
                        time.sleep(_POLL_S)
                    remove_own_stopped_containers()
                else:
                    time.sleep(_POLL_S)

    return step


def _key(payload: Any) -> str:
    if isinstance(payload, dict) and payload.get("key"):  # the async loop's a<n>
        return str(payload["key"])
    if isinstance(payload, dict) and "generation" in payload and "index" in payload:
        return f"g{payload['generation']}c{payload['index']}"
    return "the seed"
