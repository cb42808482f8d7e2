"""The vanilla pairwise judge: one call, one verdict, no memory."""

from __future__ import annotations

from typing import Any

from .caller import Caller, CallStep
from .verdict import Decision, Verdict, parse_verdict

MAX_TOKENS = 64


class VanillaJudge:
    """Asks the ``judge`` role once for ``[[A]]`` or ``[[B]]``."""

    def __init__(self, caller: Caller, *, max_tokens: int = MAX_TOKENS) -> None:
        self.caller = caller
        self.max_tokens = max_tokens

    def judge(self, item: str, question: str, answer_a: str, answer_b: str) -> Decision:
        """The verdict on one presentation (``item`` is its id; no label is ever passed)."""
        with self.caller.spending() as spent:
            verdict, step = ask_verdict(
                self.caller, "judge_vanilla", self.max_tokens, question, answer_a, answer_b
            )
        return Decision(
            verdict=verdict,
            path="vanilla",
            calls=spent.calls,
            tokens=spent.tokens,
            steps=[{**step.model_dump(), "verdict": verdict}],
        )

    def flush(self) -> None:
        """Nothing to flush: the vanilla judge does not learn."""


def ask_verdict(
    caller: Caller, template: str, tokens: int, question: str, answer_a: str, answer_b: str,
    **extra: Any,
) -> tuple[Verdict | None, CallStep]:  # fmt: skip
    """One ``judge`` call on one presentation, decoded as a verdict (``extra``: more fields of
    the ``template``, e.g. LWE's rubric)."""
    step = caller(
        template, role="judge", max_tokens=tokens, verdict=True,
        question=question, answer_a=answer_a, answer_b=answer_b, **extra,
    )  # fmt: skip
    return parse_verdict(step.output), step
