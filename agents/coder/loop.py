"""The seed coding agent's loop: ask the model, run one action, show it the result, repeat.

Everything here is the agent's own code and may be rewritten by a self-improvement step,
the system prompt included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .actions import FORMAT_HELP, MalformedAction, parse_action
from .tools import apply_edit, run_bash

SYSTEM_PROMPT = f"""You are a careful software engineer working in a repository.
Solve the task by running shell commands and editing files, one action per reply.
{FORMAT_HELP}
Look before you edit, and run the tests before you finish."""

# The model's reply and the tokens that call used.
Complete = Callable[[list[dict[str, str]]], tuple[str, int]]


@dataclass(frozen=True)
class Limits:
    max_steps: int = 20
    max_seconds: float = 600.0
    max_tokens: int = 50_000
    command_timeout: float = 60.0


@dataclass
class Outcome:
    status: str  # finished | step_limit | time_limit | token_limit | model_error
    steps: int
    tokens: int
    summary: str = ""


class Trajectory:
    """One JSON object per line, flushed as the agent goes, so a kill loses nothing."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def write(self, **event: object) -> None:
        self._file.write(json.dumps({"time": round(time.time(), 3), **event}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def solve(
    task: str, workdir: Path, complete: Complete, limits: Limits, trajectory: Trajectory
) -> Outcome:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Task:\n{task}\n\nWork directory: {workdir}"},
    ]
    started, tokens = time.monotonic(), 0
    trajectory.write(event="start", task=task, limits=asdict(limits))
    for step in range(1, limits.max_steps + 1):
        if time.monotonic() - started > limits.max_seconds:
            return _end(trajectory, Outcome("time_limit", step - 1, tokens))
        if tokens >= limits.max_tokens:
            return _end(trajectory, Outcome("token_limit", step - 1, tokens))
        try:
            reply, used = complete(messages)
        except Exception as exc:  # the model is unreachable or over budget: stop, keep the work
            trajectory.write(event="model_error", step=step, error=f"{type(exc).__name__}: {exc}")
            return _end(trajectory, Outcome("model_error", step - 1, tokens, str(exc)))
        tokens += used
        messages.append({"role": "assistant", "content": reply})
        try:
            action = parse_action(reply)
        except MalformedAction as exc:
            observation = str(exc)
            trajectory.write(
                event="step", step=step, reply=reply, action=None, observation=observation
            )
            messages.append({"role": "user", "content": observation})
            continue
        if action.kind == "finish":
            trajectory.write(event="step", step=step, reply=reply, action="finish", observation="")
            return _end(trajectory, Outcome("finished", step, tokens, action.body))
        observation = _act(action, workdir, limits)
        trajectory.write(
            event="step", step=step, reply=reply, action=action.kind, observation=observation
        )
        messages.append({"role": "user", "content": f"Result:\n{observation}"})
    return _end(trajectory, Outcome("step_limit", limits.max_steps, tokens))


def _act(action, workdir: Path, limits: Limits) -> str:
    try:
        if action.kind == "bash":
            return run_bash(action.body, workdir, limits.command_timeout)
        return apply_edit(action, workdir)
    except (OSError, ValueError) as exc:
        return f"error: {exc}"


def _end(trajectory: Trajectory, outcome: Outcome) -> Outcome:
    trajectory.write(event="end", **asdict(outcome))
    return outcome
