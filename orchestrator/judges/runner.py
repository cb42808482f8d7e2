"""Run a judge over pairs, in both presentation orders, and compute the metrics.

Metrics (items with a label only, except consistency):

- accuracy: share of verdicts on the pair as given that match the label;
- swap accuracy: share correct when the pair is shown swapped (verdict mapped back);
- consistency: share of items whose two orders agree once the swap is undone (an invalid
  verdict never agrees);
- pair accuracy: share of items correct in both orders.

Every method emits one verdict per presentation, so to get the swap metrics honestly each
method is run on both presentations (the swapped one right after the original; learning
judges learn from both). Cost is reported per emitted verdict: ``calls_per_item`` is every
call the method made (updates of M and the final flush included) divided by the verdicts
it emitted; a pair shown in both orders costs twice that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, Unpack

from pydantic import BaseModel, Field

from .caller import Caller
from .lwe import LWEJudge, LWEOptions
from .selective import SelectiveJudge
from .store import MetaPromptStore
from .vanilla import VanillaJudge
from .verdict import Decision, Pair, Path, Verdict, flip

Method = Literal["vanilla", "lwe", "selective"]
METHODS: tuple[Method, ...] = ("vanilla", "lwe", "selective")


class Judge(Protocol):
    """What the runner needs of a judge."""

    def judge(self, item: str, question: str, answer_a: str, answer_b: str) -> Decision: ...

    def flush(self) -> object: ...


def build_judge(
    method: Method, caller: Caller, store: MetaPromptStore, **options: Unpack[LWEOptions]
) -> Judge:
    """A judge of ``method``; LWE and selective keep M in ``store`` (resuming its latest, or
    starting from ``seed``, e.g. a meta-prompt evolved by a judge prompt-set run).

    With ``gold`` (a scorer of the same method) every version of M is scored on the gold set
    and its report kept in ``store``; the vanilla judge, which has no M, is scored once."""
    gold = options.get("gold")
    if gold is not None and gold.method != method:
        from clade.archive.errors import ConfigError

        raise ConfigError(
            f"a {method} judge cannot be scored by a {gold.method} gold scorer",
            hint="build the GoldScorer with the judge's method",
        )
    if method == "vanilla":
        if gold is not None:
            store.record_gold(gold.score(None, label="vanilla"))
        return VanillaJudge(caller)
    lwe = LWEJudge(caller, store, **options)
    return lwe if method == "lwe" else SelectiveJudge(VanillaJudge(caller), lwe)


class PairResult(BaseModel):
    """The verdicts on one pair and what they cost."""

    id: str = Field(description="Item id.")
    label: Verdict | None = Field(description="The better answer, when the input had it.")
    verdict: Verdict | None = Field(description="Verdict on the pair as given.")
    verdict_swapped: Verdict | None = Field(
        default=None, description="Verdict on the swapped pair, mapped back (None: not run)."
    )
    path: Path = Field(description="How the verdict as given was reached.")
    path_swapped: Path | None = Field(default=None, description="Same, for the swapped order.")
    calls: int = Field(description="Model calls for this item (both orders).")
    tokens: int = Field(description="Tokens for this item (both orders).")
    verdicts: int = Field(description="Verdicts emitted for this item: 1 or 2.")


class Metrics(BaseModel):
    """Quality and cost of one method on a set of pairs."""

    items: int = Field(description="Pairs judged.")
    labelled: int = Field(description="Pairs with a label.")
    accuracy: float | None = Field(description="Correct share, original order.")
    swap_accuracy: float | None = Field(description="Correct share, swapped order.")
    consistency: float | None = Field(description="Share whose two orders agree.")
    pair_accuracy: float | None = Field(description="Share correct in both orders.")
    valid: float | None = Field(description="Share of emitted verdicts that are [[A]] or [[B]].")
    calls_per_item: float = Field(description="Model calls per emitted verdict (all included).")
    tokens_per_item: float = Field(description="Tokens per emitted verdict (all included).")
    calls: int = Field(description="Every model call, flush included.")
    tokens: int = Field(description="Every token, flush included.")


def judge_pairs(
    judge: Judge,
    caller: Caller,
    pairs: Sequence[Pair],
    *,
    both_orders: bool = True,
    on_item: Callable[[PairResult, list[Decision]], None] | None = None,
) -> list[PairResult]:
    """Judge every pair (and its swap), then flush the judge's remaining feedback."""
    results = []
    for index, pair in enumerate(pairs):
        item = pair.id or str(index)
        first = judge.judge(item, pair.question, pair.answer_a, pair.answer_b)
        decisions = [first]
        if both_orders:
            decisions.append(judge.judge(item, pair.question, pair.answer_b, pair.answer_a))
        second = decisions[1] if both_orders else None
        result = PairResult(
            id=item,
            label=pair.label,
            verdict=first.verdict,
            verdict_swapped=flip(second.verdict) if second else None,
            path=first.path,
            path_swapped=second.path if second else None,
            calls=sum(d.calls for d in decisions),
            tokens=sum(d.tokens for d in decisions),
            verdicts=len(decisions),
        )
        results.append(result)
        if on_item is not None:
            on_item(result, decisions)
    judge.flush()
    return results


def _share(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def metrics(results: Sequence[PairResult], caller: Caller) -> Metrics:
    """The metrics of ``results``; cost from ``caller``'s counters (the flush included)."""
    labelled = [r for r in results if r.label is not None]
    swapped = [r for r in labelled if r.verdicts == 2]
    verdicts = sum(r.verdicts for r in results) or 1
    return Metrics(
        items=len(results),
        labelled=len(labelled),
        accuracy=_share([r.verdict == r.label for r in labelled]),
        swap_accuracy=_share([r.verdict_swapped == r.label for r in swapped]),
        consistency=_share(
            [
                r.verdict is not None and r.verdict == r.verdict_swapped
                for r in results
                if r.verdicts == 2
            ]
        ),
        pair_accuracy=_share([r.verdict == r.label == r.verdict_swapped for r in swapped]),
        valid=_share(
            [r.verdict is not None for r in results]
            + [r.verdict_swapped is not None for r in results if r.verdicts == 2]
        ),
        calls_per_item=round(caller.calls / verdicts, 3),
        tokens_per_item=round(caller.tokens / verdicts, 1),
        calls=caller.calls,
        tokens=caller.tokens,
    )
