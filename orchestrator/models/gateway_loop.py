"""One event loop for every gateway server of the process, and its orderly end.

Each sandbox's socket server used to run uvicorn in a thread with an event loop of its own.
litellm binds its logging worker (an asyncio queue and a task) to the loop of the first
async call and rebinds it whenever a call comes from another loop; the tasks it left on
the old loops were destroyed pending when those loops closed. That printed "Task was
destroyed but it is pending", "coroutine already executing" and "... bound to a different
event loop" in every run. Now every server runs on one loop in one daemon thread, started
on first use; at exit, litellm's worker is flushed and stopped on that loop, what is
still pending is cancelled and awaited, and the loop is closed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

_lock = threading.Lock()
_state: dict[str, Any] = {"loop": None, "thread": None, "registered": False}
#: Threads for blocking work the servers hand off (``asyncio.to_thread``): one per sandbox
#: slot is plenty; the default (cores + 4) would queue calls on a small machine.
EXECUTOR_THREADS = 32
DRAIN_TIMEOUT_S = 5.0


def shared_loop() -> asyncio.AbstractEventLoop:
    """The process's gateway loop, running in its own thread (started on first use)."""
    with _lock:
        loop = _state["loop"]
        if loop is not None and not loop.is_closed():
            return loop
        loop = asyncio.new_event_loop()
        loop.set_default_executor(
            ThreadPoolExecutor(EXECUTOR_THREADS, thread_name_prefix="clade-gateway-io")
        )
        thread = threading.Thread(target=_run, args=(loop,), name="clade-gateway-loop", daemon=True)
        thread.start()
        _state.update(loop=loop, thread=thread)
        if not _state["registered"]:
            atexit.register(shutdown)
            _state["registered"] = True
        return loop


def submit(coroutine: Any) -> Future[Any]:
    """Run ``coroutine`` on the shared loop; a future of its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, shared_loop())


def _run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


async def _drain() -> None:
    """Flush and stop litellm's logging worker, then cancel and await what is left."""
    litellm = sys.modules.get("litellm.litellm_core_utils.logging_worker")
    worker = getattr(litellm, "GLOBAL_LOGGING_WORKER", None)
    if worker is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.flush(), DRAIN_TIMEOUT_S / 2)
        with contextlib.suppress(Exception):
            await worker.stop(discard_pending=True, timeout=DRAIN_TIMEOUT_S / 2)
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def shutdown() -> None:
    """End the shared loop (at exit, or in tests); a later server starts a new one."""
    with _lock:
        loop, thread = _state["loop"], _state["thread"]
        _state.update(loop=None, thread=None)
    if loop is None or loop.is_closed():
        return
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(_drain(), loop).result(DRAIN_TIMEOUT_S)
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(1.0)
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result(
            DRAIN_TIMEOUT_S
        )
    loop.call_soon_threadsafe(loop.stop)
    thread.join(DRAIN_TIMEOUT_S)
    if not thread.is_alive():
        loop.close()
