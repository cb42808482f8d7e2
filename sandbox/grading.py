"""Scoring out of the agent's reach.

Grading isolation: the agent works in one sandbox; only the files it was asked to produce
are copied out, and they are scored in a *fresh* sandbox where the pristine tests are
copied in read-only (owned by another uid than the one the scorer runs as). Nothing the
agent wrote in its own sandbox (tests it edited, a ``sitecustomize.py``, background
processes) reaches the grading one.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence

from clade.sandbox.config import ExecResult
from clade.sandbox.errors import SandboxError
from clade.sandbox.protocol import Sandbox

SUBMISSION_DIR = "submission"
TESTS_DIR = "tests"


def grade_in_fresh_sandbox(
    make_sandbox: Callable[[], Sandbox],
    *,
    submission: Mapping[str, bytes],
    tests: Mapping[str, bytes],
    command: Sequence[str],
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
) -> ExecResult:
    """Run ``command`` in a new sandbox holding ``submission/`` and ``tests/`` (both
    read-only to it); the result's ``ok`` is the verdict."""
    with make_sandbox() as sandbox:
        sandbox.put_files(tests, TESTS_DIR, writable=False)
        sandbox.put_files(submission, SUBMISSION_DIR, writable=False)
        return sandbox.run(command, timeout_s=timeout_s, env=env)


def collect_submission(sandbox: Sandbox, paths: Sequence[str]) -> dict[str, bytes]:
    """Copy the named output files or folders out of the agent's sandbox; missing ones are
    skipped (the scorer then fails them)."""
    out: dict[str, bytes] = {}
    for path in paths:
        try:
            found = sandbox.get_files(path)
        except SandboxError:
            continue
        if len(found) == 1 and posixpath.basename(path) in found:
            out[path] = found[posixpath.basename(path)]
        else:
            out.update({posixpath.join(path, name): data for name, data in found.items()})
    return out
