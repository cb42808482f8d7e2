"""The LWE judge: rubric hygiene, feedback parsing, length guards on M, storage and resume."""

from __future__ import annotations

from clade.archive.facade import Archive
from clade.orchestrator.judges.feedback import clean_text, parse_feedback
from clade.orchestrator.judges.lwe import LWEConfig, LWEJudge
from clade.orchestrator.judges.store import ArchiveStore, MemoryStore


def _fill(judge: LWEJudge, n: int) -> None:
    for index in range(n):
        judge.judge(str(index), "q", "x = 1", "x = 2")


def test_rubric_never_holds_a_verdict_or_the_examples_text(fake, make_caller):
    code = "    return sorted(set(numbers))[::-1]"
    text = f"1. Check the order.\nAnswer A is better here.\nSo [[B]]\n{code}\n2. Check duplicates."
    assert clean_text(text, ["q", code, "other"]) == "1. Check the order.\n2. Check duplicates."
    judge = LWEJudge(make_caller(fake), MemoryStore())
    decision = judge.evaluate("1", "q", code, "x")
    rubric = decision.steps[0]["rubric"]
    assert rubric.startswith("1. Check the result") and code.strip() not in rubric
    assert decision.steps[1]["verdict"] == "A" and decision.calls == 3 and judge.buffer == []


def test_feedback_from_json_and_from_free_text():
    json_reply = 'Sure! {"score": 2, "confidence": "LOW", "tips": ["a", "Check loops.", "c", "d"]}'
    parsed = parse_feedback(json_reply, item="1", verdict="A", sources=["q"])
    assert (parsed.score, parsed.confidence, parsed.parsed) == (2, "low", True)
    assert parsed.tips == ["a", "Check loops.", "c"]
    free = "Score: 5\nConfidence: medium\n- Compare outputs on the examples.\n- Answer A is better"
    loose = parse_feedback(free, item="2", verdict=None, sources=["q"])
    assert (loose.score, loose.confidence, loose.parsed) == (5, "medium", False)
    assert loose.tips == ["Compare outputs on the examples."]
    garbage = parse_feedback("???", item="3", verdict="B", sources=[])
    assert garbage.score == 3 and garbage.confidence == "low" and len(garbage.tips) == 1


def test_an_update_below_the_floor_is_rejected(fake, make_caller):
    fake.update = "Too short."
    store = MemoryStore()
    judge = LWEJudge(make_caller(fake), store, LWEConfig(floor_chars=50))
    seed = judge.meta_prompt
    _fill(judge, 4)
    assert judge.updates[-1].accepted is False and "below the floor" in judge.updates[-1].reason
    assert judge.meta_prompt == seed and len(store.versions) == 1 and judge.buffer == []


def test_an_update_above_the_ceiling_is_summarised(fake, make_caller):
    fake.update = "Criterion. " * 100  # 1100 chars
    store = MemoryStore()
    judge = LWEJudge(make_caller(fake), store, LWEConfig(ceiling_chars=400, floor_chars=20))
    _fill(judge, 4)
    assert judge.updates[-1].accepted and judge.updates[-1].reason == "summarised update"
    assert judge.meta_prompt.startswith("Short:") and len(judge.meta_prompt) <= 400
    assert any(p.startswith("The meta-prompt below") for p in fake.prompts)
    fake.summary = "Still long. " * 60
    _fill(judge, 4)
    assert not judge.updates[-1].accepted and "above the ceiling" in judge.updates[-1].reason
    assert [v.reason for v in store.versions] == ["seed", "summarised update"]


def test_versions_go_to_the_archive_with_their_cases_and_a_judge_resumes(
    fake, make_caller, tmp_path
):
    with Archive(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "blobs") as archive:
        run = archive.create_run("judge test", kind="judge")
        store = ArchiveStore(archive, "mine", run.id)
        judge = LWEJudge(make_caller(fake), store)
        _fill(judge, 5)
        judge.flush()
        versions = store.versions()
        assert [v.reason for v in versions] == ["seed", "update", "flush"]
        assert [len(v.cases) for v in versions] == [0, 4, 1]
        assert versions[1].cases[0]["tips"] == ["Run the examples by hand."]
        later = archive.create_run("judge test 2", kind="judge")
        resumed = LWEJudge(make_caller(fake), ArchiveStore(archive, "mine", later.id), resume=True)
        assert resumed.meta_prompt == versions[-1].text
        fresh = LWEJudge(make_caller(fake), ArchiveStore(archive, "mine", later.id))
        assert fresh.meta_prompt != versions[-1].text  # without resume: the seed again
        assert archive.latest_meta_prompt("judge", "mine").reason == "seed"
