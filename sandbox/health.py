"""Whose failure is it: the machine's (the Docker engine, the archive, a stop) or the code's?

A verdict on a candidate may rest only on what the candidate did. Any failure while the
Docker engine does not answer is the engine's (it was stopped, restarted, or crashed;
what breaks first varies: an exec, a transfer, a container that cannot be removed), as is
every :class:`~clade.archive.errors.InfrastructureError`. Such a failure is raised past
the places that record a failed task or a failed child, and the step runs again once the
part answers (``orchestrator/dgm/patience.py``).
"""

from __future__ import annotations

import contextlib

from clade.archive.errors import InfrastructureError
from clade.sandbox.errors import SandboxUnavailable


def engine_answers(timeout: float = 5.0) -> bool:
    """Whether the Docker engine (``DOCKER_HOST`` or the default socket) answers a ping."""
    try:
        import docker

        client = docker.from_env(timeout=max(1, round(timeout)))
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def machine_failure(exc: BaseException, *, docker: bool) -> bool:
    """Whether ``exc`` is the machine's failure rather than the sandboxed code's; ``docker``
    says whether the sandbox runs on the Docker engine (whose state is then asked)."""
    if isinstance(exc, InfrastructureError):
        return True
    return docker and isinstance(exc, Exception) and not engine_answers()


def as_machine_failure(exc: BaseException) -> BaseException:
    """``exc`` as an :class:`InfrastructureError` (an engine failure: SandboxUnavailable)."""
    if isinstance(exc, InfrastructureError):
        return exc
    return SandboxUnavailable(
        f"the Docker engine stopped answering ({type(exc).__name__}: {exc})",
        hint="the step runs again once the engine answers; start it if it does not come back",
    )


def remove_own_stopped_containers() -> int:
    """After the engine came back: remove the containers of this process that it stopped
    (their steps failed and run again; nothing else would remove them, as their owner is
    alive). Running ones belong to steps still working and are left alone."""
    from clade.sandbox._container import docker_client
    from clade.sandbox.owner import LABEL, OWNER_LABEL, owner_label

    try:
        client = docker_client(timeout=30)
    except Exception:
        return 0
    removed = 0
    try:
        mine = {"label": [LABEL, f"{OWNER_LABEL}={owner_label()}"], "status": ["exited", "dead"]}
        for container in client.containers.list(all=True, filters=mine):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed += 1
    finally:
        client.close()
    return removed


__all__ = [
    "as_machine_failure",
    "engine_answers",
    "machine_failure",
    "remove_own_stopped_containers",
]
