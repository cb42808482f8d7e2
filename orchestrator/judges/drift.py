"""Judge drift: a judge's meta-prompt versions scored against the frozen gold set.

A learning judge rewrites its meta-prompt M from its own feedback, with no label in sight,
so nothing says whether a later M still agrees with ground truth. :class:`GoldScorer`
measures one M on the gold pairs (:mod:`.gold`), each shown in both orders:

- **agreement**: share of the 2n verdicts that pick the right answer (a judge that always
  says ``[[A]]`` gets exactly 0.5);
- **consistency**: share of pairs whose two verdicts agree once the swap is undone;
- **pair agreement**: share of pairs judged right in both orders; **valid**: share of
  verdicts that are ``[[A]]`` or ``[[B]]``.

Scoring never teaches: it runs a *frozen* copy of the method (M writes the rubric, the
judge applies it; no self-feedback call, no buffer, no store), so no gold pair reaches the
judge's feedback or an update of M. ``method`` says which verdict is scored: ``lwe`` (the
rubric path on every pair), ``selective`` (vanilla in both orders, the rubric path where
they disagree: the vanilla verdicts do not depend on M and are computed once) or
``vanilla`` (no M). Calls go through their own :class:`Caller`, so a judge's cost figures
do not include its scoring.

``score_on_gold(judge_or_meta_prompt, gold)`` is the small API for anything that wants a
meta-prompt's fitness on gold, e.g. a prompt-set run.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, Field

from .caller import Caller
from .gold import GoldPair
from .lwe import LWEConfig, LWEJudge, apply_rubric, write_rubric
from .runner import Method
from .selective import SelectiveJudge
from .vanilla import VanillaJudge
from .verdict import Verdict, flip


class GoldVerdicts(BaseModel):
    """The two verdicts on one gold pair (the swapped one mapped back)."""

    id: str = Field(description="Gold pair id.")
    source: str = Field(description="humaneval, game24, word-sorting or multistep-arithmetic.")
    label: Verdict = Field(description="The right answer.")
    verdict: Verdict | None = Field(description="Verdict on the pair as given.")
    verdict_swapped: Verdict | None = Field(description="Verdict on the swap, mapped back.")
    rubric: str = Field(default="", description="The rubric M wrote (empty: vanilla verdicts).")


class GoldReport(BaseModel):
    """How one meta-prompt version (or the vanilla judge) did on the gold set."""

    method: Method = Field(description="Whose verdict was scored: vanilla, lwe or selective.")
    label: str = Field(description="seed, update, flush, proposal, resumed, vanilla or M.")
    version: int | None = Field(default=None, description="Version of M, once it was saved.")
    accepted: bool | None = Field(
        default=None, description="For an update: whether it became M (None: not an update)."
    )
    reason: str = Field(default="", description="Why an update was refused, if it was.")
    pairs: int = Field(description="Gold pairs scored.")
    hits: int = Field(description="Verdicts that picked the right answer (of 2 per pair).")
    agreement: float = Field(description="hits / (2 * pairs).")
    consistency: float = Field(description="Share of pairs whose two orders agree.")
    pair_agreement: float = Field(description="Share of pairs right in both orders.")
    valid: float = Field(description="Share of verdicts that are [[A]] or [[B]].")
    by_source: dict[str, float] = Field(description="Agreement per source.")
    calls: int = Field(description="Model calls this scoring made (0: all reused).")
    tokens: int = Field(description="Tokens of those calls.")
    verdicts: list[GoldVerdicts] = Field(default_factory=list, description="Per pair.")

    def summary(self) -> dict[str, Any]:
        """The figures without the per-pair verdicts (for tables and JSON lines)."""
        return self.model_dump(exclude={"verdicts"})


def report_of(
    rows: Sequence[GoldVerdicts], *, method: Method, label: str, calls: int = 0, tokens: int = 0
) -> GoldReport:
    """The figures of ``rows``."""
    n = len(rows)

    def share(values: list[bool]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    hits = sum((r.verdict == r.label) + (r.verdict_swapped == r.label) for r in rows)
    sources = sorted({r.source for r in rows})
    return GoldReport(
        method=method, label=label, pairs=n, hits=hits,
        agreement=round(hits / (2 * n), 4) if n else 0.0,
        consistency=share([r.verdict is not None and r.verdict == r.verdict_swapped for r in rows]),
        pair_agreement=share([r.verdict == r.label == r.verdict_swapped for r in rows]),
        valid=share([v is not None for r in rows for v in (r.verdict, r.verdict_swapped)]),
        by_source={
            s: share([v == r.label for r in rows if r.source == s for v in (r.verdict, r.verdict_swapped)])
            for s in sources
        },
        calls=calls, tokens=tokens, verdicts=list(rows),
    )  # fmt: skip


class GoldScorer:
    """Scores meta-prompts of one method on ``gold``; reuses what does not depend on M."""

    def __init__(
        self,
        gold: Sequence[GoldPair],
        caller: Caller,
        *,
        method: Method = "lwe",
        config: LWEConfig | None = None,
        workers: int = 1,
        share_vanilla: GoldScorer | None = None,
    ) -> None:
        """``share_vanilla``: another scorer on the same model whose vanilla verdicts (which
        no M changes) this one reuses, and adds to."""
        if not gold:
            from clade.archive.errors import ConfigError

            raise ConfigError("the gold set is empty", hint="give at least one gold pair")
        self.gold, self.caller, self.method = list(gold), caller, method
        self.config = config or LWEConfig()
        self.workers = max(1, workers)
        self._vanilla: dict[str, tuple[Verdict | None, Verdict | None]] = (
            share_vanilla._vanilla if share_vanilla is not None else {}
        )
        self._done: dict[str | None, list[GoldVerdicts]] = {}
        self._lock: threading.Lock = (
            share_vanilla._lock if share_vanilla is not None else threading.Lock()
        )

    def score(self, meta_prompt: str | None, *, label: str = "M") -> GoldReport:
        """The report of ``meta_prompt`` (ignored by ``vanilla``); the same text twice is
        scored once (greedy decoding gives the same verdicts)."""
        key = None if self.method == "vanilla" else meta_prompt
        if key is None and self.method != "vanilla":
            raise ValueError(f"method {self.method} needs a meta-prompt")
        with self.caller.spending() as spent:
            rows = self._done.get(key)
            if rows is None:
                with ThreadPoolExecutor(self.workers) as pool:
                    rows = list(pool.map(lambda g: self._pair(g, key), self.gold))
                self._done[key] = rows
        return report_of(
            rows, method=self.method, label=label, calls=spent.calls, tokens=spent.tokens
        )

    def _pair(self, pair: GoldPair, meta_prompt: str | None) -> GoldVerdicts:
        q, a, b = pair.question, pair.answer_a, pair.answer_b
        first = second = None
        rubric = ""
        if self.method in ("vanilla", "selective"):
            first, second = self._vanilla_of(pair)
        if self.method == "lwe" or (self.method == "selective" and (first is None or first != second)):  # fmt: skip
            assert meta_prompt is not None
            cfg = self.config
            rubric, _ = write_rubric(self.caller, meta_prompt, q, a, b, cfg.rubric_tokens)
            first, _ = apply_rubric(self.caller, rubric, q, a, b, cfg.judge_tokens)
            swapped, _ = apply_rubric(self.caller, rubric, q, b, a, cfg.judge_tokens)
            second = flip(swapped)
        return GoldVerdicts(
            id=pair.id, source=pair.source, label=pair.label, verdict=first,
            verdict_swapped=second, rubric=rubric,
        )  # fmt: skip

    def _vanilla_of(self, pair: GoldPair) -> tuple[Verdict | None, Verdict | None]:
        with self._lock:
            found = self._vanilla.get(pair.id)
        if found is None:
            judge = VanillaJudge(self.caller)
            q, a, b = pair.question, pair.answer_a, pair.answer_b
            found = (
                judge.judge(pair.id, q, a, b).verdict,
                flip(judge.judge(pair.id, q, b, a).verdict),
            )
            with self._lock:
                self._vanilla[pair.id] = found
        return found


def _own_caller(caller: Caller) -> Caller:
    """A caller on the same model and meter, with its own counters."""
    return Caller(
        caller.layer, model=caller.model, run_id=caller.run_id, candidate_id=caller.candidate_id
    )


def score_on_gold(
    judge_or_meta_prompt: str | VanillaJudge | LWEJudge | SelectiveJudge,
    gold: Sequence[GoldPair],
    *,
    caller: Caller | None = None,
    method: Method | None = None,
    config: LWEConfig | None = None,
    workers: int = 1,
    label: str = "M",
) -> GoldReport:
    """The gold report of a meta-prompt text (scored by ``method``, default ``lwe``, through
    ``caller``) or of a judge's current state (its method and M; a learning judge is frozen
    for the scoring and learns nothing from it). Calls are counted apart from the judge's."""
    if isinstance(judge_or_meta_prompt, str):
        if caller is None:
            raise ValueError("scoring a meta-prompt text needs a caller")
        scorer = GoldScorer(gold, caller, method=method or "lwe", config=config, workers=workers)
        return scorer.score(judge_or_meta_prompt, label=label)
    judge = judge_or_meta_prompt
    lwe = judge.lwe if isinstance(judge, SelectiveJudge) else judge
    kind: Method = (
        "selective" if isinstance(judge, SelectiveJudge)
        else "lwe" if isinstance(judge, LWEJudge) else "vanilla"
    )  # fmt: skip
    own = caller or _own_caller(lwe.caller)
    text = lwe.meta_prompt if isinstance(lwe, LWEJudge) else None
    cfg = config or (lwe.config if isinstance(lwe, LWEJudge) else None)
    return GoldScorer(gold, own, method=kind, config=cfg, workers=workers).score(text, label=label)
