"""SIGTERM and Ctrl-C stop `clade run` within seconds, cancel the work in flight (its
containers and socket folders go with it), say how to resume, and the resume finishes the
run. Real Docker sandboxes, the scripted model of examples/scripted_agent.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from clade.orchestrator.cli.stopping import CREATION_WAIT_S

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    **yaml.safe_load((ROOT / "examples" / "scripted_run.yaml").read_text()),
    "name": "stop",
    "selection": {"policy": "best", "children_per_generation": 2},
    "budget": {"generations": 2},
}

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _clade(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CLADE_HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "t"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "examples"), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    (tmp_path / "t").mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "clade.orchestrator", *args], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # fmt: skip


def _read_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 240) -> str:
    seen, deadline = "", time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if re.search(pattern, line):
            return seen
    raise AssertionError(f"no {pattern!r} in:\n{seen}")


def _containers(run_id: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=clade.run={run_id}"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    return out.stdout.split()


@pytest.mark.parametrize(("signum", "twice"), [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_a_signal_stops_the_run_quickly_and_it_resumes(tmp_path, signum, twice):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    proc = _clade(tmp_path, "run", str(config))
    head = _read_until(proc, r"generation 1/2")  # children are in flight from here on
    run_id = re.search(r"run ([0-9a-z]{16}) started", head).group(1)
    time.sleep(1.0)
    sent = time.monotonic()
    proc.send_signal(signum)
    if twice:  # a second Ctrl-C exits at once
        time.sleep(0.3)
        proc.send_signal(signum)
    out, _ = proc.communicate(timeout=60)
    stopped_in = time.monotonic() - sent
    assert proc.returncode == 128 + signum, out
    # A busy daemon may still be creating a sandbox: the exit waits for it, to remove it.
    waited = "sandbox creation(s) in flight, to remove them" in out
    assert stopped_in < (10 + CREATION_WAIT_S if waited else 10), f"{stopped_in:.1f} s"
    assert f"stopped: resume with `clade run --resume {run_id}`" in out
    assert "Traceback" not in out and "Task was destroyed" not in out
    assert _containers(run_id) == []  # the work in flight was cancelled, not left running
    assert list((tmp_path / "t").iterdir()) == []  # no temporary folder left
    assert list(Path("/tmp").glob(f"clade-sock-{proc.pid}.*")) == []  # nor a socket folder
    resumed = _clade(tmp_path, "run", "--resume", run_id)
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out
    assert f"clade archive tree {run_id}" in out


def test_approval_is_asked_again_after_a_kill_at_the_prompt(tmp_path):
    """`--approve` is kept with the run: a resume without the flag still asks, and a child
    waiting for its answer at the kill is not evaluated unasked."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "budget": {"generations": 1}}))
    env_proc = _clade(tmp_path, "run", str(config), "--approve")
    head = _read_until(env_proc, r"started")
    run_id = re.search(r"run ([0-9a-z]{16}) started", head).group(1)
    deadline = time.monotonic() + 240
    while "Evaluate this child?" not in head and time.monotonic() < deadline:
        head += env_proc.stdout.read(1)  # the prompt ends without a newline
    env_proc.kill()
    env_proc.wait()
    resumed = subprocess.Popen(
        [sys.executable, "-m", "clade.orchestrator", "run", "--resume", run_id],
        env={**os.environ, "CLADE_HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "t"),
             "PYTHONPATH": os.pathsep.join([str(ROOT / "examples"), os.environ.get("PYTHONPATH", "")])},
        cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    out, _ = resumed.communicate("y\n" * 4, timeout=600)
    assert resumed.returncode == 0, out
    assert out.count("Evaluate this child?") == 2, out  # both children of the generation
    assert "child g1c0: admitted" in out and "child g1c1: admitted" in out
