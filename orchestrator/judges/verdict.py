"""Verdicts of a pairwise judge and the records every judge shares.

A judge answers ``[[A]]`` or ``[[B]]``; an answer holding both markers, or neither, is
invalid (``None``): it counts as wrong in every metric and never as a tie. On local engines
the verdict call is decoded under :data:`VERDICT_FORMAT`, which allows only valid answers.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["A", "B"]
Path = Literal["vanilla", "consistent", "lwe"]

_MARKER = re.compile(r"\[\[\s*([AB])\s*\]\]")


# Local engines decode a verdict under this JSON schema (llama.cpp turns it into a grammar),
# so even a tiny model answers with exactly one marker; API models see only the prompt.
VERDICT_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "schema": {
            "type": "object",
            "properties": {
                "verdict": {"enum": ["[[A]]", "[[B]]"]},  # first: max_tokens never cuts it
                "reason": {"type": "string", "maxLength": 300},
            },
            "required": ["verdict", "reason"],
        },
    },
}


def parse_verdict(text: str) -> Verdict | None:
    """``"A"`` or ``"B"`` when exactly one of ``[[A]]``/``[[B]]`` occurs in ``text``, else None.

    A JSON object with a ``verdict`` field (the constrained answer of a local model) is read
    by that field alone, so a reason that quotes a marker cannot spoil it.
    """
    if text.lstrip().startswith("{"):
        try:
            field = json.loads(text).get("verdict")
        except (ValueError, AttributeError):
            field = None
        if isinstance(field, str):
            text = field
    found = {m.group(1) for m in _MARKER.finditer(text)}
    if len(found) != 1:
        return None
    return "A" if "A" in found else "B"


def flip(verdict: Verdict | None) -> Verdict | None:
    """The verdict on the other presentation order (None stays None)."""
    if verdict is None:
        return None
    return "B" if verdict == "A" else "A"


class Pair(BaseModel):
    """One input row of ``clade judge``: a question and two answers, maybe with the better one."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, description="Item id; the row number when absent.")
    question: str = Field(description="What both answers respond to.")
    answer_a: str = Field(description="The answer shown first.")
    answer_b: str = Field(description="The answer shown second.")
    label: Verdict | None = Field(
        default=None, description="The better answer, for metrics only: never shown to a judge."
    )

    def swapped(self) -> Pair:
        """The same pair with the answers in the other order (and the label mapped)."""
        return Pair(
            id=self.id,
            question=self.question,
            answer_a=self.answer_b,
            answer_b=self.answer_a,
            label=flip(self.label),
        )


class Decision(BaseModel):
    """What a judge emitted for one presentation of one pair, and what it cost."""

    verdict: Verdict | None = Field(description="A, B, or None when the output was invalid.")
    path: Path = Field(
        description="vanilla (one call), consistent (selective: both orders agreed), lwe."
    )
    calls: int = Field(default=0, description="Model calls made for this verdict (updates too).")
    tokens: int = Field(default=0, description="Prompt plus completion tokens of those calls.")
    steps: list[dict[str, Any]] = Field(
        default_factory=list, description="Each call's template, output and parsed result."
    )
    updated: bool = Field(default=False, description="Whether M changed after this verdict.")
