"""Selective LWE routing, the update cadence across items, the final flush, and labels."""

from __future__ import annotations

from clade.orchestrator.judges.lwe import LWEJudge
from clade.orchestrator.judges.runner import build_judge, judge_pairs, metrics
from clade.orchestrator.judges.selective import SelectiveJudge
from clade.orchestrator.judges.store import MemoryStore
from clade.orchestrator.judges.vanilla import VanillaJudge
from clade.orchestrator.judges.verdict import Pair


def _selective(caller):
    store = MemoryStore()
    return SelectiveJudge(VanillaJudge(caller), LWEJudge(caller, store)), store


def test_a_consistent_pair_costs_two_calls_and_leaves_m_alone(fake, make_caller):
    caller = make_caller(fake)
    judge, store = _selective(caller)
    seed = judge.lwe.meta_prompt
    decision = judge.judge("1", "q", "GOOD answer", "bad answer")
    assert (decision.verdict, decision.path, decision.calls) == ("A", "consistent", 2)
    assert caller.calls == 2
    assert judge.lwe.buffer == []
    assert judge.lwe.meta_prompt == seed
    assert [v.reason for v in store.versions] == ["seed"]


def test_an_inconsistent_pair_takes_the_lwe_path_and_fills_the_buffer(fake, make_caller):
    fake.vanilla = "biased"  # always [[A]]: the two orders disagree once the swap is undone
    caller = make_caller(fake)
    judge, store = _selective(caller)
    decision = judge.judge("7", "q", "x = 1", "x = 2")
    assert decision.path == "lwe"
    assert decision.verdict == "A"  # the LWE judge's own verdict is emitted
    assert decision.calls == 2 + 3  # both vanilla orders, then rubric, judge, feedback
    assert [f.item for f in judge.lwe.buffer] == ["7"]
    assert judge.lwe.buffer[0].score == 4 and judge.lwe.buffer[0].confidence == "high"
    assert len(store.versions) == 1 and fake.updates == 0


def test_m_updates_every_four_buffered_records_across_items_then_flushes(fake, make_caller):
    caller = make_caller(fake)
    judge, store = _selective(caller)
    # 7 inconsistent items interleaved with consistent ones: updates after the 4th, flush of 3.
    for index in range(10):
        fake.vanilla = "consistent" if index in (1, 4, 8) else "biased"
        decision = judge.judge(str(index), "q", "GOOD one", "other one")
        if index == 5:  # the 4th inconsistent item
            assert decision.updated and decision.calls == 2 + 3 + 1
    assert fake.updates == 1
    assert len(judge.lwe.buffer) == 3
    assert [v.reason for v in store.versions] == ["seed", "update"]
    assert [c["item"] for c in store.versions[1].cases] == ["0", "2", "3", "5"]
    result = judge.flush()
    assert result is not None and result.accepted and result.records == 3
    assert judge.lwe.buffer == []
    assert [v.reason for v in store.versions] == ["seed", "update", "flush"]
    assert [c["item"] for c in store.versions[2].cases] == ["6", "7", "9"]
    assert judge.lwe.meta_prompt == store.versions[-1].text
    assert judge.flush() is None  # nothing left


def _run(new_fake, make_caller, method, labels):
    fake = new_fake()
    fake.vanilla = "biased"
    caller = make_caller(fake)
    pairs = [
        Pair(
            id=str(i),
            question=f"question {i}",
            answer_a=f"GOOD {i}",
            answer_b=f"other {i}",
            label=label,
        )
        for i, label in enumerate(labels)
    ]
    results = judge_pairs(build_judge(method, caller, MemoryStore()), caller, pairs)
    return fake.prompts, metrics(results, caller)


def test_no_label_reaches_any_prompt(new_fake, make_caller):
    for method in ("vanilla", "lwe", "selective"):
        seen, found = _run(new_fake, make_caller, method, ["A", "B", "A", "B", "A"])
        flipped, _ = _run(new_fake, make_caller, method, ["B", "A", "B", "A", "B"])
        assert seen == flipped  # the labels changed, not one prompt did
        assert seen and not any("label" in p.lower() for p in seen)
        assert found.labelled == 5


def test_metrics_of_a_position_biased_judge(new_fake, make_caller):
    _, found = _run(new_fake, make_caller, "vanilla", ["A", "A", "B", "B"])
    # always [[A]]: right on the original order of the A items, right swapped on the B items
    assert (found.accuracy, found.swap_accuracy) == (0.5, 0.5)
    assert (found.consistency, found.pair_accuracy, found.valid) == (0.0, 0.0, 1.0)
    assert found.calls == 8 and found.calls_per_item == 1.0
