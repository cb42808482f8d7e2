"""The seed coding agent's loop: ask the model, run one action, show it the result, repeat.

Everything here is the agent's own code and may be rewritten by a self-improvement step,
and so are the prompt files and worked examples that ``context.py`` reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from . import context
from .actions import MalformedAction, parse_action
from .tools import apply_edit, run_bash

NOTHING_DONE = "Nothing has been done yet: take the first step of the task before you finish."

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


class TrajectoryLog:
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
    task: str,
    workdir: Path,
    complete: Complete,
    limits: Limits,
    trajectory: TrajectoryLog,
    style: str = "tags",
    budget: context.ContextBudget | None = None,
    examples: tuple[Path, ...] = (context.EXAMPLES, context.EXPERIENCE),
) -> Outcome:
    """Work on ``task`` in ``workdir`` until the model finishes or a limit is reached.

    ``style`` is the action format the model is asked for: tags, or json when the model
    decodes under the action grammar (the caller then sends the schema with each request)."""
    budget = budget or context.BUDGETS.get(style, context.BUDGETS["tags"])
    shown, used, invalid = context.load_examples(task, style, budget, examples)
    messages = [{"role": "system", "content": context.system_prompt(style)}, *shown]
    context.append(messages, "user", context.task_message(task, workdir))
    head = len(messages)
    started, tokens = time.monotonic(), 0
    acted = warned = False  # whether an action ran; whether an early finish was refused
    trajectory.write(
        event="start", task=task, limits=asdict(limits), style=style, examples=used,
        invalid_examples=invalid,
    )  # fmt: skip
    for step in range(1, limits.max_steps + 1):
        elapsed = time.monotonic() - started
        if elapsed > limits.max_seconds:
            return _end(trajectory, Outcome("time_limit", step - 1, tokens))
        if tokens >= limits.max_tokens:
            return _end(trajectory, Outcome("token_limit", step - 1, tokens))
        try:
            reply, used_tokens = complete(context.fit(messages, head, budget.context_chars))
        except Exception as exc:  # the model is unreachable, too slow or over budget: stop
            trajectory.write(event="model_error", step=step, error=f"{type(exc).__name__}: {exc}")
            return _end(trajectory, Outcome("model_error", step - 1, tokens, str(exc)))
        tokens += used_tokens
        messages.append({"role": "assistant", "content": reply})
        try:
            action = parse_action(reply, style)
        except MalformedAction as exc:
            observation = str(exc)
            trajectory.write(
                event="step", step=step, reply=reply, action=None, observation=observation
            )
            messages.append({"role": "user", "content": observation})
            continue
        if action.kind == "finish" and not acted and not warned:
            # Small models copy an example's last turn and finish at once: ask once for work.
            warned = True
            observation = NOTHING_DONE
            trajectory.write(
                event="step", step=step, reply=reply, action=None, observation=observation
            )
            messages.append({"role": "user", "content": observation})
            continue
        if action.kind == "finish":
            trajectory.write(event="step", step=step, reply=reply, action="finish", observation="")
            return _end(trajectory, Outcome("finished", step, tokens, action.body))
        acted = True
        remaining = limits.max_seconds - (time.monotonic() - started)
        observation = _act(action, workdir, min(limits.command_timeout, max(1.0, remaining)))
        trajectory.write(
            event="step", step=step, reply=reply, action=action.kind, observation=observation
        )
        clipped = context.clip(observation, budget.observation_chars)
        messages.append({"role": "user", "content": context.result_message(clipped)})
    return _end(trajectory, Outcome("step_limit", limits.max_steps, tokens))


def _act(action, workdir: Path, command_timeout: float) -> str:
    try:
        if action.kind == "bash":
            return run_bash(action.body, workdir, command_timeout)
        return apply_edit(action, workdir)
    except (OSError, ValueError) as exc:
        return f"error: {exc}"


def _end(trajectory: TrajectoryLog, outcome: Outcome) -> Outcome:
    trajectory.write(event="end", **asdict(outcome))
    return outcome
