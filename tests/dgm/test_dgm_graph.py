"""The run graph's logic with a real archive and a real checkpointer, and in-process steps.

The steps here stand in for models and sandboxes only (the Docker end-to-end run is in
test_dgm_run.py): each "agent" is a tree whose ``skill.txt`` says which tasks it solves,
and self-modification adds the task named in the proposal.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from clade.archive.facade import Archive
from clade.archive.tables import Candidate
from clade.orchestrator.dgm.diagnosis import DiagnosisFailed, Proposal
from clade.orchestrator.dgm.graph import build_graph
from clade.orchestrator.dgm.protocol import Modification
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.evaluators.generated import WordSorting
from clade.orchestrator.judges.review import review_diff
from tests.inprocess_runs import archive_in, start_run, trees_in, word_sorting_config
from tests.inprocess_runs import invoke as run_graph

STAGES = [{"tasks": 2, "threshold": 0.0}, {"tasks": 4}]


class Crash(BaseException):
    """Stands for the process dying in the middle of a step."""


class SkillSteps:
    def __init__(self, archive: Archive, tmp_path) -> None:
        self.archive, self.tmp = archive, tmp_path
        self.calls: dict[str, int] = {"diagnose": 0, "self_modify": 0, "evaluate": 0}
        self.crash_on: tuple[str, int] | None = None
        self.fail_diagnosis = False
        self.reviewed: list[str] = []

    def _tick(self, what: str) -> None:
        self.calls[what] += 1
        if self.crash_on == (what, self.calls[what]):
            raise Crash(what)

    def _skills(self, candidate: Candidate) -> set[str]:
        text = self.archive.blobs.files(candidate.tree_hash)["skill.txt"].decode()
        return set(text.split())

    def _tree(self, skills: set[str]) -> str:
        # Children run in parallel threads: each tree gets a folder of its own.
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        (folder / "skill.txt").write_text(" ".join(sorted(skills)))
        return self.archive.put_tree(folder)

    def seed_tree(self) -> str:
        return self._tree(set())

    def diagnose(self, parent, failures, key=""):
        self._tick("diagnose")
        if self.fail_diagnosis or not failures:
            raise DiagnosisFailed("model gave no JSON", ["nope"])
        task = failures[0][0]
        return Proposal(
            what_failed=task.id,
            improvement="learn it",
            implementation_plan="add it",
            problem_statement=f"learn task {task.id}",
        )

    def self_modify(self, parent, proposal, key):
        self._tick("self_modify")
        return Modification(self._tree(self._skills(parent) | {proposal.what_failed}), "edited")

    def review(self, parent, diff):
        self.reviewed.append(diff)
        return review_diff(None, diff)  # the fixed rules only: no model here

    def evaluate(self, candidate, tasks):
        self._tick("evaluate")
        skills = self._skills(candidate)
        return [
            (Score(score=float(t.id in skills), passed=t.id in skills), {"log": f"log of {t.id}"})
            for t in tasks
        ]


class SeedSolvesOne(SkillSteps):
    def seed_tree(self) -> str:
        return self._tree({WordSorting(n=40).tasks("dev")[1].id})


def make_run(tmp_path, steps_cls=SeedSolvesOne, stages=STAGES, generations=2, **sections):
    archive = archive_in(tmp_path)
    config = word_sorting_config(stages, generations=generations, **sections)
    steps = steps_cls(archive, trees_in(tmp_path))
    events: list[dict] = []
    run_id, dgm = start_run(archive, config, WordSorting(n=40), steps, emit=events.append)
    return archive, steps, run_id, dgm, events


def invoke(dgm, run_id, saver, resume=False):
    return run_graph(dgm, run_id, saver, resume=resume, max_concurrency=2)


@pytest.fixture
def saver(tmp_path):
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False)
    yield SqliteSaver(connection)
    connection.close()


def test_two_generations_grow_the_archive(tmp_path, saver):
    archive, _steps, run_id, dgm, events = make_run(tmp_path)
    state = invoke(dgm, run_id, saver)
    rows = archive.list_candidates(run_id)
    assert [r.generation for r in rows] == [0, 1, 1, 2, 2]
    assert state["stop_reason"] == "2 generation(s) done"
    assert sorted(state["children"]) == ["g1c0", "g1c1", "g2c0", "g2c1"]
    # The seed solves one of the 4 staged tasks; each child learns one more.
    seed, *children = rows
    assert seed.status == "admitted" and seed.score == pytest.approx(0.25)
    assert all(r.status == "admitted" and r.score > seed.score for r in children)
    assert archive.get_run(run_id).status == "finished"
    assert [e["event"] for e in events][-1] == "finished"


def test_staged_evaluation_stops_below_the_threshold(tmp_path, saver):
    archive, _steps, run_id, dgm, _ = make_run(
        tmp_path,
        steps_cls=SkillSteps,
        stages=[{"tasks": 2, "threshold": 0.5}, {"tasks": 4}],
        generations=0,
    )
    invoke(dgm, run_id, saver)
    seed = archive.list_candidates(run_id)[0]
    assert (
        len(archive.task_results(seed.id, "word-sorting", "dev")) == 2
    )  # the second stage never ran


def test_a_failed_diagnosis_is_recorded_and_the_run_goes_on(tmp_path, saver):
    archive, steps, run_id, dgm, _ = make_run(tmp_path, generations=1)
    steps.fail_diagnosis = True
    invoke(dgm, run_id, saver)
    children = archive.list_candidates(run_id)[1:]
    assert [c.status for c in children] == ["failed", "failed"]
    assert "diagnosis failed" in archive.get_candidate(children[0].id).rejection_reason
    assert archive.get_run(run_id).status == "finished"


@pytest.mark.parametrize(
    "crash_on", [("evaluate", 1), ("self_modify", 2), ("evaluate", 3), ("diagnose", 3)]
)
def test_a_crash_anywhere_resumes_with_nothing_lost_or_counted_twice(tmp_path, saver, crash_on):
    archive, steps, run_id, dgm, _ = make_run(tmp_path)
    steps.crash_on = crash_on
    with pytest.raises(Crash):
        invoke(dgm, run_id, saver)
    steps.crash_on = None
    invoke(dgm, run_id, saver, resume=True)
    rows = archive.list_candidates(run_id)
    assert [r.generation for r in rows] == [0, 1, 1, 2, 2]
    keys = [archive.get_candidate(r.id).meta["key"] for r in rows]
    assert sorted(keys) == ["g1c0", "g1c1", "g2c0", "g2c1", "seed"]
    for row in rows:
        results = archive.task_results(row.id, "word-sorting", "dev")
        assert len(results) == 4  # every staged task once, none twice
    assert archive.get_run(run_id).status == "finished"


def test_approve_pauses_each_child_until_the_user_answers(tmp_path, saver):
    from clade.orchestrator.dgm.launch import answer_interrupts

    archive, _steps, run_id, dgm, _ = make_run(tmp_path, generations=1)
    dgm.approve = True
    shown: list[dict] = []

    def approve(question: dict) -> bool:
        shown.append(question)
        return question["key"] == "g1c0"  # approve the first child, reject the second

    graph = build_graph(dgm, saver)
    config = {"configurable": {"thread_id": run_id}, "max_concurrency": 2}
    answer_interrupts(graph, {"run_id": run_id}, config, approve)
    assert sorted(q["key"] for q in shown) == ["g1c0", "g1c1"]
    assert all("+++" in q["diff"] for q in shown)  # the user saw each child's change
    by_key = {
        archive.get_candidate(r.id).meta["key"]: archive.get_candidate(r.id)
        for r in archive.list_candidates(run_id)
    }
    assert by_key["g1c0"].status == "admitted"
    assert (by_key["g1c1"].status, by_key["g1c1"].rejection_reason) == (
        "rejected",
        "rejected by the user",
    )
    assert archive.task_results(by_key["g1c1"].id, "word-sorting", "dev") == {}  # never evaluated
    assert archive.get_run(run_id).status == "finished"


class SkipsItsTests(SeedSolvesOne):
    """Every child also adds a line that would skip tests: the review's fixed rules catch it."""

    def self_modify(self, parent, proposal, key):
        tree, log = super().self_modify(parent, proposal, key)
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        self.archive.export_tree(tree, folder)
        (folder / "run.py").write_text("import pytest\npytest.skip('not today')\n")
        return Modification(self.archive.put_tree(folder), log)


@pytest.mark.parametrize("reject", [True, False])
def test_a_flagged_diff_is_rejected_before_evaluation_or_only_recorded(tmp_path, saver, reject):
    archive, steps, run_id, dgm, _ = make_run(
        tmp_path,
        steps_cls=SkipsItsTests,
        review={"enabled": True, "reject": reject},
        generations=1,
    )
    invoke(dgm, run_id, saver)
    _seed, *children = archive.list_candidates(run_id)
    assert len(children) == 2 and len(steps.reviewed) == 2
    assert all("+pytest.skip('not today')" in diff for diff in steps.reviewed)
    for row in children:
        child = archive.get_candidate(row.id)
        assert child.meta["review"]["flagged"] is True
        if reject:
            assert child.status == "rejected" and "skips tests" in (child.rejection_reason or "")
            assert archive.task_results(child.id, "word-sorting", "dev") == {}  # never evaluated
        else:
            assert child.status == "admitted"


def test_without_the_review_setting_no_diff_is_reviewed(tmp_path, saver):
    archive, steps, run_id, dgm, _ = make_run(tmp_path, generations=1)
    invoke(dgm, run_id, saver)
    assert steps.reviewed == []
    assert all(
        "review" not in archive.get_candidate(r.id).meta for r in archive.list_candidates(run_id)
    )
