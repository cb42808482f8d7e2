"""Diagnosis: a model reads a parent's code and one failed task, and proposes a change.

The reply must hold one JSON object that validates as :class:`Proposal`. Invalid replies
are retried with the validation error shown to the model; after the last try the step
fails with :class:`DiagnosisFailed`, which the run records and moves past.

A proposal names its kind of mutation: ``edit`` (the parent rewrites its own code with the
proposal as its task) or ``experience`` (the child gains the run's solved dev tasks as
worked examples; the run graph makes it). ``experience`` is offered only when the steps say
that solved dev trajectories exist; on local engines the JSON schema then allows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from clade import prompts
from clade.archive.errors import CladeError

Chat = Callable[[list[dict[str, str]]], str]


Mutation = Literal["edit", "experience"]


class Proposal(BaseModel):
    """The next improvement of an agent, as the diagnosis model proposed it."""

    mutation: Mutation = Field(
        default="edit",
        description="edit: the agent rewrites its own code; experience: it gains the run's "
        "solved dev tasks as worked examples.",
    )
    what_failed: str = Field(min_length=3, description="What went wrong in the failed task.")
    improvement: str = Field(min_length=3, description="The general capability the agent lacks.")
    implementation_plan: str = Field(min_length=3, description="How to change the agent's code.")
    problem_statement: str = Field(
        min_length=10, description="The task given to the agent to edit itself."
    )


#: Share of a grammar-capped proposal's characters per field.
_SHARES = {
    "what_failed": 0.15,
    "improvement": 0.15,
    "implementation_plan": 0.3,
    "problem_statement": 0.4,
}


def proposal_format(experience: bool = False, max_chars: int | None = None) -> dict[str, Any]:
    """The OpenAI-style ``response_format`` of a proposal; ``mutation`` may be
    ``experience`` only when ``experience`` is offered. ``max_chars`` caps the text fields
    together (for a grammar: a reply cut off by max_tokens is not valid JSON)."""
    schema = Proposal.model_json_schema()
    properties = schema["properties"]
    if not experience:
        properties["mutation"] = {**properties["mutation"], "enum": ["edit"]}
    if max_chars is not None:
        for name, share in _SHARES.items():
            low = properties[name].get("minLength", 1)
            properties[name] = {
                **properties[name],
                "maxLength": max(low + 20, int(max_chars * share)),
            }
    return {"type": "json_schema", "json_schema": {"name": "proposal", "schema": schema}}


class DiagnosisFailed(CladeError):
    """No valid proposal after every try; ``replies`` holds what the model said."""

    def __init__(self, message: str, replies: list[str]) -> None:
        super().__init__(message)
        self.replies = replies


def json_values(reply: str) -> Iterator[Any]:
    """Each JSON value that starts at a ``{`` of ``reply``, in order; what does not decode
    is yielded as its ``json.JSONDecodeError`` (a model's reply holds prose around it)."""
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(reply) if ch == "{"):
        try:
            yield decoder.raw_decode(reply, start)[0]
        except json.JSONDecodeError as exc:
            yield exc


def parse_proposal(reply: str, experience: bool = True) -> Proposal:
    """The first JSON object in ``reply`` that validates as a Proposal (with ``experience``
    False, one that asks for the experience mutation is an edit)."""
    last_error: Exception = ValueError("no JSON object in the reply")
    for value in json_values(reply):
        if isinstance(value, json.JSONDecodeError):
            last_error = value
            continue
        try:
            proposal = Proposal.model_validate(value)
        except ValidationError as exc:
            last_error = exc
            continue
        if proposal.mutation == "experience" and not experience:
            proposal = proposal.model_copy(update={"mutation": "edit"})
        return proposal
    raise ValueError(str(last_error))


def diagnose(
    chat: Chat,
    files: Sequence[tuple[str, str]],
    task: str,
    trajectory: str,
    result: str,
    tries: int = 3,
    experience: bool = False,
    *,
    more_failures: Sequence[Mapping[str, str]] = (),
    render: Callable[[dict[str, Any]], str] | None = None,
) -> Proposal:
    """Ask ``chat`` for a proposal; ``experience``: solved dev trajectories exist, so the
    experience mutation is offered; ``more_failures``: further failed tasks shown (task,
    trajectory, result); ``render``: the prompt from these variables (default: the shipped
    ``diagnose`` template; an editable procedure brings the parent's own)."""
    variables: dict[str, Any] = {
        "files": files,
        "task": task,
        "trajectory": trajectory,
        "result": result,
        "experience": experience,
        "more_failures": [dict(m) for m in more_failures],
    }
    prompt = render(variables) if render else prompts.render("diagnose", **variables)
    messages = [{"role": "user", "content": prompt}]
    replies: list[str] = []
    for _ in range(tries):
        reply = chat(messages)
        replies.append(reply)
        try:
            return parse_proposal(reply, experience)
        except ValueError as exc:
            messages += [
                {"role": "assistant", "content": reply},
                {
                    "role": "user",
                    "content": f"That was not a valid answer: {exc}. Reply with the JSON object only.",
                },
            ]
    raise DiagnosisFailed(f"no valid proposal after {tries} tries", replies)
