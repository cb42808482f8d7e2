"""Running ``clade run`` as a user would, one trial at a time, and reading what it left.

Each trial gets a folder of its own: ``home`` (CLADE_HOME: archive, blobs, checkpoints),
``tmp`` (TMPDIR: every temporary folder of the run, socket folders included, so leftovers
are counted by looking there) and one log per process. Processes start in their own
session, so a signal reaches only the process it is sent to.

A run's *fingerprint* is what must not depend on faults: per candidate key, its parent's
key, tree hash, status and evaluations (task, attempt, score, passed), plus the model
calls per role (which may only grow, by the steps in flight at a fault).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUN_ID = re.compile(r"run ([0-9a-z]{16}) started")


@dataclass
class Proc:
    """One ``clade`` process of a trial."""

    popen: subprocess.Popen[str]
    log: Path
    started: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, signum: int) -> bool:
        """Send ``signum``; False when the process had already ended (the signal missed)."""
        if self.popen.poll() is not None:
            return False
        os.kill(self.pid, signum)
        return True

    def kill(self) -> bool:
        landed = self.signal(signal.SIGKILL)
        self.popen.wait()
        return landed


@dataclass
class Trial:
    """A folder, an environment and the processes of one trial."""

    root: Path
    name: str
    config: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dir = self.root / self.name
        self.home, self.tmp = self.dir / "home", self.dir / "tmp"
        for path in (self.home, self.tmp):
            path.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(EXAMPLES), os.environ.get("PYTHONPATH")) if p)
        return {
            **os.environ,
            "CLADE_HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "PYTHONPATH": path,
            **self.extra_env,
        }

    def start(self, *args: str) -> Proc:
        log = self.dir / f"proc{len(self.procs)}.log"
        handle = log.open("w")
        popen = subprocess.Popen(
            [sys.executable, "-m", "clade.orchestrator", *args],
            env=self.env, cwd=self.dir, stdout=handle, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        handle.close()
        proc = Proc(popen, log, time.monotonic())
        self.procs.append(proc)
        return proc

    def new_run(self) -> Proc:
        return self.start("run", str(self.config))

    def resume(self, run_id: str) -> Proc:
        return self.start("run", "--resume", run_id)

    def complete(self, proc: Proc, timeout: float = 600) -> int:
        code = proc.wait(timeout)
        if code is None:
            proc.kill()
            raise TrialError(f"{self.name}: {proc.log.name} did not finish in {timeout:.0f} s")
        return code

    def run_id(self, proc: Proc, timeout: float = 120) -> str | None:
        """The id the process printed (it may die first: then None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = RUN_ID.search(proc.output())
            if found:
                return found.group(1)
            if proc.popen.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def archive(self) -> Any:
        from clade.archive import Archive

        url = self.extra_env.get("CLADE_DB_URL") or f"sqlite:///{self.home / 'clade.db'}"
        return Archive(url, self.home / "blobs", wait_s=30)

    def leftovers(self, run_id: str | None) -> list[str]:
        """What is left of the trial's processes: live processes, temporary folders (socket
        folders among them) and containers of the run."""
        found = [f"process {p.pid} alive" for p in self.procs if p.popen.poll() is None]
        found += [f"tmp/{entry.name}" for entry in sorted(self.tmp.iterdir())]
        if run_id:
            found += [f"container {c}" for c in containers(run_id, self.env.get("DOCKER_HOST"))]
        return found

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.kill()


class TrialError(Exception):
    """A trial could not be carried out (not a finding about Clade)."""


def containers(run_id: str, docker_host: str | None = None) -> list[str]:
    env = {**os.environ, **({"DOCKER_HOST": docker_host} if docker_host else {})}
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=clade.run={run_id}"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    return out.stdout.split()


def fingerprint(archive: Any, run_id: str) -> dict[str, Any]:
    """Per candidate key: parent key, tree, status, evaluations; model calls per role."""
    from sqlalchemy import text

    with archive.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, parent_id, tree_hash, status, meta FROM candidate WHERE run_id = :r"),
            {"r": run_id},
        ).all()
        evals = conn.execute(
            text(
                "SELECT e.candidate_id, e.task_id, e.attempt, e.score, e.passed FROM evaluation e "
                "JOIN candidate c ON c.id = e.candidate_id WHERE c.run_id = :r"
            ),
            {"r": run_id},
        ).all()
        calls = conn.execute(
            text("SELECT role, count(*) FROM model_call WHERE run_id = :r GROUP BY role"),
            {"r": run_id},
        ).all()
        failed = conn.execute(
            text("SELECT count(*) FROM model_call WHERE run_id = :r AND error IS NOT NULL"),
            {"r": run_id},
        ).scalar()
        status = conn.execute(text("SELECT status FROM run WHERE id = :r"), {"r": run_id}).scalar()
    key_of = {r.id: _meta(r.meta).get("key", r.id) for r in rows}
    counted = Counter(key_of.values())
    per: dict[str, list[tuple[Any, ...]]] = {}
    for e in evals:
        per.setdefault(e.candidate_id, []).append(
            (e.task_id, e.attempt, round(e.score, 6), bool(e.passed))
        )
    return {
        "run_status": status,
        "duplicates": sorted(k for k, n in counted.items() if n > 1),
        "candidates": {
            key_of[r.id]: {
                "parent": key_of.get(r.parent_id) if r.parent_id else None,
                "tree": r.tree_hash,
                "status": r.status,
                "evaluations": sorted(per.get(r.id, [])),
            }
            for r in rows
        },
        "calls": {role: n for role, n in calls},
        "failed_calls": int(failed or 0),
    }


def _meta(value: Any) -> dict[str, Any]:
    import json

    return json.loads(value) if isinstance(value, str) else dict(value or {})


def compare(reference: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """The differences that matter (an empty list: identical); extra model calls are not
    differences (at-least-once), fewer are."""
    found = []
    if got["run_status"] != "finished":
        found.append(f"run status {got['run_status']}")
    if got["duplicates"]:
        found.append(f"duplicated keys {got['duplicates']}")
    ref, mine = reference["candidates"], got["candidates"]
    for key in sorted(set(ref) | set(mine)):
        if key not in mine:
            found.append(f"{key} missing")
        elif key not in ref:
            found.append(f"{key} not in the reference")
        else:
            for part in ("parent", "tree", "status", "evaluations"):
                if ref[key][part] != mine[key][part]:
                    found.append(f"{key} {part} differs")
    for role, n in reference["calls"].items():
        if got["calls"].get(role, 0) < n:
            found.append(f"{role} calls {got['calls'].get(role, 0)} < {n}")
    return found


def extra_calls(reference: dict[str, Any], got: dict[str, Any]) -> dict[str, int]:
    return {
        role: got["calls"].get(role, 0) - n
        for role, n in reference["calls"].items()
        if got["calls"].get(role, 0) != n
    }
