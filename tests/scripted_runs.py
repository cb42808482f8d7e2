"""Whole `clade run` processes on the scripted model, killed and resumed (shared by the run,
async-loop and Ray tests; import it as ``tests.scripted_runs``).

examples/scripted_run.yaml is the base config; examples/scripted_agent.py plays every role.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
#: The scripted run every whole-run test starts from.
CONFIG = yaml.safe_load((EXAMPLES / "scripted_run.yaml").read_text())


def clade_env(home: Path) -> dict[str, str]:
    """The environment of a `clade` process: its own CLADE_HOME, the scripted model on the path."""
    path = os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "CLADE_HOME": str(home), "PYTHONPATH": path}


def clade(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`python -m clade.orchestrator ARGS`, its output and errors in one pipe."""
    return subprocess.Popen([sys.executable, "-m", "clade.orchestrator", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def home_archive(home: Path):  # -> Archive (imported lazily, like the tests do)
    from clade.archive.facade import Archive

    return Archive(f"sqlite:///{home / 'clade.db'}", home / "blobs")


def kill_once_a_child_exists(proc: subprocess.Popen[str], archive, timeout_s: float = 240) -> tuple[str, str]:  # fmt: skip
    """SIGKILL ``proc`` (a `clade run`) as soon as its run holds a child besides the seed,
    before it finishes; returns the run's id and what the process printed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        runs = archive.list_runs()
        if runs and len(archive.list_candidates(runs[0].id)) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)
    output, _ = proc.communicate()
    run_id = archive.list_runs()[0].id
    assert archive.get_run(run_id).status == "running"
    return run_id, output


def keys(archive, run_id: str) -> list[str]:
    """The keys of the run's candidates, sorted (``seed``, ``g1c0``, ``a0``, ...)."""
    return sorted(archive.get_candidate(r.id).meta["key"] for r in archive.list_candidates(run_id))
