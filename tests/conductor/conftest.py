"""Scripted conductor and expert models that record what they were sent."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from clade.orchestrator.conductor import PythonRun

Q = '"""'


class Scripted:
    """A scripted model: replies in order (or from ``fn``), recording every request."""

    def __init__(
        self, replies: Sequence[str] = (), fn: Callable[[list[dict[str, Any]]], str] | None = None
    ) -> None:
        self.replies, self.fn = list(replies), fn
        self.seen: list[list[dict[str, Any]]] = []

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        self.seen.append([dict(m) for m in messages])
        if self.fn is not None:
            return self.fn(messages)
        assert self.replies, "the scripted model ran out of replies"
        return self.replies.pop(0)


class RecordingPython:
    """A stand-in interpreter that records the code it is given (Docker tests run real code)."""

    timeout_s = 3.0

    def __init__(self) -> None:
        self.codes: list[str] = []

    def run(self, code: str) -> PythonRun:
        self.codes.append(code)
        return PythonRun(code=code, stdout="24\n", exit_code=0, timeout_s=self.timeout_s)


def expert_turn(*calls: tuple[str, str], extra: str = "") -> str:
    """A conductor turn calling ``calls`` (name, instruction) in order."""
    blocks = [f"Expert {name}:\n{Q}\n{text}\n{Q}" for name, text in calls]
    return "Let me consult.\n\n" + "\n\n".join(blocks) + extra


def final(answer: str) -> str:
    return f"Verified.\n>> FINAL ANSWER:\n{Q}\n{answer}\n{Q}"


@pytest.fixture
def make_layer():
    """make_layer(conductor, expert) -> a ModelLayer whose two roles play these scripts."""
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.scripted import register_script
    from clade.orchestrator.models.spec import ModelsConfig, ModelSpec, RetryPolicy

    def make(conductor: Scripted, expert: Scripted | None = None, *, grammar: bool = False) -> Any:
        """``grammar``: the conductor's model claims to decode under a JSON-schema grammar."""
        tag = uuid.uuid4().hex[:8]
        name = register_script(f"conductor-{tag}", conductor, grammar=grammar)
        roles = {"conductor": ModelSpec(model=name)}
        if expert is not None:
            roles["expert"] = ModelSpec(model=register_script(f"expert-{tag}", expert))
        config = ModelsConfig(roles=roles, retry=RetryPolicy(max_retries=0))  # type: ignore[arg-type]
        return ModelLayer(config)

    return make
