"""The agent's tools: a shell command and file edits, confined to its work directory."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from .actions import Action

OUTPUT_LIMIT = 8000  # characters of a command's output shown to the model


def _clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


def run_bash(command: str, cwd: Path, timeout: float) -> str:
    """Run `command` in its own process group; on timeout the whole group is killed."""
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return _clip(out.decode(errors="replace")) + f"\n[timed out after {timeout:.0f}s]"
    text = _clip(out.decode(errors="replace"))
    return f"{text}\n[exit code {proc.returncode}]"


def _inside(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"{relative} is outside the work directory")
    return target


def apply_edit(action: Action, root: Path) -> str:
    """Apply a write or replace action under `root`; returns what the model should read."""
    target = _inside(root.resolve(), action.path)
    if action.kind == "write":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(action.body)
        return f"wrote {action.path} ({len(action.body)} characters)"
    if not target.is_file():
        return f"error: {action.path} does not exist; use a write action to create it"
    text = target.read_text()
    count = text.count(action.old)
    if count != 1:
        where = "not found" if count == 0 else f"found {count} times"
        return f"error: the old text was {where} in {action.path}; it must match exactly once"
    target.write_text(text.replace(action.old, action.new, 1))
    return f"replaced text in {action.path}"
