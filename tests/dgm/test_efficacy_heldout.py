"""Held-out scoring (heldout.py): the best candidate, test-split scores, the paired interval."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import pytest

from clade.archive.facade import Archive
from clade.archive.tables import CandidateStatus
from clade.orchestrator.dgm.config import RunConfig
from clade.orchestrator.dgm.experience import EXPERIENCE_FILE, Example, Turn
from clade.orchestrator.dgm.heldout import best_candidate, paired_bootstrap, score_on_split
from clade.orchestrator.dgm.ledger import Ledger
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.evaluators.generated import WordSorting

WORDS = WordSorting(n=200)
DEV, TEST = WORDS.tasks("dev"), WORDS.tasks("test")


def test_the_bootstrap_of_a_constant_gain_is_that_gain():
    assert paired_bootstrap([0, 0, 1, 1], [1, 1, 2, 2]) == (1.0, 1.0)
    assert paired_bootstrap([0.0] * 50, [0.0] * 50) == (0.0, 0.0)


def test_the_bootstrap_matches_the_normal_approximation():
    """30 of 100 tasks gained, none lost: mean 0.3, standard error sqrt(.3*.7/100) = 0.0458,
    so the 95% interval is about 0.3 -+ 0.090 (0.210, 0.390)."""
    before, after = [0.0] * 100, [1.0] * 30 + [0.0] * 70
    low, high = paired_bootstrap(before, after)
    assert low == pytest.approx(0.21, abs=0.015) and high == pytest.approx(0.39, abs=0.015)
    assert low == paired_bootstrap(before, after)[0]  # seeded: the same interval every time


def test_pairing_cancels_what_both_candidates_share():
    """Half the tasks both solve, and the second one solves 10 more: a gain of 0.10 with a
    paired standard error of sqrt(.1*.9/100) = 0.030, so about (0.04, 0.16). Unpaired, the
    error would be sqrt((.25 + .24)/100) = 0.070 and the interval would include 0."""
    shared = [float(i % 2) for i in range(100)]
    after = [1.0 if i % 10 == 0 else s for i, s in enumerate(shared)]
    assert sum(after) - sum(shared) == 10
    low, high = paired_bootstrap(shared, after)
    assert low == pytest.approx(0.04, abs=0.015) and high == pytest.approx(0.16, abs=0.015)
    unpaired = (statistics.pvariance(shared) / 100 + statistics.pvariance(after) / 100) ** 0.5
    assert 0.10 - 1.96 * unpaired < 0 < low


def test_the_sign_test_refuses_what_the_bootstrap_alone_would_admit():
    from clade.orchestrator.dgm.heldout import sign_test

    before, after = [0.0] * 20, [1.0] * 3 + [0.0] * 17  # 3 tasks won, none lost, of 20
    low, _ = paired_bootstrap(before, after, confidence=0.9)
    assert low > 0  # the bootstrap's 5% tail misses the chance of so few wins
    assert sign_test(before, after) == 1 / 8  # the sign test does not
    assert sign_test(before, [1.0] * 5 + [0.0] * 15) == 1 / 32  # five won: p < 0.05
    assert sign_test([1.0, 0.0], [0.0, 1.0]) == 0.75  # one won, one lost
    assert sign_test(before, before) == 1.0  # nothing differs


def test_the_bootstrap_needs_pairs():
    with pytest.raises(ValueError):
        paired_bootstrap([], [])
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 0.0])


@pytest.fixture
def archive(tmp_path):
    return Archive(f"sqlite:///{tmp_path / 'clade.db'}", tmp_path / "blobs")


def _candidate(archive, run_id, tmp_path, name, status, files=None):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "name.txt").write_text(name)
    for path, data in (files or {}).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return archive.add_candidate(
        run_id, archive.put_tree(folder), status=status, meta={"key": name}
    )


def _scores(archive, candidate, results, split="dev"):
    archive.add_evaluations(
        {"candidate_id": candidate.id, "evaluator": "word-sorting", "split": split,
         "task_id": t.id, "score": float(ok), "passed": ok}
        for t, ok in results
    )  # fmt: skip


def test_the_best_candidate_follows_the_run_score_rule_on_dev_only(archive, tmp_path):
    run = archive.create_run(name="t", config={})
    seed = _candidate(archive, run.id, tmp_path, "seed", CandidateStatus.ADMITTED)
    lucky = _candidate(archive, run.id, tmp_path, "lucky", CandidateStatus.ADMITTED)
    steady = _candidate(archive, run.id, tmp_path, "steady", CandidateStatus.ADMITTED)
    rejected = _candidate(archive, run.id, tmp_path, "rejected", CandidateStatus.REJECTED)
    example = Example(task=DEV[0].statement, turns=[Turn(assistant="<bash>x</bash>")])
    memoriser = _candidate(
        archive, run.id, tmp_path, "memoriser", CandidateStatus.ADMITTED,
        {EXPERIENCE_FILE: (example.line() + "\n").encode()},
    )  # fmt: skip
    _scores(archive, seed, [(t, i < 10) for i, t in enumerate(DEV[:40])])  # 0.25
    _scores(archive, lucky, [(t, True) for t in DEV[:2]])  # 1.0 on 2 tasks
    _scores(archive, steady, [(t, i < 24) for i, t in enumerate(DEV[:40])])  # 0.6 on 40
    _scores(archive, rejected, [(t, True) for t in DEV[:40]])  # never a best: not admitted
    # 3 of 3, but one is the task it holds the example of: credited 2 of 2, as lucky (which
    # is earlier); credited 3 of 3 it would beat lucky on the number of evaluations.
    _scores(archive, memoriser, [(t, True) for t in DEV[:3]])
    _scores(archive, seed, [(t, True) for t in TEST[:40]], split="test")  # never read
    mean = RunConfig.model_validate({"evaluation": {"evaluator": "word-sorting"}})
    bound = RunConfig.model_validate(
        {"evaluation": {"evaluator": "word-sorting"}, "selection": {"score": "lower_bound"}}
    )
    assert best_candidate(archive, run.id, mean, WORDS) == lucky.id
    assert best_candidate(archive, run.id, bound, WORDS) == steady.id


class RecordingSteps:
    def __init__(self):
        self.asked: list[tuple[str, list[str]]] = []

    def evaluate(self, candidate, tasks):
        self.asked.append((candidate.id, [t.id for t in tasks]))
        return [(Score(score=float(i % 2), passed=bool(i % 2)), {}) for i, _ in enumerate(tasks)]


def test_test_scores_are_recorded_under_the_test_split_and_never_redone(archive, tmp_path):
    run = archive.create_run(name="t", config={})
    seed = _candidate(archive, run.id, tmp_path, "seed", CandidateStatus.ADMITTED)
    steps = RecordingSteps()
    scores = score_on_split(archive, steps, WORDS, seed, TEST[:6])
    assert scores == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert score_on_split(archive, steps, WORDS, seed, TEST[:6]) == scores
    assert steps.asked == [(seed.id, [t.id for t in TEST[:6]])]  # once: the second read back
    assert Ledger(archive, "word-sorting", "dev").rows(run.id) == []  # nothing reached dev
    assert len(Ledger(archive, "word-sorting", "test").rows(run.id)) == 6
