"""The fast path for many small tasks: one warm sandbox, one runner, per-task timeouts.

A ``docker exec`` costs about 0.1 s of engine work, more than a small task itself, so
:func:`run_batch` starts one exec of the in-sandbox runner (:mod:`clade.sandbox._runner`)
that runs the tasks ``workers`` at a time, each in its own session with its own timeout
and output cap, and streams back one result per task. Tasks of one batch share a uid: a
task that escapes its process group lives until the batch ends, when the sandbox kills
every process of that uid. Use separate ``run`` calls (or sandboxes) where tasks must be
isolated from each other.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from pathlib import Path

from clade.sandbox import _runner
from clade.sandbox.config import ExecResult
from clade.sandbox.protocol import Sandbox

_SLACK_S = 30.0
#: The runner's source, sent as ``python3 -c``.
SOURCE = Path(_runner.__file__).read_text()


def run_batch(
    sandbox: Sandbox,
    commands: Sequence[Sequence[str]],
    *,
    timeout_s: float,
    workers: int | None = None,
    output_limit_bytes: int = 64 << 10,
    workdir: str = ".",
) -> list[ExecResult]:
    """Run every command in ``sandbox``, ``workers`` (default: its slots) at a time, each with
    its own ``timeout_s``; one result per command, in order."""
    if not commands:
        return []
    workers = workers or sandbox.config.slots
    spec = {
        "commands": [list(cmd) for cmd in commands],
        "timeout": timeout_s,
        "workers": workers,
        "keep": output_limit_bytes,
        "kill": max(output_limit_bytes, sandbox.config.output_kill_bytes),
    }
    waves = math.ceil(len(commands) / workers)
    runner = sandbox.run(
        ["python3", "-c", SOURCE],
        stdin=json.dumps(spec).encode(),
        timeout_s=waves * (timeout_s + 1.0) + _SLACK_S,
        workdir=workdir,
        output_limit_bytes=len(commands) * (3 * output_limit_bytes + 1024) + 4096,
    )
    found: dict[int, ExecResult] = {}
    for line in runner.stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        for name in ("stdout", "stderr"):
            row[name] = base64.b64decode(row.get(name, "")).decode(errors="replace")
        found[row.pop("index")] = ExecResult(**row)
    lost = f"the batch runner ended before this task ({runner.reason or 'no result'})"
    return [found.get(i) or ExecResult(exit_code=None, error=lost) for i in range(len(commands))]
