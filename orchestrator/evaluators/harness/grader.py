"""The host side of the grading harness: :class:`SandboxGrader`.

``check(files, tests, timeout=...)`` grades one solution; ``check_many`` grades many, a few
batches side by side, one checker process per batch. Everything a grade needs goes to the
checker on its stdin (an HMAC key, the solution's files, the tests): nothing of it is on
disk before the checker has read it. A verdict counts only if its line carries the key's
signature and names the grade it is for; a grade without one is graded again alone, and
fails if it still has none. Exit statuses and printed text never count.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from clade.sandbox import Sandbox

from ..base import Verdict

#: Largest solution (all its files) a grade accepts, in bytes of text.
MAX_SOLUTION_BYTES = 1 << 20
_LINE = re.compile(r"^(CLADE-VERDICT|CLADE-UNCLEAN) (\{.*\}) ([0-9a-f]{64})$")
_HERE = Path(__file__).parent


@dataclass(frozen=True)
class Submission:
    """One solution and the tests that grade it."""

    task_id: str
    files: Mapping[str, str]
    tests: str
    timeout: float
    memory_mb: int = 1024


def _source(*names: str) -> str:
    parts = []
    for name in names:
        text = (_HERE / name).read_text()
        parts.append(text.replace("from __future__ import annotations\n", "", 1))
    return "from __future__ import annotations\n" + "\n".join(parts)


@cache
def checker_source() -> str:
    """The checker's program (run with ``python3 -I -S -c``)."""
    return _source("plain.py", "_remote.py", "_checker.py")


@cache
def worker_source() -> str:
    """The solution-side program (started by the checker)."""
    return _source("plain.py", "_worker.py")


class SandboxGrader:
    """Grades in a sandbox of its own (no model socket): each batch of grades in a fresh
    workspace, each grade in the checker's fresh folder with its own solution process."""

    def __init__(self, box: Sandbox, *, workers: int | None = None) -> None:
        self.box = box
        self.workers = workers or box.config.slots

    def check(self, files: Mapping[str, str], tests: str, *, timeout: float) -> Verdict:
        """Run ``tests`` (a unittest module's source) against the solution ``files``."""
        return self.check_many([Submission("task", files, tests, timeout)])[0]

    def check_many(self, submissions: Sequence[Submission]) -> list[Verdict]:
        """Grade every submission; verdicts in order."""
        verdicts: dict[int, Verdict] = {}
        todo = []
        for index, sub in enumerate(submissions):
            size = sum(len(t.encode()) for t in sub.files.values())
            if size > MAX_SOLUTION_BYTES:
                verdicts[index] = Verdict(error=f"solution too large ({size} bytes)")
            else:
                todo.append(index)
        workers = max(1, min(self.workers, len(todo)))
        batches = [todo[k::workers] for k in range(workers)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for found in pool.map(lambda b: self._batch(submissions, b), batches):
                verdicts.update(found)
        for index in todo:  # a grade without a signed verdict is graded again, alone
            if index not in verdicts:
                verdicts[index] = self._batch(submissions, [index]).get(index) or Verdict(
                    error="no verdict from the checker (the solution broke the grading run)"
                )
        return [verdicts[i] for i in range(len(submissions))]

    def _batch(self, submissions: Sequence[Submission], indices: list[int]) -> dict[int, Verdict]:
        if not indices:
            return {}
        key = secrets.token_bytes(32)
        grades = [
            {
                "id": submissions[i].task_id,
                "files": dict(submissions[i].files),
                "tests": submissions[i].tests,
                "timeout": submissions[i].timeout,
                "memory_mb": submissions[i].memory_mb,
            }
            for i in indices
        ]
        spec = json.dumps(
            {
                "key": key.hex(),
                "worker": worker_source(),
                "grades": grades,
                "sweep": bool(self.box.isolated),
            }
        )
        limit = sum(submissions[i].timeout + 2.0 for i in indices) + 20.0
        argv = ["python3", "-I", "-S", "-c", checker_source()]
        # A fresh workspace per batch: a uid of its own, a private folder, and on leaving every
        # process and file of it killed and deleted (and checked) before the slot is reused.
        with self.box.workspace() as place:
            result = place.run(argv, stdin=spec.encode(), timeout_s=limit)
        found: dict[int, Verdict] = {}
        for line in result.stdout.splitlines():
            body = _verified(line, key)
            if body is None or body[0] != "CLADE-VERDICT":
                continue
            data = body[1]
            position = data.get("index")
            if not isinstance(position, int) or not 0 <= position < len(indices):
                continue
            index = indices[position]
            if data.get("id") != submissions[index].task_id or index in found:
                continue
            found[index] = Verdict(
                tests_run=int(data.get("run", 0)),
                failures=[(str(n), str(w)) for n, w in data.get("failed", [])],
                error=str(data.get("error", "")),
                timed_out=bool(data.get("timed_out", False)),
            )
        return found


def _verified(line: str, key: bytes) -> tuple[str, dict] | None:
    match = _LINE.match(line.strip())
    if match is None:
        return None
    kind, payload, mac = match.groups()
    want = hmac.new(key, f"{kind} {payload}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, mac):
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return (kind, data) if isinstance(data, dict) else None
