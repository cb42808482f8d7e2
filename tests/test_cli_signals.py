"""SIGTERM to `clade` cleans up like Ctrl-C: no container outlives the command."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.docker
def test_sigterm_removes_the_commands_containers():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clade.orchestrator",
            "sandbox",
            "run",
            "--timeout",
            "60",
            "--",
            "sleep",
            "50",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    owner = _owner(proc.pid)  # while the process lives: the label holds its start time

    def containers() -> list[str]:
        out = subprocess.run(
            [
                "docker",
                "ps",
                "-aq",
                "--filter",
                "label=clade.sandbox",
                "--filter",
                f"label=clade.owner={owner}",
            ],
            capture_output=True,
            text=True,
        )
        return out.stdout.split()

    deadline = time.monotonic() + 60
    while not containers() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert containers(), "no container appeared"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert containers() == []


def _owner(pid: int) -> str:
    from clade.sandbox.owner import owner_label

    return owner_label(pid)
