"""Drift scoring on a tiny gold set with a scripted model, and the gold guard of LWE.

The scripted model reads a quality ``QUALITY=q`` from the meta-prompt M (through the rubric
M writes): under it, the judge is right on gold questions 0..q-1 in both orders and wrong
on the others, so each M's gold agreement is known in advance (q / 4 on four pairs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest

from clade.archive.errors import ConfigError
from clade.orchestrator.judges.caller import Caller
from clade.orchestrator.judges.drift import GoldScorer, score_on_gold
from clade.orchestrator.judges.gold import GoldPair, held_out
from clade.orchestrator.judges.lwe import LWEConfig, LWEJudge
from clade.orchestrator.judges.runner import build_judge, judge_pairs
from clade.orchestrator.judges.selective import SelectiveJudge
from clade.orchestrator.judges.store import MemoryStore
from clade.orchestrator.judges.vanilla import VanillaJudge
from clade.orchestrator.judges.verdict import Pair
from clade.orchestrator.models import ModelLayer, ModelsConfig
from clade.orchestrator.models.spec import ModelSpec

from .conftest import model_name

N = 4  # gold pairs


def gold_set(n: int = N) -> list[GoldPair]:
    rows = []
    for i in range(n):
        good, bad = f"GOOD answer {i}", f"bad answer {i}"
        first = i % 2 == 0
        rows.append(
            GoldPair(
                id=f"g{i}",
                question=f"Gold question {i}: which sum is right?",
                answer_a=good if first else bad,
                answer_b=bad if first else good,
                label="A" if first else "B",
                source="game24" if i < 2 else "humaneval",
                kind="near_miss",
            )
        )
    return rows


def training(n: int) -> list[Pair]:
    return [
        Pair(id=f"t{j}", question=f"Train question {j}", answer_a="GOOD t", answer_b="bad t")
        for j in range(n)
    ]


def meta(quality: int) -> str:
    return f"Judge by QUALITY={quality}. " + "List criteria and steps for the task. " * 5


@dataclass
class DriftModel:
    """Scripted judge whose rightness on gold follows the quality named in M."""

    qualities: list[int] = field(default_factory=list)  # what each meta-update proposes
    seed_quality: int = N
    vanilla: str = "biased"  # biased: always [[A]]; right: picks the GOOD answer
    prompts: list[str] = field(default_factory=list)

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        self.prompts.append(prompt)
        if prompt.startswith("You are an impartial judge"):
            answer_a = prompt.split("\nAnswer A:\n")[1].split("\nAnswer B:\n")[0]
            good = "[[A]]" if "GOOD" in answer_a else "[[B]]"
            bad = "[[B]]" if good == "[[A]]" else "[[A]]"
            gold = re.search(r"Gold question (\d+)", prompt)
            if "Evaluation instructions:" not in prompt:  # the vanilla judge
                return good if self.vanilla == "right" else "[[A]]"
            quality = int(re.search(r"QUALITY=(\d+)", prompt).group(1))  # type: ignore[union-attr]
            return "[[A]]" if gold is None else (good if int(gold.group(1)) < quality else bad)
        if prompt.startswith("You judged two answers"):
            return '{"score": 4, "confidence": "high", "tips": ["Check each step."]}'
        if prompt.startswith("Below is a meta-prompt"):
            return meta(self.qualities.pop(0))
        if "[Task]" in prompt:  # the rubric M writes
            found = re.search(r"QUALITY=(\d+)", prompt.split("[Task]")[0])
            quality = int(found.group(1)) if found else self.seed_quality
            return f"1. Weigh the QUALITY={quality} criteria.\n2. Check the result."
        raise AssertionError(f"unexpected prompt: {prompt[:80]}")

    def of(self, kind: str) -> list[str]:
        starts = {"feedback": "You judged two answers", "update": "Below is a meta-prompt"}
        return [p for p in self.prompts if p.startswith(starts[kind])]


def caller_of(model: DriftModel) -> Caller:
    layer = ModelLayer(
        ModelsConfig(default=ModelSpec(model=model_name(model)), retry={"max_retries": 0})  # type: ignore[arg-type]
    )
    return Caller(layer)


def run_lwe(qualities: list[int], tolerance: float | None) -> tuple[LWEJudge, MemoryStore, DriftModel]:  # fmt: skip
    model = DriftModel(qualities=list(qualities))
    caller = caller_of(model)
    store = MemoryStore()
    scorer = GoldScorer(gold_set(), Caller(caller.layer), method="lwe")
    judge = LWEJudge(caller, store, LWEConfig(batch=1, gold_tolerance=tolerance), gold=scorer)
    for pair in training(len(qualities)):
        judge.judge(pair.id or "", pair.question, pair.answer_a, pair.answer_b)
    return judge, store, model


def test_every_version_of_m_is_scored_on_gold():
    judge, store, _ = run_lwe([3, 1, 2], tolerance=None)
    assert [v.score for v in store.versions] == [1.0, 0.75, 0.25, 0.5]
    reports = judge.gold_reports
    assert [(r.label, r.version, r.accepted) for r in reports] == [
        ("seed", 1, None), ("update", 2, True), ("update", 3, True), ("update", 4, True),
    ]  # fmt: skip
    assert store.gold == reports and all(r.pairs == N for r in reports)
    seed = reports[0]
    assert seed.agreement == seed.consistency == seed.pair_agreement == seed.valid == 1.0
    worst = reports[2]  # right on gold question 0 only, in both orders
    assert worst.hits == 2 and worst.consistency == 1.0 and worst.pair_agreement == 0.25
    assert worst.by_source == {"game24": 0.5, "humaneval": 0.0}
    assert [v.verdict == v.label for v in worst.verdicts] == [True, False, False, False]


def expected_fates(qualities: list[int], tolerance: float | None) -> list[bool]:
    """The guard's rule, with exact fractions: refuse when the drop exceeds the tolerance."""
    current, fates = Fraction(N, N), []
    for q in qualities:
        ok = (
            tolerance is None or current - Fraction(q, N) <= Fraction(tolerance).limit_denominator()
        )
        fates.append(ok)
        current = Fraction(q, N) if ok else current
    return fates


@pytest.mark.parametrize("tolerance", [0.0, 0.2, 0.25, 0.3, 0.5, 0.75, None])
def test_the_guard_refuses_exactly_when_agreement_drops_past_the_tolerance(tolerance):
    qualities = [3, 1, 2, 4, 0]
    judge, store, _ = run_lwe(qualities, tolerance)
    fates = [u.accepted for u in judge.updates]
    assert fates == expected_fates(qualities, tolerance)
    assert len(store.versions) == 1 + sum(fates)
    for update, report in zip(judge.updates, judge.gold_reports[1:], strict=True):
        assert report.accepted == update.accepted
        assert update.reason.startswith("refused: gold agreement") == (not update.accepted)
    # A refused update leaves M as it was; the last accepted one is in use.
    kept = [q for q, ok in zip(qualities, fates, strict=True) if ok]
    if kept:
        assert f"QUALITY={kept[-1]}." in judge.meta_prompt
    else:
        assert judge.meta_prompt == store.versions[0].text


def test_the_boundary_is_inclusive_and_the_drop_is_measured_from_the_current_m():
    judge, store, _ = run_lwe([3, 1, 2], tolerance=0.25)
    assert [u.accepted for u in judge.updates] == [True, False, True]
    assert [v.score for v in store.versions] == [1.0, 0.75, 0.5]
    assert "0.5 below the current 0.75" in judge.updates[1].reason


def test_no_gold_pair_reaches_feedback_or_an_update_of_m():
    judge, store, model = run_lwe([3, 1, 2], tolerance=0.25)
    assert len(model.of("feedback")) == 3  # one per training verdict: scoring asks for none
    assert all("Gold question" not in p for p in model.of("feedback") + model.of("update"))
    cases = [c["item"] for v in store.versions for c in v.cases]
    assert cases and all(item.startswith("t") for item in cases)
    assert judge.buffer == []


def test_gold_labels_never_reach_a_prompt():
    def prompts_of(gold: list[GoldPair]) -> tuple[list[str], float]:
        model = DriftModel()
        report = score_on_gold(meta(2), gold, caller=caller_of(model))
        return model.prompts, report.agreement

    flipped = [g.model_copy(update={"label": "B" if g.label == "A" else "A"}) for g in gold_set()]
    seen, agreement = prompts_of(gold_set())
    seen_flipped, agreement_flipped = prompts_of(flipped)
    assert seen == seen_flipped and agreement + agreement_flipped == 1.0


def test_score_on_gold_takes_a_text_or_a_judge_and_never_teaches_it():
    model = DriftModel(qualities=[2])
    caller = caller_of(model)
    assert score_on_gold(meta(1), gold_set(), caller=caller).agreement == 0.25
    with pytest.raises(ValueError, match="needs a caller"):
        score_on_gold(meta(1), gold_set())
    store = MemoryStore()
    judge = LWEJudge(caller, store, LWEConfig(batch=1))
    judge.judge("t0", "Train question 0", "GOOD t", "bad t")  # M becomes QUALITY=2
    before, calls = len(model.of("feedback")), caller.calls
    report = score_on_gold(judge, gold_set())
    assert report.method == "lwe" and report.agreement == 0.5
    assert len(model.of("feedback")) == before and caller.calls == calls  # counted apart
    assert len(store.versions) == 2 and judge.buffer == []
    vanilla = score_on_gold(VanillaJudge(caller), gold_set())
    assert vanilla.method == "vanilla" and vanilla.agreement == 0.5 and vanilla.consistency == 0.0


def test_selective_scoring_routes_like_the_judge_and_reuses_the_vanilla_verdicts():
    model = DriftModel(vanilla="right")
    caller = caller_of(model)
    scorer = GoldScorer(gold_set(), caller, method="selective")
    first = scorer.score(meta(0))
    vanilla_calls = sum("Evaluation instructions:" not in p for p in model.prompts)
    assert first.agreement == 1.0 and vanilla_calls == 2 * N  # consistent: M is never asked
    assert scorer.score(meta(1)).calls == 0  # vanilla verdicts do not depend on M
    biased = DriftModel()
    scorer = GoldScorer(gold_set(), caller_of(biased), method="selective")
    assert scorer.score(meta(3)).agreement == 0.75  # every pair inconsistent: M decides
    again = scorer.score(meta(1))
    assert again.agreement == 0.25 and again.calls == 3 * N  # rubric + two verdicts per pair
    assert scorer.score(meta(1)).calls == 0  # the same text is scored once
    judge = build_judge("selective", caller_of(DriftModel()), MemoryStore())
    assert isinstance(judge, SelectiveJudge)
    assert score_on_gold(judge, gold_set()).method == "selective"


def test_the_runner_scores_versions_and_the_vanilla_judge_once():
    model = DriftModel(qualities=[3, 2])
    caller = caller_of(model)
    store = MemoryStore()
    scorer = GoldScorer(gold_set(), Caller(caller.layer), method="lwe")
    judge = build_judge("lwe", caller, store, config=LWEConfig(batch=2), gold=scorer)
    judge_pairs(judge, caller, training(2))  # 4 verdicts: 2 updates
    assert [r.label for r in store.gold] == ["seed", "update", "update"]
    plain = MemoryStore()
    build_judge("vanilla", caller, plain, gold=GoldScorer(gold_set(), caller, method="vanilla"))
    assert [(r.label, r.agreement) for r in plain.gold] == [("vanilla", 0.5)]
    with pytest.raises(ConfigError, match="cannot be scored"):
        build_judge("lwe", caller, MemoryStore(), gold=GoldScorer(gold_set(), caller, method="vanilla"))  # fmt: skip
    with pytest.raises(ConfigError, match="needs a gold set"):
        LWEJudge(caller, MemoryStore(), LWEConfig(gold_tolerance=0.1))


def test_gold_pairs_whose_question_the_judge_sees_are_held_out():
    gold = gold_set()
    seen = [Pair(question="  Gold question 1:  which sum\nis right?", answer_a="x", answer_b="y")]
    kept, dropped = held_out(gold, seen)
    assert dropped == 1 and [g.id for g in kept] == ["g0", "g2", "g3"]
