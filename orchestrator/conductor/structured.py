"""Structured conductor turns: a turn decoded under a JSON-schema grammar (pure, no I/O).

A small model does not follow meta-prompting's text conventions (``Expert <Name>:`` and a
triple-quoted block): the 135M embedded model never wrote one well-formed call. On an
engine that decodes under a grammar (llama.cpp), the conductor's turn can be constrained
to one JSON object instead, the way diagnosis and the judges' verdicts are:

- ``{"experts": [{"name": "Expert Mathematician", "instruction": "..."}, ...]}``: consult
  these experts, in order; with a sandbox, ``{"name": "Expert Python", "instruction": "...",
  "code": "print(6 * 4)"}`` runs the conductor's own code directly;
- ``{"final_answer": "..."}``: answer. In the last allowed round only this shape is allowed,
  so a small model that keeps consulting experts still answers.

Only the conductor's turn is constrained; the experts' replies stay free text. A reply that
was cut off by ``max_tokens`` mid-object is closed before it is read, so what was written up
to the cut still counts. A reply that is no JSON object at all (an API model that ignored the
format) is read by the text conventions instead (:func:`~.parse.parse_turn`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from .parse import ExpertCall, Turn

if TYPE_CHECKING:
    from clade.orchestrator.models.layer import ModelLayer

#: ``auto``: structured when the conductor's model decodes under a grammar (llama.cpp).
StructuredMode = Literal["auto", "on", "off"]

MAX_EXPERTS = 3
NAME_CHARS = 48
INSTRUCTION_CHARS = 800
CODE_CHARS = 1500
ANSWER_CHARS = 400


def turn_schema(*, python: bool, final_only: bool = False) -> dict[str, Any]:
    """The JSON schema of one conductor turn (``code`` only when Expert Python can run code;
    ``final_only``: the last round, where only an answer is allowed).

    ``name`` comes first in an expert call and ``final_answer`` is the only field of an
    answer, so a reply cut short still names what it wanted."""
    answer = {"type": "string", "minLength": 1, "maxLength": ANSWER_CHARS}
    final = {"type": "object", "properties": {"final_answer": answer}, "required": ["final_answer"]}
    if final_only:
        return final
    call: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_CHARS},
        "instruction": {"type": "string", "minLength": 1, "maxLength": INSTRUCTION_CHARS},
    }
    if python:
        call["code"] = {"type": "string", "maxLength": CODE_CHARS}
    experts = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_EXPERTS,
        "items": {"type": "object", "properties": call, "required": ["name", "instruction"]},
    }
    calls = {"type": "object", "properties": {"experts": experts}, "required": ["experts"]}
    return {"anyOf": [calls, final]}


def turn_format(*, python: bool, final_only: bool = False) -> dict[str, Any]:
    """The OpenAI-style ``response_format`` of a structured turn (llama.cpp: a grammar)."""
    schema = turn_schema(python=python, final_only=final_only)
    return {"type": "json_schema", "json_schema": {"name": "conductor_turn", "schema": schema}}


def uses_structure(layer: ModelLayer, mode: StructuredMode, model: str | None = None) -> bool:
    """Whether the conductor's turns are structured: ``on``, or ``auto`` on an engine that
    decodes under a grammar (an API model reads the format from the prompt only)."""
    if mode == "auto":
        return bool(layer.decodes_with_grammar("conductor", model))
    return mode == "on"


def close_json(text: str) -> str:
    """``text`` with its open strings, arrays and objects closed (a reply cut mid-object)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    tail = ("\\" if escaped else "") + ('"' if in_string else "")
    return text + tail + "".join(reversed(stack))


def load_object(text: str) -> dict[str, Any] | None:
    """The JSON object ``text`` holds, closing it first if it was cut; None when there is none.

    When closing is not enough (the cut fell after a key or a comma), the text is cut back
    to its last complete value: at most 64 tries, each linear in the text."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    candidate = text
    for _ in range(64):
        try:
            data = json.loads(close_json(candidate))
        except ValueError:
            cut = max(candidate.rfind(","), candidate.rfind("{", 1), candidate.rfind("[", 1))
            if cut <= 0:
                return None
            candidate = candidate[:cut]
            continue
        return data if isinstance(data, dict) else None
    return None


def _name(raw: str) -> str:
    """``Expert <Name>`` from what the model wrote ("Mathematician", "expert  Python")."""
    words = raw.split()
    if words and words[0].lower() == "expert":
        words = words[1:]
    return " ".join(["Expert", *words])


def parse_structured_turn(text: str, *, python: bool = False) -> Turn | None:
    """The turn in a structured reply, or None when ``text`` is no JSON object.

    Expert calls win over a final answer in the same object (as in a text turn); calls with
    an empty name or instruction are dropped; ``code`` is kept for Expert Python only, and
    only when ``python`` (a sandbox can run it)."""
    data = load_object(text)
    if data is None:
        return None
    experts: list[ExpertCall] = []
    raw_calls = data.get("experts")
    for raw in raw_calls if isinstance(raw_calls, list) else []:
        if not isinstance(raw, dict):
            continue
        name, instruction = raw.get("name"), raw.get("instruction")
        if not isinstance(name, str) or not isinstance(instruction, str):
            continue
        if not name.strip() or not instruction.strip():
            continue
        call = ExpertCall(name=_name(name), instruction=instruction.strip())
        code = raw.get("code")
        if python and call.is_python and isinstance(code, str) and code.strip():
            call = call.model_copy(update={"code": code.strip("\n")})
        experts.append(call)
    answer = data.get("final_answer")
    final = answer.strip() if isinstance(answer, str) and answer.strip() else None
    return Turn(experts=experts[:MAX_EXPERTS], final_answer=final)


__all__ = [
    "StructuredMode",
    "close_json",
    "load_object",
    "parse_structured_turn",
    "turn_format",
    "turn_schema",
    "uses_structure",
]
