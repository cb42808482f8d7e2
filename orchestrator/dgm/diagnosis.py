"""Diagnosis: a model reads a parent's code and one failed task, and proposes a change.

The reply must hold one JSON object that validates as :class:`Proposal`. Invalid replies
are retried with the validation error shown to the model; after the last try the step
fails with :class:`DiagnosisFailed`, which the run records and moves past.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field, ValidationError

from clade import prompts
from clade.archive.errors import CladeError

Chat = Callable[[list[dict[str, str]]], str]


class Proposal(BaseModel):
    """The next improvement of an agent, as the diagnosis model proposed it."""

    what_failed: str = Field(min_length=3, description="What went wrong in the failed task.")
    improvement: str = Field(min_length=3, description="The general capability the agent lacks.")
    implementation_plan: str = Field(min_length=3, description="How to change the agent's code.")
    problem_statement: str = Field(
        min_length=10, description="The task given to the agent to edit itself."
    )


class DiagnosisFailed(CladeError):
    """No valid proposal after every try; ``replies`` holds what the model said."""

    def __init__(self, message: str, replies: list[str]) -> None:
        super().__init__(message)
        self.replies = replies


def parse_proposal(reply: str) -> Proposal:
    """The first JSON object in ``reply`` that validates as a Proposal."""
    decoder = json.JSONDecoder()
    last_error: Exception = ValueError("no JSON object in the reply")
    for start in (i for i, ch in enumerate(reply) if ch == "{"):
        try:
            value, _ = decoder.raw_decode(reply, start)
        except json.JSONDecodeError as exc:
            last_error = exc
            continue
        try:
            return Proposal.model_validate(value)
        except ValidationError as exc:
            last_error = exc
    raise ValueError(str(last_error))


def diagnose(
    chat: Chat,
    files: Sequence[tuple[str, str]],
    task: str,
    trajectory: str,
    result: str,
    tries: int = 3,
) -> Proposal:
    prompt = prompts.render(
        "diagnose", files=files, task=task, trajectory=trajectory, result=result
    )
    messages = [{"role": "user", "content": prompt}]
    replies: list[str] = []
    for _ in range(tries):
        reply = chat(messages)
        replies.append(reply)
        try:
            return parse_proposal(reply)
        except ValueError as exc:
            messages += [
                {"role": "assistant", "content": reply},
                {
                    "role": "user",
                    "content": f"That was not a valid answer: {exc}. Reply with the JSON object only.",
                },
            ]
    raise DiagnosisFailed(f"no valid proposal after {tries} tries", replies)
