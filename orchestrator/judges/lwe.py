"""Learning while evaluating (LWE): a meta-prompt M that improves from the judge's own feedback.

For each item: M writes a sample-specific rubric from the question alone (criteria and
steps; lines stating a verdict or copying the example are removed); the judge applies it;
a self-feedback call scores the judgement 1-5 with a confidence and 1-3 reusable tips.
Feedback is buffered; every ``batch`` records, a ``meta_update`` call rewrites M. An
update shorter than ``floor_chars`` is rejected; one longer than ``ceiling_chars`` is
summarised (and rejected if the summary still is). No label ever reaches a prompt: the
judge never receives one.

With a :class:`~.drift.GoldScorer`, the seed and every update are scored on the gold set
before they are saved (the agreement is the version's ``score``; the report goes to the
store), and with ``gold_tolerance`` an update whose gold agreement is lower than the
current M's by more than the tolerance is refused (:mod:`.guard`). Gold pairs are scored by
a frozen copy of the judge: they never produce feedback, so they never reach an update of M.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from clade import prompts

from .caller import Caller, CallStep, Spent
from .feedback import Feedback, clean_text, parse_feedback
from .guard import GoldWatch, agreement
from .store import MetaPromptStore
from .vanilla import ask_verdict
from .verdict import Decision, Verdict

if TYPE_CHECKING:
    from .drift import GoldReport, GoldScorer

FALLBACK_RUBRIC = (
    "1. Check that each answer does what the question asks, including edge cases.\n"
    "2. Check for errors: wrong operators, off-by-one bounds, wrong return values.\n"
    "3. Prefer the answer with no errors; ignore style and length."
)


class LWEConfig(BaseModel):
    """Knobs of an LWE judge."""

    model_config = ConfigDict(extra="forbid")

    batch: int = Field(default=4, ge=1, description="Feedback records per update of M.")
    floor_chars: int = Field(
        default=120, ge=1, description="An update that makes M shorter than this is rejected."
    )
    ceiling_chars: int = Field(
        default=3000, ge=1, description="An update longer than this is summarised."
    )
    rubric_tokens: int = Field(default=128, ge=1, description="max_tokens of the rubric call.")
    judge_tokens: int = Field(default=64, ge=1, description="max_tokens of the judge call.")
    feedback_tokens: int = Field(default=96, ge=1, description="max_tokens of the feedback call.")
    update_tokens: int = Field(default=320, ge=1, description="max_tokens of an update of M.")
    gold_tolerance: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Refuse an update of M whose agreement with the gold set is lower than the "
        "current M's by more than this (needs a gold scorer); None: never refuse.",
    )


class UpdateResult(BaseModel):
    """What one update attempt did to M."""

    accepted: bool = Field(description="Whether M changed.")
    reason: str = Field(description="update, summarised update, or why it was rejected.")
    records: int = Field(description="Feedback records consumed.")
    length: int = Field(description="Characters of the proposed (or summarised) M.")


class LWEOptions(TypedDict, total=False):
    """The keyword options of :class:`LWEJudge`, as :func:`.runner.build_judge` passes them on."""

    config: LWEConfig | None
    resume: bool
    gold: GoldScorer | None
    seed: str | None


class LWEJudge:
    """An evolving judge; ``judge`` = ``evaluate`` + ``add_feedback``."""

    def __init__(
        self,
        caller: Caller,
        store: MetaPromptStore,
        config: LWEConfig | None = None,
        *,
        resume: bool = False,
        gold: GoldScorer | None = None,
        seed: str | None = None,
    ) -> None:
        """``seed``: the first M when nothing is resumed (default: the shipped seed)."""
        self.caller = caller
        self.store = store
        self.config = config or LWEConfig()
        self.watch = GoldWatch(gold, store, self.config.gold_tolerance)
        self.buffer: list[Feedback] = []
        self.updates: list[UpdateResult] = []
        latest = store.latest() if resume else None
        if latest is None:
            latest = (seed or prompts.render("judge_meta_seed")).strip()
            report = self.watch.score(latest, "seed")
            version = store.save(latest, reason="seed", cases=[], score=agreement(report))
            self.watch.keep(report, version=version, accepted=None)
        else:
            self.watch.keep(self.watch.score(latest, "resumed"), version=None, accepted=None)
        self.meta_prompt = latest

    @property
    def gold_reports(self) -> list[GoldReport]:
        """Gold reports of every version of M and every refused proposal (with a scorer)."""
        return self.watch.reports

    def evaluate(self, item: str, question: str, answer_a: str, answer_b: str) -> Decision:
        """Rubric, verdict and feedback for one presentation; M is not changed here."""
        cfg = self.config
        sources = [question, answer_a, answer_b]
        with self.caller.spending() as spent:
            rubric, rubric_step = write_rubric(
                self.caller, self.meta_prompt, question, answer_a, answer_b, cfg.rubric_tokens
            )
            verdict, judge_step = apply_rubric(
                self.caller, rubric, question, answer_a, answer_b, cfg.judge_tokens
            )
            feedback_step = self.caller(
                "judge_feedback",
                role="judge",
                max_tokens=cfg.feedback_tokens,
                rubric=rubric,
                question=question,
                answer_a=answer_a,
                answer_b=answer_b,
                judgement=judge_step.output,
            )
        feedback = parse_feedback(feedback_step.output, item=item, verdict=verdict, sources=sources)
        return Decision(
            verdict=verdict,
            path="lwe",
            calls=spent.calls,
            tokens=spent.tokens,
            steps=[
                {**rubric_step.model_dump(), "rubric": rubric},
                {**judge_step.model_dump(), "verdict": verdict},
                {**feedback_step.model_dump(), "feedback": feedback.model_dump()},
            ],
        )

    def add_feedback(self, feedback: Feedback) -> UpdateResult | None:
        """Buffer ``feedback``; update M once the buffer holds ``batch`` records."""
        self.buffer.append(feedback)
        if len(self.buffer) >= self.config.batch:
            return self._update(self.buffer[: self.config.batch])
        return None

    def flush(self) -> UpdateResult | None:
        """Update M with whatever feedback is left (the end of a run)."""
        return self._update(list(self.buffer), final=True) if self.buffer else None

    def judge(self, item: str, question: str, answer_a: str, answer_b: str) -> Decision:
        """Evaluate one presentation, buffer its feedback, update M when a batch is full."""
        return self.learn(self.evaluate(item, question, answer_a, answer_b))

    def learn(self, decision: Decision) -> Decision:
        """Buffer the feedback of ``decision`` (from :meth:`evaluate`); charge any update to it."""
        feedback = Feedback.model_validate(decision.steps[-1]["feedback"])
        with self.caller.spending() as spent:
            update = self.add_feedback(feedback)
        return _charge(decision, spent, update)

    def _update(self, records: list[Feedback], *, final: bool = False) -> UpdateResult:
        del self.buffer[: len(records)]
        cfg = self.config
        step = self.caller(
            "judge_meta_update",
            role="meta_update",
            max_tokens=cfg.update_tokens,
            meta_prompt=self.meta_prompt,
            records=[r.model_dump() for r in records],
        )
        proposed = clean_text(step.output, [])
        reason = "flush" if final else "update"
        if len(proposed) > cfg.ceiling_chars:
            proposed = self._summarise(proposed)
            reason = f"summarised {reason}"
        if len(proposed) < cfg.floor_chars:
            result = UpdateResult(
                accepted=False,
                reason=f"rejected: {len(proposed)} chars is below the floor of {cfg.floor_chars}",
                records=len(records),
                length=len(proposed),
            )
        elif len(proposed) > cfg.ceiling_chars:
            result = UpdateResult(
                accepted=False,
                reason=f"rejected: {len(proposed)} chars after summarising is above the ceiling "
                f"of {cfg.ceiling_chars}",
                records=len(records),
                length=len(proposed),
            )
        else:
            report = self.watch.score(proposed, "proposal")
            refusal = self.watch.refusal(report)
            if refusal:
                result = UpdateResult(
                    accepted=False, reason=refusal, records=len(records), length=len(proposed)
                )
                self.watch.keep(report, version=None, accepted=False, reason=refusal)
            else:
                self.meta_prompt = proposed
                version = self.store.save(
                    proposed, reason=reason, cases=[r.model_dump() for r in records],
                    score=agreement(report),
                )  # fmt: skip
                self.watch.keep(report, version=version, accepted=True, label=reason)
                result = UpdateResult(
                    accepted=True, reason=reason, records=len(records), length=len(proposed)
                )
        self.updates.append(result)
        return result

    def _summarise(self, text: str) -> str:
        step: CallStep = self.caller(
            "judge_meta_summarise",
            role="meta_update",
            max_tokens=self.config.update_tokens,
            meta_prompt=text,
            limit=self.config.ceiling_chars,
        )
        return clean_text(step.output, [])


def write_rubric(
    caller: Caller, meta_prompt: str, question: str, answer_a: str, answer_b: str, tokens: int
) -> tuple[str, CallStep]:
    """The rubric M writes for ``question`` (cleaned of verdicts and copied lines; the
    fallback rubric when nothing is left). The answers only serve the cleaning, so the
    rubric is the same in both presentation orders."""
    step = caller(
        "judge_rubric", role="judge", max_tokens=tokens, meta_prompt=meta_prompt, question=question
    )
    return clean_text(step.output, [question, answer_a, answer_b]) or FALLBACK_RUBRIC, step


def apply_rubric(
    caller: Caller, rubric: str, question: str, answer_a: str, answer_b: str, tokens: int
) -> tuple[Verdict | None, CallStep]:
    """The judge's verdict on one presentation under ``rubric``."""
    return ask_verdict(caller, "judge_lwe", tokens, question, answer_a, answer_b, rubric=rubric)


def _charge(decision: Decision, spent: Spent, update: UpdateResult | None) -> Decision:
    """``decision`` with the cost of an update it triggered added."""
    steps = list(decision.steps)
    if update is not None:
        steps.append({"update": update.model_dump()})
    return decision.model_copy(
        update={
            "calls": decision.calls + spent.calls,
            "tokens": decision.tokens + spent.tokens,
            "steps": steps,
            "updated": bool(update and update.accepted),
        }
    )
