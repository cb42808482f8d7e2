"""Noise-aware admission and selection (admission.py), on hand-computed cases.

The Wilson figures below were worked out by hand with z = 1.6449 (90%) and z = 1.9600
(95%): lower = (p + z²/2n - z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from clade.archive.facade import Archive
from clade.orchestrator.dgm.admission import (
    Tally,
    beats_parent,
    best_of,
    rank_score,
    tally,
    wilson_bounds,
    z_value,
)
from clade.orchestrator.dgm.diagnosis import Proposal
from clade.orchestrator.dgm.protocol import Modification
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.evaluators.generated import WordSorting
from tests.inprocess_runs import archive_in, invoke, start_run, trees_in, word_sorting_config


def test_z_values():
    assert z_value(0.90) == pytest.approx(1.6449, abs=1e-4)
    assert z_value(0.95) == pytest.approx(1.9600, abs=1e-4)


@pytest.mark.parametrize(
    ("total", "n", "confidence", "low", "high"),
    [
        (2, 3, 0.90, 0.2535, 0.9217),  # a child lucky on 2 of 3 tasks
        (30, 60, 0.90, 0.3961, 0.6039),  # a parent that solved half of 60
        (45, 60, 0.90, 0.6486, 0.8298),
        (0, 10, 0.95, 0.0, 0.2775),
        (10, 10, 0.95, 0.7225, 1.0),
        (1.5, 3, 0.90, 0.1557, 0.8443),  # fractional scores count as their sum
    ],
)
def test_wilson_bounds_by_hand(total, n, confidence, low, high):
    assert wilson_bounds(total, n, confidence) == pytest.approx((low, high), abs=2e-4)


def test_no_evaluation_is_the_whole_range():
    assert wilson_bounds(0, 0) == (0.0, 1.0)
    assert rank_score(Tally(), "lower_bound") == 0.0 and rank_score(Tally(), "mean") == 0.0


def test_a_lucky_child_beats_its_parent_on_the_mean_but_not_on_the_bound():
    lucky = tally([(1.0, True), (1.0, True), (0.0, False)])  # 2/3
    parent = Tally(total=30, n=60, passed=30)  # 0.5 over 60 tasks
    assert lucky.mean == pytest.approx(2 / 3)
    assert beats_parent(lucky, parent, "mean")
    assert not beats_parent(lucky, parent, "lower_bound")  # 0.254 < 0.5
    good = Tally(total=45, n=60, passed=45)
    assert beats_parent(good, parent, "lower_bound")  # 0.649 > 0.5
    assert not beats_parent(Tally(total=30, n=60, passed=30), parent, "mean")  # a tie is no gain


def test_best_of_prefers_the_bound_then_more_evaluations_then_the_earliest():
    tallies = {
        "a-lucky": Tally(total=2, n=2, passed=2),  # mean 1.0, bound 0.425
        "b-steady": Tally(total=40, n=60, passed=40),  # mean 0.667, bound 0.561
        "c-same": Tally(total=40, n=60, passed=40),
        "d-few": Tally(total=4, n=6, passed=4),  # same mean, fewer evaluations
    }
    assert best_of(tallies, "mean") == "a-lucky"
    assert best_of(tallies, "lower_bound") == "b-steady"
    assert best_of({k: tallies[k] for k in ("d-few", "c-same")}, "mean") == "c-same"
    with pytest.raises(ValueError):
        best_of({}, "mean")


# -- in the run graph ---------------------------------------------------------------------
TASKS = WordSorting(n=60).tasks("dev")


class LuckySteps:
    """The seed solves its first stage and 7 of the 17 tasks after it (10/20); its child
    solves only 2 of the first 3 tasks, so staged evaluation stops it after 3."""

    def __init__(self, archive: Archive, tmp: Path) -> None:
        self.archive, self.tmp = archive, tmp

    def _tree(self, skills: set[str]) -> str:
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        (folder / "skill.txt").write_text(" ".join(sorted(skills)))
        return self.archive.put_tree(folder)

    def seed_tree(self):
        return self._tree({t.id for t in TASKS[:3]} | {t.id for t in TASKS[3:20:2][:7]})

    def diagnose(self, parent, failures, key=""):
        return Proposal(
            what_failed="x" * 3, improvement="y" * 3, implementation_plan="z" * 3,
            problem_statement="learn the first two tasks",
        )  # fmt: skip

    def self_modify(self, parent, proposal, key):
        return Modification(self._tree({TASKS[0].id, TASKS[1].id}), "edited")

    def evaluate(self, candidate, tasks):
        skills = set(self.archive.blobs.files(candidate.tree_hash)["skill.txt"].decode().split())
        return [(Score(score=float(t.id in skills), passed=t.id in skills), {}) for t in tasks]

    def review(self, parent, diff):
        raise AssertionError("review is off")


@pytest.mark.parametrize(
    ("rule", "admitted"), [("mean", True), ("lower_bound", False)], ids=["mean", "lower_bound"]
)
def test_keep_better_with_the_bound_rejects_a_lucky_child(tmp_path, rule, admitted):
    archive = archive_in(tmp_path)
    config = word_sorting_config(
        [{"tasks": 3, "threshold": 0.9}, {"tasks": 20}],
        n=60, children=1, generations=1, selection={"keep_better": True, "score": rule},
    )  # fmt: skip
    run_id, dgm = start_run(
        archive, config, WordSorting(n=60), LuckySteps(archive, trees_in(tmp_path))
    )
    invoke(dgm, run_id, tmp_path / "cp.db")
    seed, child = archive.list_candidates(run_id)
    assert seed.score == pytest.approx(0.5) and child.score == pytest.approx(2 / 3)
    assert len(archive.task_results(child.id, "word-sorting", "dev")) == 3  # stopped early
    record = archive.get_candidate(child.id)
    if admitted:
        assert record.status == "admitted"
    else:
        assert record.status == "rejected"
        assert record.rejection_reason == (
            "lower bound (90%) 0.254 does not beat its parent's mean 0.500"
        )
