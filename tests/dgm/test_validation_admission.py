"""`selection.admit: validation` in an agent run: in-process steps, a real archive and
checkpointer. Each "agent" is a tree whose skill.txt lists the tasks it solves (``*``:
every task). A child that learns only the failures diagnosis showed it improves the dev
stage and not the validation tasks, and is rejected; one that learns the skill is admitted.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest

from clade.archive.facade import Archive
from clade.orchestrator.dgm.diagnosis import Proposal
from clade.orchestrator.dgm.protocol import Modification
from clade.orchestrator.dgm.validation import validation_tasks
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.evaluators.generated import WordSorting
from clade.orchestrator.judges.review import review_diff
from tests.inprocess_runs import archive_in, invoke, start_run, trees_in, word_sorting_config


class SkillSteps:
    def __init__(self, archive: Archive, folder: Path, learn: str) -> None:
        self.archive, self.folder, self.learn = archive, folder, learn
        self.shown: list[str] = []

    def _skills(self, candidate) -> set[str]:
        return set(self.archive.blobs.files(candidate.tree_hash)["skill.txt"].decode().split())

    def _tree(self, skills: set[str]) -> str:
        folder = Path(tempfile.mkdtemp(dir=self.folder))
        (folder / "skill.txt").write_text(" ".join(sorted(skills)) or "-")
        return self.archive.put_tree(folder)

    def seed_tree(self) -> str:
        return self._tree({"words-0-1", "words-0-2"})

    def diagnose(self, parent, failures, key=""):
        self.shown += [task.id for task, _score, _log in failures]
        ids = " ".join(task.id for task, _score, _log in failures)
        return Proposal(
            what_failed=ids, improvement="sorting", implementation_plan="learn",
            problem_statement="learn to sort the words",
        )  # fmt: skip

    def self_modify(self, parent, proposal, key):
        learned = {"*"} if self.learn == "skill" else set(proposal.what_failed.split())
        return Modification(self._tree(self._skills(parent) | learned), "")

    def evaluate(self, candidate, tasks):
        skills = self._skills(candidate)
        solved = [("*" in skills or t.id in skills) for t in tasks]
        return [
            (Score(score=float(ok), passed=ok), {"log": t.id})
            for t, ok in zip(tasks, solved, strict=False)
        ]

    def review(self, parent, diff):
        return review_diff(None, diff)


def run(tmp_path: Path, learn: str):
    archive = archive_in(tmp_path)
    config = word_sorting_config(
        [{"tasks": 6}], n=60, children=1, generations=1,
        selection={"admit": "validation", "validation_tasks": 12},
    )  # fmt: skip
    steps = SkillSteps(archive, trees_in(tmp_path), learn)
    evaluator = WordSorting(n=60)
    run_id, dgm = start_run(archive, config, evaluator, steps)
    invoke(dgm, run_id, tmp_path / "checkpoints.db")
    return archive, run_id, steps, validation_tasks(evaluator, config)


@pytest.mark.parametrize(("learn", "status"), [("skill", "admitted"), ("failures", "rejected")])
def test_only_a_child_better_on_validation_is_admitted(tmp_path, learn, status):
    archive, run_id, steps, held = run(tmp_path, learn)
    seed, child = archive.list_candidates(run_id)
    assert child.scores["word-sorting/dev"] == 1.0 > seed.scores["word-sorting/dev"]
    assert child.status == status, archive.get_candidate(child.id).rejection_reason
    assert set(steps.shown).isdisjoint(t.id for t in held)  # diagnosis never saw them
    val = [r for r in archive.attempt_rows(run_id, "word-sorting", "val")]
    assert sorted({r.task_id for r in val}) == sorted(t.id for t in held)
    assert len(val) == 24  # the seed's and the child's, once each
    with sqlite3.connect(tmp_path / "clade.db") as db:
        splits = {s for (s,) in db.execute("SELECT DISTINCT split FROM evaluation")}
    assert splits == {"dev", "val"}
