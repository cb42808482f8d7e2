"""The vanilla pairwise judge: one call, one verdict, no memory."""

from __future__ import annotations

from .caller import Caller
from .verdict import Decision, parse_verdict

MAX_TOKENS = 64


class VanillaJudge:
    """Asks the ``judge`` role once for ``[[A]]`` or ``[[B]]``."""

    def __init__(self, caller: Caller, *, max_tokens: int = MAX_TOKENS) -> None:
        self.caller = caller
        self.max_tokens = max_tokens

    def judge(self, item: str, question: str, answer_a: str, answer_b: str) -> Decision:
        """The verdict on one presentation (``item`` is its id; no label is ever passed)."""
        with self.caller.spending() as spent:
            step = self.caller(
                "judge_vanilla",
                role="judge",
                max_tokens=self.max_tokens,
                verdict=True,
                question=question,
                answer_a=answer_a,
                answer_b=answer_b,
            )
        verdict = parse_verdict(step.output)
        return Decision(
            verdict=verdict,
            path="vanilla",
            calls=spent.calls,
            tokens=spent.tokens,
            steps=[{**step.model_dump(), "verdict": verdict}],
        )

    def flush(self) -> None:
        """Nothing to flush: the vanilla judge does not learn."""
