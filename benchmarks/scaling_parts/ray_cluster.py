"""A real Ray cluster on this host, for the scaling test and benchmark: a head, then nodes.

Each node is `ray start` with its own CPUs and `docker` resource units, in a process group
of its own, so that :meth:`LocalCluster.kill` (SIGKILL to the group) takes down that node's
raylet and workers as a machine failure would. Everything lives under a temp dir of the
cluster's own; :meth:`LocalCluster.stop` kills every group and runs `ray stop --force`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
#: Node death is noticed within about period x threshold (Ray's defaults take ~30 s).
FAST_HEALTH = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalCluster:
    """A head and nodes started by `ray start` (``env``: what their workers inherit, e.g.
    PYTHONPATH for a plugin evaluator or the scripted model)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="clray", dir="/tmp"))  # short: socket paths
        self.env = {**os.environ, **FAST_HEALTH, **env, "RAY_USAGE_STATS_ENABLED": "0"}
        self.address = ""
        self.groups: list[int] = []
        self.nodes: list[subprocess.Popen[bytes]] = []

    def _ports(self) -> list[str]:
        return [
            "--node-manager-port", str(free_port()), "--object-manager-port", str(free_port()),
            "--metrics-export-port", str(free_port()),
            "--dashboard-agent-listen-port", str(free_port()),
            "--dashboard-agent-grpc-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()),
        ]  # fmt: skip

    def start_head(self, cpus: int = 1, docker: int = 1) -> str:
        port = free_port()
        args = [
            RAY, "start", "--head", "--port", str(port), "--num-cpus", str(cpus),
            "--resources", json.dumps({"docker": docker}), "--disable-usage-stats",
            "--include-dashboard=false", "--temp-dir", str(self.root / "head"),
            *self._ports(),
        ]  # fmt: skip
        log = (self.root / "head.log").open("wb")
        started = subprocess.run(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, timeout=180, check=False)  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(f"ray start --head failed: {(self.root / 'head.log').read_text()}")
        self.groups.append(self._group_of_head())
        self.address = f"127.0.0.1:{port}"
        return self.address

    def _group_of_head(self) -> int:
        """The process group `ray start --head` left its daemons in (its own session)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if str(self.root / "head") in (entry / "cmdline").read_text():
                    return os.getpgid(int(entry.name))
        raise RuntimeError("the head's processes are not found")

    def add_node(self, cpus: int = 1, docker: int = 1, timeout: float = 120.0) -> int:
        """Start a node (blocking `ray start`, its own process group); its pgid."""
        before = self.alive_nodes()
        args = [
            RAY, "start", "--address", self.address, "--num-cpus", str(cpus),
            "--resources", json.dumps({"docker": docker}), "--disable-usage-stats", "--block",
            "--temp-dir", str(self.root / "head"), *self._ports(),
        ]  # fmt: skip
        log = (self.root / f"node{len(self.nodes)}.log").open("wb")
        node = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        self.nodes.append(node)
        self.groups.append(node.pid)
        deadline = time.monotonic() + timeout
        while self.alive_nodes() <= before:
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Ray node did not join: {log.name}")
            time.sleep(0.5)
        return node.pid

    def alive_nodes(self) -> int:
        status = subprocess.run(
            [RAY, "status", "--address", self.address], env=self.env, capture_output=True,
            text=True, check=False, timeout=60,
        )  # fmt: skip
        return status.stdout.count(" node_")

    def kill(self, group: int) -> None:
        """SIGKILL a node as a machine failure would: its process group (raylet, ...) and
        every process under it (Ray's workers are in groups of their own)."""
        doomed = descendants(group)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        for group in reversed(self.groups):
            self.kill(group)
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.wait(timeout=10)
        subprocess.run([RAY, "stop", "--force"], env=self.env, capture_output=True,
                       check=False, timeout=120)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
    return parents


def descendants(group: int) -> list[int]:
    """Every process of group ``group`` and every process under one of them."""
    parents = _parents()
    found: set[int] = set()
    for pid in parents:
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == group:
                found.add(pid)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return sorted(found)


def workers_of(group: int, name: str = "ray::node_on_worker") -> list[int]:
    """Processes of node ``group`` whose title is ``name`` (a Ray task running there)."""
    found = []
    for pid in descendants(group):
        with contextlib.suppress(OSError):
            if name in Path(f"/proc/{pid}/cmdline").read_text():
                found.append(pid)
    return found
