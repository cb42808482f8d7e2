"""Several sampled attempts per dev task (run option ``evaluation.attempts``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from clade.archive.facade import Archive
from clade.orchestrator.dgm.config import RunConfig
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.evaluators.generated import WordSorting
from tests.inprocess_runs import invoke, start_run, trees_in, word_sorting_config

WORDS = WordSorting(n=40)


class Crash(BaseException):
    pass


class CoinSteps:
    """A sampling agent: it solves a task on every other attempt it makes of that task."""

    def __init__(self, archive: Archive, tmp: Path) -> None:
        self.archive, self.tmp = archive, tmp
        self.seen: dict[str, int] = {}
        self.batches: list[int] = []
        self.crash_after: int | None = None

    def seed_tree(self):
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        (folder / "agent.txt").write_text("seed")
        return self.archive.put_tree(folder)

    def evaluate(self, candidate, tasks):
        self.batches.append(len(tasks))
        if self.crash_after is not None and len(self.batches) > self.crash_after:
            raise Crash()
        results = []
        for t in tasks:
            self.seen[t.id] = self.seen.get(t.id, 0) + 1
            passed = self.seen[t.id] % 2 == 0
            results.append(
                (Score(score=float(passed), passed=passed), {"log": f"attempt of {t.id}"})
            )
        return results


def _dgm(archive, tmp_path, attempts):
    config = word_sorting_config(
        [{"tasks": 2}, {"tasks": 3}], generations=0, evaluation={"attempts": attempts}
    )
    steps = CoinSteps(archive, trees_in(tmp_path))
    run_id, dgm = start_run(archive, config, WORDS, steps)
    return run_id, steps, dgm


def _invoke(dgm, run_id, tmp_path, resume=False):
    invoke(dgm, run_id, tmp_path / "cp.db", resume=resume)


@pytest.fixture
def archive(tmp_path):
    return Archive(f"sqlite:///{tmp_path / 'clade.db'}", tmp_path / "blobs")


def test_every_attempt_is_recorded_and_counted(archive, tmp_path):
    run_id, steps, dgm = _dgm(archive, tmp_path, attempts=3)
    _invoke(dgm, run_id, tmp_path)
    rows = archive.attempt_rows(run_id, "word-sorting", "dev")
    tasks = [t.id for t in WORDS.tasks("dev")[:3]]
    assert sorted((r.task_id, r.attempt) for r in rows) == sorted(
        (t, a) for t in tasks for a in range(3)
    )
    assert steps.batches == [6, 3]  # stage 1: 2 tasks x 3; stage 2: the third task x 3
    # Attempt 2 of every task passed (every other one), so 3 of 9: the mean is over all.
    seed = archive.list_candidates(run_id)[0]
    assert seed.score == pytest.approx(3 / 9)
    assert sum(r.passed for r in rows) == 3
    # Diagnosis sees a task as failed when any of its attempts failed.
    failures = dgm.failures(archive.get_candidate(seed.id))
    assert [t.id for t, _, _ in failures] == sorted(tasks)
    assert all(log.startswith("attempt of") for _, _, log in failures)


def test_attempts_already_recorded_are_not_redone_after_a_crash(archive, tmp_path):
    run_id, steps, dgm = _dgm(archive, tmp_path, attempts=2)
    steps.crash_after = 1  # the second stage dies in the middle
    with pytest.raises(Crash):
        _invoke(dgm, run_id, tmp_path)
    steps.crash_after = None
    _invoke(dgm, run_id, tmp_path, resume=True)
    assert steps.batches == [4, 2, 2]  # stage 1 once; stage 2 crashed, then ran once
    assert len(archive.attempt_rows(run_id, "word-sorting", "dev")) == 6


def test_attempts_are_bounded():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        RunConfig.model_validate({"evaluation": {"attempts": 0}})
    with pytest.raises(ValidationError):
        RunConfig.model_validate({"evaluation": {"attempts": 17}})
