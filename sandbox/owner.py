"""Labels that tie a container to its run and owning process, and `prune` of dead owners.

A container is a leftover when the process that created it is gone (a crash, a kill -9):
its ``clade.owner`` label names the host, pid and the pid's start time (so a reused pid is
not mistaken for the owner). Containers without the ``clade.sandbox`` label, of a live
owner, or of another host are never touched.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from typing import Any

LABEL = "clade.sandbox"
RUN_LABEL = "clade.run"
OWNER_LABEL = "clade.owner"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_label(pid: int | None = None) -> str:
    """``host/pid/start-time`` of this process (or ``pid``)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{_start_time(pid) or '0'}"


def owner_alive(label: str) -> bool | None:
    """Whether the owner named by ``label`` still runs; None when it is on another host."""
    try:
        host, pid, started = label.rsplit("/", 2)
    except ValueError:
        return False
    if host != socket.gethostname():
        return None
    return _start_time(int(pid)) == started if pid.isdigit() else False


def labels_for(run_id: str, extra: dict[str, str]) -> dict[str, str]:
    """The labels of a container this process creates for ``run_id``."""
    return {**extra, LABEL: "1", RUN_LABEL: run_id, OWNER_LABEL: owner_label()}


@dataclass(frozen=True)
class PruneReport:
    """What `prune` removed and what it left alone, by container name."""

    removed: list[str]
    kept_alive: list[str]
    kept_foreign: list[str]


def prune(client: Any, *, dry_run: bool = False) -> PruneReport:
    """Remove the sandbox containers whose owner process is gone; nothing else."""
    removed: list[str] = []
    alive: list[str] = []
    foreign: list[str] = []
    # Another process (a run on this engine, a Ray worker beside this one) may remove a
    # container between the listing and its inspection, or before this removal.
    listed = client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True)
    for container in listed:
        state = owner_alive(container.labels.get(OWNER_LABEL, ""))
        run = container.labels.get(RUN_LABEL) or "-"
        name = f"{container.name} (run {run})"
        if state is None:
            foreign.append(name)
        elif state:
            alive.append(name)
        else:
            if not dry_run:
                _remove(container)
            removed.append(name)
    return PruneReport(removed, alive, foreign)


def _remove(container: Any) -> None:
    """Remove ``container``; one that is already gone (removed by another process) is fine."""
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        container.remove(force=True)
