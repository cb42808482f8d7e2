"""Selective LWE: learn only from the items the vanilla judge cannot settle.

Each pair is judged in both orders by the vanilla judge. When the two verdicts agree once
the swap is undone, that verdict is emitted (2 calls; M untouched). Otherwise the LWE path
runs with the current M, its verdict is emitted and its feedback buffered; M is updated
whenever the buffer holds ``batch`` records, across items, and :meth:`flush` spends what
is left at the end of a run.
"""

from __future__ import annotations

from .lwe import LWEJudge, UpdateResult
from .vanilla import VanillaJudge
from .verdict import Decision, flip


class SelectiveJudge:
    """Vanilla in both orders; LWE when they disagree (or either is invalid)."""

    def __init__(self, vanilla: VanillaJudge, lwe: LWEJudge) -> None:
        self.vanilla = vanilla
        self.lwe = lwe

    def judge(self, item: str, question: str, answer_a: str, answer_b: str) -> Decision:
        forward = self.vanilla.judge(item, question, answer_a, answer_b)
        backward = self.vanilla.judge(item, question, answer_b, answer_a)
        undone = flip(backward.verdict)
        steps = [
            {**forward.steps[0], "order": "as given"},
            {**backward.steps[0], "order": "swapped", "verdict_mapped_back": undone},
        ]
        calls = forward.calls + backward.calls
        tokens = forward.tokens + backward.tokens
        if forward.verdict is not None and forward.verdict == undone:
            return Decision(
                verdict=forward.verdict, path="consistent", calls=calls, tokens=tokens, steps=steps
            )
        decision = self.lwe.learn(self.lwe.evaluate(item, question, answer_a, answer_b))
        return decision.model_copy(
            update={
                "calls": decision.calls + calls,
                "tokens": decision.tokens + tokens,
                "steps": steps + decision.steps,
            }
        )

    def flush(self) -> UpdateResult | None:
        """Update M with the feedback still buffered."""
        return self.lwe.flush()
