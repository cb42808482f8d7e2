"""The self-feedback record of an LWE judge, and the text hygiene around it.

A small model rarely writes clean JSON, so :func:`parse_feedback` reads JSON when it can
and falls back to reading a score, a confidence word and bulleted tips from free text.
:func:`clean_text` keeps rubrics and tips free of verdicts and of the example's own text:
M must learn reusable guidance, never one item's answer.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from .verdict import Verdict

Confidence = Literal["low", "medium", "high"]

_VERDICT_LINE = re.compile(
    r"\[\[|\]\]|\b(answer|response)\s+[AB]\s+(is|was)\s+(better|worse|correct|wrong)", re.I
)
_COPY_MIN = 16  # a line this long found verbatim in the example counts as copied


class Feedback(BaseModel):
    """What the judge says about its own judgement of one item."""

    item: str = Field(description="Id of the item judged.")
    verdict: Verdict | None = Field(description="The verdict it emitted (None: invalid).")
    score: int = Field(ge=1, le=5, description="How good the rubric and judgement were, 1-5.")
    confidence: Confidence = Field(description="How sure the judge is of its verdict.")
    tips: list[str] = Field(min_length=1, max_length=3, description="New reusable tips, 1-3.")
    parsed: bool = Field(
        default=True, description="False when the reply was not JSON and was read as free text."
    )

    @field_validator("tips")
    @classmethod
    def _short(cls, tips: list[str]) -> list[str]:
        return [t.strip()[:300] for t in tips]


def _copied(line: str, sources: list[str]) -> bool:
    text = " ".join(line.split())
    if len(text) < _COPY_MIN:
        return False
    for source in sources:
        flat = " ".join(source.split())
        if text in flat:
            return True
        for part in source.splitlines():
            part = " ".join(part.split())
            if len(part) >= _COPY_MIN and part in text:
                return True
    return False


def clean_text(text: str, sources: list[str]) -> str:
    """``text`` without lines that state a verdict or copy a line of ``sources``."""
    kept = [
        line
        for line in text.splitlines()
        if not _VERDICT_LINE.search(line) and not _copied(line, sources)
    ]
    return "\n".join(kept).strip()


def _from_json(text: str) -> dict[str, object] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def parse_feedback(
    text: str, *, item: str, verdict: Verdict | None, sources: list[str]
) -> Feedback:
    """The feedback in ``text``; tips that copy ``sources`` or state a verdict are dropped."""
    data = _from_json(text)
    if data is not None:
        tips_raw = data.get("tips")
        tips = [str(t) for t in tips_raw] if isinstance(tips_raw, list) else []
        tips = [t for t in (clean_text(t, sources) for t in tips) if t][:3]
        try:
            return Feedback(
                item=item,
                verdict=verdict,
                score=int(str(data.get("score"))),
                confidence=str(data.get("confidence", "")).lower(),  # type: ignore[arg-type]
                tips=tips,
            )
        except (ValidationError, ValueError):
            pass
    score_match = re.search(r"score\D{0,12}([1-5])", text, re.I) or re.search(r"\b([1-5])\b", text)
    conf_match = re.search(r"\b(low|medium|high)\b", text, re.I)
    bullets = [
        re.sub(r"^\s*(?:[-*\u2022]|\d+[.)]|tips?:)\s*", "", line, flags=re.I)
        for line in text.splitlines()
        if re.match(r"^\s*(?:[-*\u2022]|\d+[.)]|tips?:)", line, re.I)
    ]
    tips = [t for t in (clean_text(b, sources) for b in bullets) if len(t) > 8][:3]
    if not tips:
        tips = ["Check each criterion against the question before choosing."]
    return Feedback(
        item=item,
        verdict=verdict,
        score=int(score_match.group(1)) if score_match else 3,
        confidence=conf_match.group(1).lower() if conf_match else "low",  # type: ignore[arg-type]
        tips=tips,
        parsed=False,
    )
